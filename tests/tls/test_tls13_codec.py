"""The TLS 1.3 handshake messages (microticket.tls.codec13, RFC 8446 section 4): round trips through our own
builders and parsers, malformed input giving the alert the RFC names, and real bytes from OpenSSL and
CPython's ssl (ClientHellos captured on a loopback listener; ServerHello, HelloRetryRequest and a
downgrade sentinel from ``openssl s_server``). The parsers also run under MicroPython on the same bytes."""

import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from microticket.errors import TlsAlert
from microticket.pk import x25519, p256
from microticket.tls import codec13 as K, codec13_server as KSRV, hs13 as H
from microticket.tls.server import parse_client_hello

import tlspeers
from procs import stop as stop_proc  # tools/ (on sys.path through tlspeers)

SID = bytes(range(32))
GCM = 0x1301
X25519 = 29
P256 = 23


def alert(fn, *a):
    with pytest.raises(TlsAlert) as e:
        fn(*a)
    return e.value.description


def hello(ext, sid=SID, suites=(GCM,)):
    return tlspeers.client_hello13(b"\x07" * 32, sid, list(suites), ext)


def server_side(m):
    """What the server reads of the ClientHello message ``m``: parse_client_hello, then the 1.3 part."""
    body = memoryview(m)[4:]
    return KSRV.client_hello13_exts(body, parse_client_hello(body)[5])


def p256_share():
    return p256.keypair(os.urandom)[1]


# --- ClientHello, both halves ----------------------------------------------------------------------------

def test_client_hello_round_trip_two_shares_and_a_psk_with_its_binder():
    pub = x25519.x25519_base(os.urandom(32))
    sec = bytes([4]) + os.urandom(64)
    age, add = 5000, 0xFFFFF000
    ext = K.hello_exts13([X25519, P256], [(X25519, pub), (P256, sec)], b"\x01\x00",
                         psk=(b"the-ticket", age, add))
    assert ext[-1][0] == 41  # pre_shared_key last
    m = hello(ext)
    n = K.truncated_len(m)
    assert n == len(m) - 35 and bytes(m[n:n + 3]) == b"\x00\x21\x20" and bytes(m[n + 3:]) == bytes(32)
    K.put_binder(m, b"\xbb" * 32)
    assert bytes(m[-32:]) == b"\xbb" * 32 and K.truncated_len(m) == n
    assert m[38] == 32 and bytes(m[39:71]) == SID  # appendix D.4: a 32-byte legacy_session_id
    shares, groups, modes, psk, cookie, early = server_side(m)
    assert shares == [(X25519, pub), (P256, sec)] and groups == [X25519, P256] and modes == b"\x01\x00"
    ids, binders, trunc = psk
    assert ids == [(b"the-ticket", (age + add) & 0xFFFFFFFF)] and binders == [b"\xbb" * 32]
    assert 4 + trunc == n  # both halves truncate at the same byte
    assert cookie is None and early is False


def test_client_hello_cookie_echo_and_one_share():
    m = hello(K.hello_exts13([X25519, P256], [(P256, bytes([4]) + bytes(64))], cookie=b"c00kie"))
    shares, groups, modes, psk, cookie, early = server_side(m)
    assert [g for g, _ in shares] == [P256] and cookie == b"c00kie" and psk is None and modes == b"\x01\x00"


def test_our_client_hello_has_a_32_byte_session_id_and_the_psk_last():
    """What the removed standalone builder refused, now a property of the one ClientHello our client
    builds (engine.client_hello with client13's extensions): a 32-byte legacy_session_id (appendix D.4)
    and pre_shared_key the last extension (section 4.2.11), even with TLS 1.2's extensions beside it."""
    from microticket.tls.client import Client
    from microticket.tls.cache import TicketCache, entry
    cache = TicketCache()
    cache.put("s", entry(b"T" * 40, b"k" * 32, GCM, False, 100, 3600))
    c = Client("s", pin_sha256=bytes(32), cache=cache)
    c.start(101)
    m = c.data_to_send()[5:]
    assert m[38] == 32 and c._sent[-1] == 41
    assert K.truncated_len(bytearray(m)) == len(m) - 35  # one 32-byte binder, at the very end


def test_a_tls12_client_hello_is_not_13():
    m = hello([(10, b"\x00\x02\x00\x1d"), (13, b"\x00\x02\x04\x03")])
    assert server_side(m) is None
    m = hello([(43, b"\x02\x03\x03")])  # supported_versions without 1.3
    assert server_side(m) is None


BASE = [(43, b"\x02\x03\x04"), (10, b"\x00\x04\x00\x1d\x00\x17"), (13, b"\x00\x02\x04\x03")]


def ks(*entries):
    body = b"".join(bytes((g >> 8, g & 0xFF, len(k) >> 8, len(k) & 0xFF)) + k for g, k in entries)
    return (51, bytes((len(body) >> 8, len(body) & 0xFF)) + body)


@pytest.mark.parametrize("ext,code", [
    # section 4.2.8: unique shares, in supported_groups, in its order; sizes of the groups we know
    (BASE + [ks((X25519, bytes(32)), (X25519, bytes(32)))], 47),
    (BASE + [ks((P256, b"\x04" + bytes(64)), (X25519, bytes(32)))], 47),
    (BASE + [ks((30, bytes(56)))], 47),
    (BASE + [ks((X25519, bytes(31)))], 47),
    (BASE + [ks((P256, b"\x02" + bytes(32)))], 47),
    (BASE + [(51, b"\x00\x05\x00\x1d\x00\x20\x00")], 50),  # share overruns its list
    (BASE + [(51, b"\x00\x04\x00\x1d\x00\x00")], 50),  # empty key_exchange
    # section 9.2: missing_extension
    (BASE[:1] + BASE[2:] + [ks((X25519, bytes(32)))], 109),  # key_share without supported_groups
    (BASE, 109),  # supported_groups without key_share
    (BASE[:2] + [ks((X25519, bytes(32)))], 109),  # no PSK and no signature_algorithms
    ([(43, b"\x03\x03\x04")], 50),  # odd versions list
    ([(43, b"\x02\x03\x04"), (45, b"")], 50),
    ([(43, b"\x02\x03\x04"), (45, b"\x02\x01")], 50),
    (BASE + [ks((X25519, bytes(32))), (42, b"\x00")], 50),
    (BASE + [ks((X25519, bytes(32))), (44, b"\x00\x05abc")], 50),
])
def test_client_hello_13_rules(ext, code):
    assert alert(server_side, hello(ext)) == code


def psk_data(ids, binders):
    i = b"".join(bytes((len(t) >> 8, len(t) & 0xFF)) + t + b"\x00\x00\x00\x01" for t in ids)
    bb = b"".join(bytes((len(x),)) + x for x in binders)
    return bytes((len(i) >> 8, len(i) & 0xFF)) + i + bytes((len(bb) >> 8, len(bb) & 0xFF)) + bb


PSK_BASE = [(43, b"\x02\x03\x04"), (45, b"\x01\x00")]


@pytest.mark.parametrize("ext,code", [
    (PSK_BASE + [(41, psk_data([b"t"], [bytes(32)])), (0, b"")], 47),  # section 4.2.11: not last
    (PSK_BASE + [(41, psk_data([b"t", b"u"], [bytes(32)]))], 47),  # binders != identities
    (PSK_BASE + [(41, psk_data([b"t"], [bytes(31)]))], 50),  # a binder shorter than 32
    (PSK_BASE + [(41, psk_data([b""], [bytes(32)]))], 50),  # an empty identity
    (PSK_BASE + [(41, psk_data([b"t"], [bytes(32)])[:-1])], 50),  # binders list overruns
    (PSK_BASE + [(41, b"\x00\x00" + psk_data([], [bytes(32)])[2:])], 50),  # no identity
    ([(43, b"\x02\x03\x04"), (41, psk_data([b"t"], [bytes(32)]))], 109),  # no psk_key_exchange_modes
])
def test_pre_shared_key_rules(ext, code):
    assert alert(server_side, raw_hello(ext)) == code


def raw_hello(ext):
    """A ClientHello with the extensions ``ext`` as given, in that order (our client always puts
    pre_shared_key last: this one need not)."""
    e = b"".join(bytes((t >> 8, t & 0xFF, len(d) >> 8, len(d) & 0xFF)) + d for t, d in ext)
    body = b"\x03\x03" + bytes(32) + b"\x20" + SID + b"\x00\x02\x13\x01\x01\x00" + len(e).to_bytes(2, "big") + e
    return bytearray(b"\x01" + len(body).to_bytes(3, "big") + body)


def test_psk_only_hello_needs_no_groups_and_truncates_at_the_binders():
    m = hello(PSK_BASE + [(41, psk_data([b"id-1", b"id-2"], [b"\x01" * 32, b"\x02" * 48]))])
    shares, groups, modes, psk, cookie, early = server_side(m)
    assert shares == [] and modes == b"\x00"
    ids, binders, trunc = psk
    assert [i for i, _ in ids] == [b"id-1", b"id-2"] and binders == [b"\x01" * 32, b"\x02" * 48]
    assert len(m) - 4 - trunc == 2 + 33 + 49


# --- ServerHello / HelloRetryRequest ---------------------------------------------------------------------

def sh_body(m):
    return memoryview(m)[4:]


def parse_sh(m, sid=SID, suites=(GCM,), groups=(X25519, P256), shared=(X25519,), ids=0):
    return K.parse_server_hello13(sh_body(m), sid, list(suites), list(groups), list(shared), ids)


def test_server_hello_round_trips():
    r = os.urandom(32)
    m = KSRV.server_hello13(r, SID, GCM, X25519, b"\x09" * 32, 0)
    assert bytes(m[6:38]) == r
    assert parse_sh(m, ids=1) == (False, GCM, X25519, b"\x09" * 32, 0, None)
    m = KSRV.server_hello13(r, SID, GCM, 0, None, 0)  # psk_ke: no key_share
    assert parse_sh(m, ids=1) == (False, GCM, 0, None, 0, None)
    m = KSRV.server_hello13(None, SID, GCM, P256, None, cookie=b"ck")
    assert parse_sh(m) == (True, GCM, P256, None, -1, b"ck")
    m = KSRV.server_hello13(None, SID, GCM, 0, None, cookie=b"ck")
    assert parse_sh(m) == (True, GCM, 0, None, -1, b"ck")


def test_a_tls12_server_hello_goes_to_the_12_parser_and_the_sentinel_check():
    from microticket.tls.server import server_hello
    r = os.urandom(24) + b"DOWNGRD\x01"
    m = server_hello(r, b"", 0xC02B, [(0xFF01, b"\x00")])
    assert parse_sh(m) is None
    assert alert(K.check_downgrade, sh_body(m)) == 47
    m = server_hello(r[:31] + b"\x00", b"", 0xC02B, [])
    assert alert(K.check_downgrade, sh_body(m)) == 47
    K.check_downgrade(sh_body(server_hello(os.urandom(24) + b"DOWNGRD\x02", b"", 0xC02B, [])))
    K.check_downgrade(sh_body(server_hello(os.urandom(32), b"", 0xC02B, [])))


def sh_raw(ext, random=b"\x05" * 32, sid=SID, suite=GCM, version=0x0303, comp=0):
    from microticket.tls.server import server_hello
    m = server_hello(random, sid, suite, ext)
    m[4] = version >> 8
    m[5] = version & 0xFF
    m[39 + len(sid) + 2] = comp
    return m


HRR = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
SV = (43, b"\x03\x04")
KS = (51, b"\x00\x1d\x00\x20" + bytes(32))


@pytest.mark.parametrize("m,code", [
    (sh_raw([(43, b"\x03\x03"), KS]), 47),  # supported_versions not 1.3
    (sh_raw([SV, KS], version=0x0304), 47),  # legacy_version
    (sh_raw([SV, KS], sid=b"\x01" * 32), 47),  # legacy_session_id_echo
    (sh_raw([SV, KS], suite=0x1302), 47),  # a suite not offered
    (sh_raw([SV, KS], comp=1), 47),
    (sh_raw([SV, (51, b"\x00\x17\x00\x41\x04" + bytes(64))]), 47),  # a group without our share
    (sh_raw([SV, KS, (41, b"\x00\x00")]), 47),  # no PSK offered
    (sh_raw([SV, KS, (0, b"")]), 47),  # server_name belongs in EncryptedExtensions
    (sh_raw([SV, KS, (0x3374, b"")]), 110),  # never requested
    (sh_raw([SV]), 109),  # neither key_share nor pre_shared_key
    (sh_raw([SV, KS, KS]), 50),
    (sh_raw([SV, (51, b"\x00\x1d\x00\x21" + bytes(32))]), 50),
    (sh_raw([(43, b"\x03\x04\x00")]), 50),
    (sh_raw([SV, (51, b"\x00\x1d")], random=HRR), 47),  # HRR for a group that had a share
    (sh_raw([SV, (51, b"\x00\x1e")], random=HRR), 47),  # HRR for a group never offered
    (sh_raw([SV], random=HRR), 47),  # a retry that changes nothing
    (sh_raw([SV, (51, b"\x00\x17"), (41, b"\x00\x00")], random=HRR), 47),
    (sh_raw([SV, (51, b"\x00\x17"), (44, b"\x00\x05ab")], random=HRR), 50),
])
def test_server_hello_rules(m, code):
    assert alert(parse_sh, m) == code


def test_server_hello_framing():
    m = sh_raw([SV, KS])
    b = bytes(sh_body(m))
    for cut in (10, 36, len(b) - 1):
        with pytest.raises(TlsAlert) as e:
            K.parse_server_hello13(b[:cut], SID, [GCM], [X25519], [X25519], 0)
        assert e.value.description == 50


# --- EncryptedExtensions, Certificate, CertificateVerify, NewSessionTicket, KeyUpdate ---------------------

SENT = (0, 1, 10, 13, 16, 42, 43, 45, 51)


def ee_body(ext):
    return memoryview(KSRV.encrypted_extensions(ext))[4:]


def test_encrypted_extensions_round_trip():
    m = ee_body([(0, b""), (10, b"\x00\x02\x00\x1d"), (16, b"\x00\x03\x02h2"), (1, b"\x02"), (42, b"")])
    sni, alpn, mfl, early = K.parse_encrypted_extensions(m, SENT)
    assert (sni, bytes(alpn), mfl, early) == (True, b"\x00\x03\x02h2", 2, True)  # (ALPN: tls.alpn.parse's)
    assert K.parse_encrypted_extensions(ee_body([]), SENT) == (False, None, 0, False)


@pytest.mark.parametrize("ext,code", [
    ([(35, b"")], 110),  # session_ticket: not sent in 1.3
    ([(51, b"\x00\x1d")], 47),  # sent, but belongs elsewhere
    ([(43, b"\x03\x04")], 47),
    ([(0, b"\x00")], 50),
    ([(42, b"\x00\x00\x00\x00")], 50),
    ([(1, b"\x05")], 47),
    ([(10, b"\x00\x03\x00\x1d\x00")], 50),
    ([(0, b""), (0, b"")], 50),
])
def test_encrypted_extensions_rules(ext, code):
    assert alert(K.parse_encrypted_extensions, ee_body(ext), SENT) == code


def test_encrypted_extensions_framing():
    assert alert(K.parse_encrypted_extensions, b"\x00\x05\x00\x00\x00", SENT) == 50
    assert alert(K.parse_encrypted_extensions, b"\x00\x03\x00\x00\x00", SENT) == 50


def test_certificate_becomes_the_tls12_body_in_place():
    chain = [os.urandom(300), os.urandom(1), os.urandom(70000)]
    m = KSRV.certificate13(chain)
    body = memoryview(m)[4:]
    v = K.parse_certificate13(body)
    exp = b"".join(len(c).to_bytes(3, "big") + c for c in chain)
    assert bytes(v) == len(exp).to_bytes(3, "big") + exp
    assert v.obj is m  # no copy: a view of the message's own buffer


def test_certificate_with_a_real_chain_validates(tmp_path):
    """A CA and its P-256 leaf (openssl): the Certificate 1.3 body, rewritten where it lies, is what
    microticket.pk.x509.validate reads."""
    from microticket.pk import x509
    d = str(tmp_path)

    def run(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True, timeout=30, cwd=d)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=Test CA",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "leaf.key", "-out", "leaf.csr")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "ext.cnf", "-outform", "DER", "-out", "leaf.der")
    der = open(os.path.join(d, "leaf.der"), "rb").read()
    m = KSRV.certificate13([der])
    v = K.parse_certificate13(memoryview(m)[4:])
    key = x509.validate(v, os.path.join(d, "ca.pem"), b"localhost", int(time.time()))
    assert len(key) == 65


@pytest.mark.parametrize("body,code", [
    (b"\x00\x00\x00\x00", 50),  # empty list (section 4.4.2.4)
    (b"\x01\x00\x00\x00\x00\x00", 47),  # a request context from a server
    (b"\x00\x00\x00\x08\x00\x00\x02ab\x00\x00", 50),  # list length
    (b"\x00\x00\x00\x06\x00\x00\x02ab\x00\x00", 50),
    (b"\x00\x00\x00\x06\x00\x00\x03ab\x00", 50),  # entry overruns
    (b"\x00\x00\x00\x07\x00\x00\x02ab\x00\x01", 50),  # extensions overrun
    (b"\x00\x00\x00\x0b\x00\x00\x02ab\x00\x04\x00\x05\x00\x00", 110),  # status_request never asked
    (b"\x00\x00\x00\x05\x00\x00\x00\x00\x00", 50),  # empty cert_data
])
def test_certificate_rules(body, code):
    assert alert(K.parse_certificate13, bytearray(body)) == code


def test_certificate_verify_and_signed_content():
    m = KSRV.certificate_verify(0x0804, b"\x11" * 256)
    assert K.parse_certificate_verify(memoryview(m)[4:]) == (0x0804, b"\x11" * 256)
    assert alert(K.parse_certificate_verify, memoryview(KSRV.certificate_verify(0x0401, b"x"))[4:]) == 47
    assert alert(K.parse_certificate_verify, b"\x04\x03\x00\x05abcd") == 50
    assert alert(K.parse_certificate_verify, b"\x04\x03\x00\x00") == 50
    th = bytes(range(32))
    c = H.signed_content(th)
    assert c == b" " * 64 + b"TLS 1.3, server CertificateVerify" + b"\x00" + th and len(c) == 130
    assert H.signed_content(th, True)[64:97] == b"TLS 1.3, client CertificateVerify"


def test_new_session_ticket_round_trip_and_rules():
    m = KSRV.new_session_ticket13(604800, 0xDEADBEEF, b"\x00\x01", b"T" * 100, 16384)
    assert K.parse_new_session_ticket13(memoryview(m)[4:]) == (604800, 0xDEADBEEF, b"\x00\x01", b"T" * 100,
                                                                16384)
    m = KSRV.new_session_ticket13(7200, 1, b"", b"t")
    assert K.parse_new_session_ticket13(memoryview(m)[4:]) == (7200, 1, b"", b"t", 0)
    with pytest.raises(ValueError):
        KSRV.new_session_ticket13(604801, 0, b"", b"t")
    b = bytearray(memoryview(KSRV.new_session_ticket13(60, 0, b"n", b"tk"))[4:])
    b[0:4] = (604801).to_bytes(4, "big")
    assert alert(K.parse_new_session_ticket13, b) == 47  # lifetime over 7 days
    # unknown extensions are ignored; a second early_data or a bad size is not
    base = b"\x00\x00\x00\x3c\x00\x00\x00\x00\x01n\x00\x02tk"
    assert K.parse_new_session_ticket13(base + b"\x00\x04\xfa\xfa\x00\x00")[4] == 0
    assert alert(K.parse_new_session_ticket13, base + b"\x00\x06\x00\x2a\x00\x02\x00\x00") == 50
    assert alert(K.parse_new_session_ticket13, base + b"\x00\x08" + b"\x00\x2a\x00\x00" * 2) == 50
    assert alert(K.parse_new_session_ticket13, base + b"\x00\x01\x00") == 50
    assert alert(K.parse_new_session_ticket13, base[:-4] + b"\x00\x00\x00\x00") == 50  # empty ticket
    assert alert(K.parse_new_session_ticket13, base) == 50  # no extensions field


def test_key_update():
    assert bytes(H.key_update_message(True)) == b"\x18\x00\x00\x01\x01"
    assert H.parse_key_update(b"\x01") is True and H.parse_key_update(b"\x00") is False
    assert alert(H.parse_key_update, b"\x02") == 47
    assert alert(H.parse_key_update, b"\x00\x00") == 50


# --- real peers ------------------------------------------------------------------------------------------

def read_handshake_message(sock, deadline):
    """The first handshake message of the records on ``sock`` (reassembled across records)."""
    buf = b""
    hs = b""
    sock.settimeout(max(0.1, deadline - time.time()))
    while True:
        while len(buf) >= 5 and len(buf) >= 5 + int.from_bytes(buf[3:5], "big"):
            n = 5 + int.from_bytes(buf[3:5], "big")
            if buf[0] == 22:
                hs += buf[5:n]
            buf = buf[n:]
            if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
                return hs[:4 + int.from_bytes(hs[1:4], "big")]
        if time.time() > deadline:
            raise TimeoutError("no handshake message")
        d = sock.recv(4096)
        if not d:
            raise EOFError("closed before a whole message")
        buf += d


def capture_client_hello(start_client):
    """Listen on a loopback port, start the client (``start_client(port)`` -> a stop function), and return
    the first handshake message it sends (bounded: 20 s)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(20)
    stop = start_client(ls.getsockname()[1])
    try:
        conn, _ = ls.accept()
        try:
            return read_handshake_message(conn, time.time() + 20)
        finally:
            conn.close()
    finally:
        ls.close()
        stop()


def openssl_client(extra=()):
    def start(port):
        p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3",
                              "-servername", "example.test"] + list(extra),
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)

        def stop():
            stop_proc(p, 5.0)
        return stop
    return start


def cpython_client(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def run():
        try:
            with socket.create_connection(("127.0.0.1", port), 10) as s:
                with ctx.wrap_socket(s, server_hostname="example.test"):
                    pass
        except (OSError, ssl.SSLError):
            pass
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return lambda: t.join(10)


CAPTURED = {}


def captured(name):
    if name not in CAPTURED:
        if name == "openssl":
            if not tlspeers.have("openssl"):
                pytest.skip("openssl missing")
            CAPTURED[name] = capture_client_hello(openssl_client())
        elif name == "openssl-psk":
            CAPTURED[name] = openssl_resumption_hello()
        else:
            CAPTURED[name] = capture_client_hello(cpython_client)
    return CAPTURED[name]


@pytest.mark.parametrize("who", ["openssl", "cpython"])
def test_real_client_hellos_parse(who):
    m = captured(who)
    assert m[0] == 1
    shares, groups, modes, psk, cookie, early = server_side(bytearray(m))
    assert X25519 in groups and shares and shares[0][0] == X25519 and len(shares[0][1]) == 32
    assert modes == b"\x01"  # OpenSSL (both) offers psk_dhe_ke only
    assert psk is None and cookie is None
    assert m[38] == 32  # middlebox compatibility: a 32-byte session ID


@pytest.fixture(scope="module")
def ecdsa_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("ec")
    cert, key = str(d / "c.pem"), str(d / "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", cert, "-days", "2"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def openssl_server(cert, key, extra):
    return tlspeers.Peer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key,
                          "-no_cache"] + list(extra), stdin=True)


def exchange(port, m):
    """Send the ClientHello ``m`` and read the server's first handshake message back."""
    with socket.create_connection(("127.0.0.1", port), 10) as s:
        s.sendall(b"\x16\x03\x01" + len(m).to_bytes(2, "big") + bytes(m))
        return read_handshake_message(s, time.time() + 10)


def openssl_resumption_hello():
    """A real resuming ClientHello: openssl s_client takes a ticket from openssl s_server, then offers it
    to our listener (pre_shared_key with its binder)."""
    if not tlspeers.have("openssl"):
        pytest.skip("openssl missing")
    import tempfile
    d = tempfile.mkdtemp(prefix="mt-c13-")
    cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", cert, "-days", "2"],
                   check=True, capture_output=True, timeout=30)
    sess = os.path.join(d, "sess.pem")
    srv = openssl_server(cert, key, ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"])
    try:
        p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-tls1_3",
                              "-sess_out", sess], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            end = time.time() + 15
            while time.time() < end and not (os.path.exists(sess) and os.path.getsize(sess)):
                time.sleep(0.1)
            time.sleep(0.3)
        finally:
            p.stdin.close()
            stop_proc(p, 5.0)
    finally:
        srv.stop()
    assert os.path.getsize(sess), "openssl s_client wrote no session"
    return capture_client_hello(openssl_client(["-sess_in", sess]))


def test_real_resuming_client_hello_parses_with_its_binder():
    m = bytearray(captured("openssl-psk"))
    shares, groups, modes, psk, cookie, early = server_side(m)
    ids, binders, trunc = psk
    assert len(ids) == 1 and len(ids[0][0]) > 32 and len(binders) == 1 and len(binders[0]) == 32
    # the binders list is the message's end: 2-byte length | 1-byte length | 32-byte binder
    assert len(m) - (4 + trunc) == 35 and K.truncated_len(m) == 4 + trunc
    assert bytes(m[-32:]) == bytes(binders[0])


@pytest.fixture(scope="module")
def from_openssl(ecdsa_cert):
    """Real first flights of ``openssl s_server``: "hrr" (our ClientHello had only a secp256r1 share, the
    server takes X25519 only), "sh" (an X25519 share), "sh12" (a TLS 1.2-only ClientHello to a server that
    does 1.3)."""
    if not tlspeers.have("openssl"):
        pytest.skip("openssl missing")
    cert, key = ecdsa_cert
    got = {}
    srv = openssl_server(cert, key, ["-tls1_3", "-groups", "X25519"])
    try:
        ext = K.hello_exts13([X25519, P256], [(P256, p256_share())])
        got["hrr"] = exchange(srv.port, hello(ext, suites=(GCM, 0x1303)))
        pub = x25519.x25519_base(os.urandom(32))
        got["sh"] = exchange(srv.port, hello(K.hello_exts13([X25519, P256], [(X25519, pub)])))
    finally:
        srv.stop()
    srv = openssl_server(cert, key, [])
    try:
        ext = [(10, b"\x00\x02\x00\x17"), (11, b"\x01\x00"), (13, b"\x00\x02\x04\x03"), (0xFF01, b"\x00")]
        got["sh12"] = exchange(srv.port, hello(ext, sid=os.urandom(32), suites=(0xC02B,)))
    finally:
        srv.stop()
    return got


def test_openssl_sends_a_hello_retry_request_then_a_server_hello(from_openssl):
    # only a secp256r1 share: the server wants X25519 and asks again (section 4.1.4)
    hrr, suite, group, share, sel, cookie = parse_sh(from_openssl["hrr"], suites=(GCM, 0x1303), shared=(P256,))
    assert hrr and suite in (GCM, 0x1303) and group == X25519 and share is None and sel == -1
    # the same HelloRetryRequest is illegal_parameter after a ClientHello that had an X25519 share
    assert alert(parse_sh, from_openssl["hrr"], SID, (GCM, 0x1303), (X25519, P256), (P256, X25519)) == 47
    # an x25519 share: a ServerHello with the server's share
    hrr, suite, group, share, sel, cookie = parse_sh(from_openssl["sh"])
    assert not hrr and suite == GCM and group == X25519 and len(share) == 32 and sel == -1


def test_openssl_negotiating_12_with_a_13_capable_server_sets_the_sentinel(from_openssl):
    m = from_openssl["sh12"]
    assert m[0] == 2 and parse_sh(m, suites=(0xC02B,)) is None
    assert bytes(m[4 + 26:4 + 34]) == b"DOWNGRD\x01"
    assert alert(K.check_downgrade, sh_body(m)) == 47


# --- the parsers under MicroPython, on the same bytes ------------------------------------------------------

MP_SCRIPT = """
import sys
from microticket.tls import codec13 as K, codec13_server as KSRV, hs13 as H
from microticket.tls.server import parse_client_hello
from microticket import errors


def h(x):
    return ''.join('%02x' % c for c in x)


def show(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return h(v)
    if isinstance(v, (list, tuple)):
        return '[' + ','.join(show(x) for x in v) + ']'
    return str(v)


def run(kind, hx, *a):
    b = bytearray(bytes.fromhex(hx))
    try:
        if kind == 'ch':
            body = memoryview(b)[4:]
            return show(KSRV.client_hello13_exts(body, parse_client_hello(body)[5]))
        if kind == 'sh':
            return show(K.parse_server_hello13(memoryview(b)[4:], bytes.fromhex(a[0]), [0x1301, 0x1303],
                                               [29, 23], [int(x) for x in a[1].split()], int(a[2])))
        if kind == 'dg':
            K.check_downgrade(memoryview(b)[4:])
            return 'ok'
        if kind == 'ee':
            return show(K.parse_encrypted_extensions(memoryview(b)[4:], (0, 1, 10, 13, 16, 42, 43, 45, 51)))
        if kind == 'cert':
            return show(K.parse_certificate13(memoryview(b)[4:]))
        if kind == 'cv':
            return show(K.parse_certificate_verify(memoryview(b)[4:]))
        if kind == 'nst':
            return show(K.parse_new_session_ticket13(memoryview(b)[4:]))
        if kind == 'ku':
            return show(H.parse_key_update(memoryview(b)[4:]))
        if kind == 'tl':
            m = bytearray(b)
            n = K.truncated_len(m)
            K.put_binder(m, bytes(32))
            return show((n, m))
    except errors.TlsAlert as e:
        return 'alert %d' % e.description
    except errors.DecodeError:
        return 'decode'


for line in sys.stdin.read().split(chr(10)) if hasattr(sys.stdin, 'read') else ():
    if line:
        print(run(*line.split('|')))
"""


def test_the_parsers_agree_under_micropython(mp, from_openssl):
    cases = []
    for who in ("openssl", "cpython"):
        cases.append(("ch", captured(who).hex()))
    cases.append(("ch", captured("openssl-psk").hex()))
    pub = x25519.x25519_base(bytes(range(32)))
    ch = hello(K.hello_exts13([X25519, P256], [(X25519, pub)], psk=(b"tk" * 40, 10, 20)))
    cases.append(("ch", ch.hex()))
    cases.append(("tl", ch.hex()))
    cases.append(("ch", hello(BASE + [ks((X25519, bytes(32)), (X25519, bytes(32)))]).hex()))
    cases.append(("ch", raw_hello(PSK_BASE + [(41, psk_data([b"t"], [bytes(32)])), (0, b"")]).hex()))
    cases.append(("ch", hello(BASE).hex()))
    sh = KSRV.server_hello13(b"\x01" * 32, SID, GCM, X25519, b"\x02" * 32, 0)
    cases.append(("sh", sh.hex(), SID.hex(), "29", "1"))
    cases.append(("sh", sh.hex(), SID.hex(), "23", "1"))
    cases.append(("sh", KSRV.server_hello13(None, SID, GCM, P256, None).hex(), SID.hex(), "29", "0"))
    for name, shared in (("hrr", "23"), ("sh", "29"), ("hrr", "29")):
        m = from_openssl[name]
        cases.append(("sh", m.hex(), m[39:71].hex(), shared, "0"))
    cases.append(("dg", from_openssl["sh12"].hex()))
    cases.append(("ee", KSRV.encrypted_extensions([(0, b""), (16, b"\x00\x03\x02h2"), (42, b"")]).hex()))
    cases.append(("ee", KSRV.encrypted_extensions([(35, b"")]).hex()))
    cases.append(("cert", KSRV.certificate13([b"\x30" * 40, b"\x31" * 3]).hex()))
    cases.append(("cert", "0b00000401000000"))
    cases.append(("cert", "0b0000090000000600000261620000"))
    cases.append(("cv", KSRV.certificate_verify(0x0403, b"\x30" * 70).hex()))
    cases.append(("cv", KSRV.certificate_verify(0x0401, b"\x30" * 70).hex()))
    cases.append(("nst", KSRV.new_session_ticket13(3600, 0x80000001, b"\x05", b"T" * 20, 1024).hex()))
    nst = bytearray(KSRV.new_session_ticket13(3600, 1, b"", b"T"))
    nst[4:8] = (604801).to_bytes(4, "big")
    cases.append(("nst", nst.hex()))
    cases.append(("ku", H.key_update_message(True).hex()))
    cases.append(("ku", "1800000102"))
    lines = "\n".join("|".join(c) for c in cases) + "\n"
    # the same script on CPython (through the shim) gives the expected lines
    import io
    import sys
    old = sys.stdin, sys.stdout
    sys.stdin, sys.stdout = io.StringIO(lines), io.StringIO()
    try:
        exec(compile(MP_SCRIPT, "mp_script", "exec"), {"__name__": "mp"})
        want = sys.stdout.getvalue()
    finally:
        sys.stdin, sys.stdout = old
    assert "alert 47" in want and "alert 109" in want and "alert 110" in want and "alert 50" in want
    fd, fn = __import__("tempfile").mkstemp(suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write(lines)
    try:
        script = MP_SCRIPT.replace("sys.stdin.read()", "open(%r).read()" % fn)
        proc = mp.run_mp(script, check=True)
    finally:
        os.unlink(fn)
    assert proc.stdout.splitlines() == want.splitlines()
