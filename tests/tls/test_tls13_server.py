"""The TLS 1.3 server (microticket.tls.server13): in process with hand-built ClientHellos (tickets of the
wrong version, binders, ticket ages, HelloRetryRequest rules, the downgrade sentinel, the ticket state),
and against real peers on loopback: `openssl s_client -tls1_3` (full, resumed, HelloRetryRequest, external
PSK, KeyUpdate), `gnutls-cli` (--resume; psk_ke with an external PSK), CPython's ssl (session=), on
CPython and under MicroPython."""

import re
import socket
import ssl
import subprocess
import time

import pytest

import tlspeers as P
from microticket import crypto
from microticket.ticket import KeyRing
from microticket.tls import codec13, ecdhe, keys13
from microticket.tls.server import ServerConfig, TlsServer
from microticket.tls.state import StatePlaintext, AUTH_PSK

RUNTIMES = P.runtimes()
NOW = 1_700_000_000
X25519 = 29
SECP256R1 = 23


@pytest.fixture(scope="module")
def ec_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("ec")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"], check=True,
                   capture_output=True)
    return cert, key


def _server(ec_cert, ring, **kw):
    from microticket.pk import pem, keys
    chain = pem.read_pem_certs(open(ec_cert[0]).read())
    key = keys.load_private_key(open(ec_cert[1], "rb").read())
    s = TlsServer(ServerConfig(ring, cert_chain=chain, key=key, psk={P.PSK_IDENTITY: P.PSK}, **kw))
    s.trace = []
    return s


def _hello(rng, groups=(X25519,), share=True, psk=None, binder_psk=None, binder_label=b"res binder",
           suites=(0x1301,), modes=b"\x01", sni=None):
    """A TLS 1.3 ClientHello: ``psk`` = (identity, obfuscated age, 0) with a binder from ``binder_psk``."""
    shares = []
    priv = None
    if share:
        priv, pub = ecdhe.keypair(groups[0], rng)
        shares = [(groups[0], pub)]
    ext = codec13.hello_exts13(list(groups), shares, modes=modes, psk=psk)
    if sni is not None:
        ext.insert(0, (0, bytes((0, len(sni) + 3, 0, 0, len(sni))) + sni))
    m = P.client_hello13(rng(32), rng(32), list(suites), ext)
    if psk is not None:
        n = codec13.truncated_len(m)
        bk = keys13.label(keys13.stage(None, binder_psk), b"\x00\x20\x10tls13 " + binder_label, None)
        codec13.put_binder(m, keys13.finished(bk, crypto.hash_new("sha256", bytes(m[:n])).digest()))
    rec = bytes((22, 3, 1, len(m) >> 8, len(m) & 0xFF)) + bytes(m)
    return rec, priv


def _server_hello(out):
    """The ServerHello body at the start of the server's output."""
    assert out[0] == 22, out[:8]
    n = (out[3] << 8) | out[4]
    return out[5 + 4:5 + n]


def _ticket13(ring, psk=b"k" * 32, issued=NOW, age_add=1234, version=0x0304, **kw):
    if version == 0x0304:
        st = StatePlaintext(0x0304, 0x1301, psk, timestamp=issued, created=issued, age_add=age_add, **kw)
    else:
        st = StatePlaintext(0x0303, 0xC02B, b"m" * 48, timestamp=issued, created=issued)
    return ring.seal(st.encode(), issued, issued)


# --- in process ---------------------------------------------------------------------------------------

def test_state_tls13_layout_round_trip_and_tls12_unchanged():
    st = StatePlaintext(0x0304, 0x1303, b"p" * 32, auth_type=AUTH_PSK, identity=b"id", timestamp=5, created=3,
                        server_name=b"a.example", age_add=0xDEADBEEF)
    d = StatePlaintext.decode(st.encode())
    assert (d.version, d.cipher_suite, d.master_secret, d.identity, d.timestamp, d.created, d.server_name,
            d.age_add, d.layout) == (0x0304, 0x1303, b"p" * 32, b"id", 5, 3, b"a.example", 0xDEADBEEF, 2)
    old = StatePlaintext(0x0303, 0xC02B, b"m" * 48, timestamp=5, created=3, ems=True)
    assert StatePlaintext.decode(old.encode()).layout == 1 and StatePlaintext.decode(old.encode()).ems
    # a 1.3 state cut to a 1.2 layout, or a 1.2 state relabelled 1.3, does not decode
    from microticket.errors import DecodeError
    with pytest.raises(DecodeError):
        StatePlaintext.decode(st.encode()[:-4])
    with pytest.raises(DecodeError):
        StatePlaintext.decode(b"\x03\x04" + old.encode()[2:])
    with pytest.raises(ValueError):
        StatePlaintext(0x0304, 0x1301, b"m" * 48)


def test_resumes_with_a_good_binder_and_refuses_a_bad_one(ec_cert):
    rng = crypto.urandom
    ring = KeyRing.generate(NOW)
    t = _ticket13(ring)
    age = (2000 + 1234) & 0xFFFFFFFF  # 2 s old as the client sees it, obfuscated with age_add
    s = _server(ec_cert, ring)
    rec, _ = _hello(rng, psk=(t, age, 0), binder_psk=b"k" * 32)
    ev = s.receive_data(rec, NOW + 2)
    assert s.alert_sent is None and s.resumed and s.ticket_offered and s.ticket_rejected is None, ev
    assert _sel(s) == (0, X25519)
    s = _server(ec_cert, ring)
    rec, _ = _hello(rng, psk=(t, age, 0), binder_psk=b"x" * 32)
    s.receive_data(rec, NOW + 2)
    assert s.alert_sent == 51 and s.closed  # decrypt_error


def _sel(s):
    """The selected PSK identity of the server's ServerHello (-1: none), and the ServerHello's key_share
    group (0: none, psk_ke)."""
    b = _server_hello(s.data_to_send())
    sid = bytes(b[35:35 + b[34]])
    r = codec13.parse_server_hello13(b, sid, [0x1301, 0x1303, 0x1304], [X25519, SECP256R1], [X25519, SECP256R1], 1)
    return r[4], r[2]


def test_ticket_checks_fall_back_to_a_full_handshake(ec_cert):
    rng = crypto.urandom
    ring = KeyRing.generate(NOW)
    cases = [
        (_ticket13(ring, version=0x0303), 1234, "parameters"),          # a TLS 1.2 ticket as a 1.3 PSK
        (_ticket13(ring), (60000 + 1234), "age"),                        # the client says 60 s, we see 2 s
        (_ticket13(ring, server_name=b"other.example"), 3234, "server-name"),
        (_ticket13(ring, auth_type=AUTH_PSK, identity=b"gone"), 3234, "identity"),
        (b"\x00" * 80, 3234, "malformed"),
    ]
    for t, age, why in cases:
        s = _server(ec_cert, ring)
        rec, _ = _hello(rng, psk=(t, age, 0), binder_psk=b"k" * 32)
        # SNI: the hello above sends none; add it to the server for the server-name case
        s.receive_data(rec, NOW + 2)
        if why == "server-name":
            continue  # no SNI in the hello: a ticket with a name still resumes (TLS 1.2's rule)
        assert s.alert_sent is None and not s.resumed and s.ticket_rejected == why, (why, s.error_message)
        sel, group = _sel(s)
        assert sel == -1 and group == X25519  # a full handshake with the certificate
    # an expired ticket: older than the ring's lifetime
    s = _server(ec_cert, ring)
    rec, _ = _hello(rng, psk=(_ticket13(ring, issued=NOW), 1234, 0), binder_psk=b"k" * 32)
    s.receive_data(rec, NOW + ring.lifetime + 5)
    assert not s.resumed and s.ticket_rejected in ("expired", "lifetime", "expired-session"), s.ticket_rejected


def test_tls13_ticket_refused_by_the_tls12_path(ec_cert):
    ring = KeyRing.generate(NOW)
    s = _server(ec_cert, ring)
    s.now = NOW
    st = s._open_ticket(_ticket13(ring))
    assert st is not None and st.version == 0x0304
    assert s._check_resumable(st, [0x1301, 0xC02B], False) is None and s.ticket_rejected == "parameters"


def test_external_psk_modes(ec_cert):
    rng = crypto.urandom
    # psk_dhe_ke with a share: ECDHE; psk_ke offered alone: only when the config allows it
    s = _server(ec_cert, KeyRing.generate(NOW))
    rec, _ = _hello(rng, psk=(P.PSK_IDENTITY, 0, 0), binder_psk=P.PSK, binder_label=b"ext binder")
    s.receive_data(rec, NOW)
    assert s.alert_sent is None and s.psk_identity == P.PSK_IDENTITY and not s.resumed
    assert _sel(s) == (0, X25519)
    s = _server(ec_cert, KeyRing.generate(NOW), psk_ke=True)
    rec, _ = _hello(rng, psk=(P.PSK_IDENTITY, 0, 0), binder_psk=P.PSK, binder_label=b"ext binder", modes=b"\x00")
    s.receive_data(rec, NOW)
    assert s.alert_sent is None and _sel(s) == (0, 0)
    s = _server(ec_cert, KeyRing.generate(NOW))  # psk_ke not allowed: the certificate instead
    rec, _ = _hello(rng, psk=(P.PSK_IDENTITY, 0, 0), binder_psk=P.PSK, binder_label=b"ext binder", modes=b"\x00")
    s.receive_data(rec, NOW)
    assert s.alert_sent is None and _sel(s) == (-1, X25519) and s.ticket_rejected == "psk-modes"
    s = _server(ec_cert, KeyRing.generate(NOW))  # the wrong key: decrypt_error
    rec, _ = _hello(rng, psk=(P.PSK_IDENTITY, 0, 0), binder_psk=b"wrong", binder_label=b"ext binder")
    s.receive_data(rec, NOW)
    assert s.alert_sent == 51


def test_hello_retry_request_once_and_the_second_hello_must_match(ec_cert):
    rng = crypto.urandom
    s = _server(ec_cert, KeyRing.generate(NOW))
    rec, _ = _hello(rng, groups=(X25519,), share=False)
    s.receive_data(rec, NOW)
    out = s.data_to_send()
    b = _server_hello(out)
    assert bytes(b[2:34]) == codec13._HRR_RANDOM and s.state == 33
    assert out[5 + 4 + len(b):5 + 4 + len(b) + 6] == b"\x14\x03\x03\x00\x01\x01"  # compatibility CCS
    # a second ClientHello with other suites: illegal_parameter
    rec, _ = _hello(rng, groups=(X25519,), suites=(0x1303,))
    s.receive_data(rec, NOW)
    assert s.alert_sent == 47
    # a second ClientHello still without the share: no second HelloRetryRequest
    s = _server(ec_cert, KeyRing.generate(NOW))
    rec, _ = _hello(rng, groups=(X25519,), share=False)
    s.receive_data(rec, NOW)
    s.data_to_send()
    s.receive_data(rec, NOW)
    assert s.alert_sent == 47


def test_downgrade_sentinel_only_from_a_tls13_server(ec_cert):
    # a ClientHello offering 1.3 and 1.2 with only a 1.3 suite we do not have (0x1302) and a 1.2 suite
    rng = crypto.urandom
    ext = codec13.hello_exts13([X25519], [(X25519, ecdhe.keypair(X25519, rng)[1])])
    ext.append((11, b"\x01\x00"))
    m = P.client_hello13(rng(32), rng(32), [0x1302, 0xC02B], ext)
    rec = bytes((22, 3, 1, len(m) >> 8, len(m) & 0xFF)) + bytes(m)
    # with TLS 1.3 suites of its own the server is a 1.3 server and says so; without, a 1.2 server
    for suites, sentinel in (([0x1301, 0xC02B], True), ([0xC02B], False)):
        s = _server(ec_cert, KeyRing.generate(NOW), suites=suites)
        s.receive_data(rec, NOW)
        assert s.alert_sent is None and s.suite == 0xC02B
        assert (s.server_random[24:] == b"DOWNGRD\x01") == sentinel


# --- real peers -----------------------------------------------------------------------------------------

GET = b"GET /connection HTTP/1.0\r\n\r\n"


def s_client(port, *args):
    """`openssl s_client -tls1_3` asking for /connection (our server answers and closes: the ticket,
    sent after the handshake, has arrived by then); returns stdout."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3", "-ign_eof"] +
                       list(args), input=GET, capture_output=True, timeout=60)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def _line(out):
    m = re.search(r"(TLS 1\.\d, \S+, resumed: [^,]+, new ticket: \w+)", out)
    return m.group(1) if m else out


pytestmark = [pytest.mark.skipif(not P.have("openssl"), reason="openssl missing")]


@pytest.mark.interop
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_openssl_client_full_then_resumed_and_hrr(runtime, ec_cert, tmp_path):
    """`openssl s_client -tls1_3 -sess_out` then `-sess_in` shows "Reused, TLSv1.3"; a client whose share
    is in a group we do not do (P-384 first) gets a HelloRetryRequest, full and resumed; an external PSK."""
    P.skip_missing(runtime)
    sess = str(tmp_path / "sess.pem")
    srv = P.start_our_server(["--cert", ec_cert[0], "--key", ec_cert[1], "--psk-identity", P.PSK_ID,
                              "--psk", P.PSK_HEX], runtime)
    try:
        a = s_client(srv.port, "-sess_out", sess)
        b = s_client(srv.port, "-sess_in", sess)
        c = s_client(srv.port, "-groups", "P-384:X25519", "-msg")
        d = s_client(srv.port, "-groups", "P-384:X25519", "-sess_in", sess)
        e = s_client(srv.port, "-psk", P.PSK_HEX, "-psk_identity", P.PSK_ID)
    finally:
        log = P.stop_after_lines(srv, 5)
    assert "New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256" in a, a + log
    assert _line(a) == "TLS 1.3, TLS_AES_128_GCM_SHA256, resumed: no, new ticket: yes", a
    assert "Reused, TLSv1.3" in b and _line(b).endswith("resumed: from a ticket, new ticket: yes"), b + log
    assert len(re.findall(r">>> TLS 1.3, Handshake \[length [0-9a-f]+\], ClientHello", c)) == 2, c
    assert "New, TLSv1.3" in c and "Server Temp Key: X25519" in c, c + log
    assert "Reused, TLSv1.3" in d, d + log
    assert "Reused, TLSv1.3" in e and _line(e) == "TLS 1.3, TLS_AES_128_GCM_SHA256, resumed: no, new ticket: yes", \
        e + log
    assert "alert" not in log and log.count(": TLS 1.3, ") == 5, log


@pytest.mark.interop
def test_openssl_key_update_and_suite_order(ec_cert, tmp_path):
    srv = P.start_our_server(["--cert", ec_cert[0], "--key", ec_cert[1], "--suites", "1304,1303,c02b"])
    try:
        # s_client takes "K" as a command (KeyUpdate, update_requested) when it is a read of its own
        p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-tls1_3", "-msg"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for line in (b"one\n", b"K\n", b"two\n"):
                time.sleep(0.5)
                p.stdin.write(line)
                p.stdin.flush()
            time.sleep(0.5)
            ku = p.communicate(timeout=30)[0].decode()
        finally:
            if p.poll() is None:
                p.kill()
        ccm = s_client(srv.port, "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256")
    finally:
        log = srv.stop()
    # the peer's KeyUpdate (update_requested) answered with ours
    assert ku.count("KeyUpdate") == 2 and "Cipher is TLS_CHACHA20_POLY1305_SHA256" in ku, ku + log
    assert "one" in ku and "two" in ku, ku
    assert "Cipher is TLS_AES_128_CCM_SHA256" in ccm, ccm + log  # our preference order


@pytest.mark.interop
def test_tls12_only_server_serves_a_tls13_client(ec_cert):
    """--max-version 1.2: a client offering 1.3 gets TLS 1.2 with no downgrade sentinel (it would abort); a
    1.3-capable server whose 1.3 suites the client does not share sets it: openssl aborts."""
    srv = P.start_our_server(["--cert", ec_cert[0], "--key", ec_cert[1], "--max-version", "1.2"])
    try:
        a = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-ign_eof"], input=GET,
                           capture_output=True, timeout=30).stdout.decode()
    finally:
        srv.stop()
    assert "New, TLSv1.2" in a and "TLS 1.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" in a, a
    srv = P.start_our_server(["--cert", ec_cert[0], "--key", ec_cert[1]])
    try:
        c = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-ciphersuites",
                            "TLS_AES_256_GCM_SHA384"], input=GET, capture_output=True, timeout=30)
    finally:
        srv.stop()
    out = c.stdout.decode() + c.stderr.decode()
    assert "inappropriate fallback" in out or "downgrade" in out.lower() or "illegal parameter" in out, out


@pytest.mark.interop
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_python_ssl_client_full_and_resumed(runtime, ec_cert):
    P.skip_missing(runtime)
    srv = P.start_our_server(["--cert", ec_cert[0], "--key", ec_cert[1]], runtime)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        out = []
        sess = None
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost", session=sess) as c:
                    c.sendall(b"ping")
                    assert c.recv(10) == b"ping"  # the ticket came before the echo
                    out.append((c.version(), c.session_reused, c.cipher()[0]))
                    sess = c.session
    finally:
        log = P.stop_after_lines(srv, 2)
    assert out == [("TLSv1.3", False, "TLS_AES_128_GCM_SHA256"), ("TLSv1.3", True, "TLS_AES_128_GCM_SHA256")], log
    assert log.count("TLS 1.3, TLS_AES_128_GCM_SHA256, resumed: from a ticket") == 1, log


@pytest.mark.interop
@pytest.mark.skipif(not P.have("gnutls-cli"), reason="gnutls-cli missing")
def test_gnutls_resume_and_psk_ke(ec_cert):
    """gnutls-cli --resume (a ticket), and an external PSK in psk_ke (GnuTLS priority +PSK only: no key
    share taken) with --psk-modes dhe,ke."""
    srv = P.start_our_server(["--cert", ec_cert[0], "--key", ec_cert[1], "--psk-identity", P.PSK_ID, "--psk",
                              P.PSK_HEX, "--psk-modes", "dhe,ke", "--timeout", "2"])
    try:
        a = subprocess.run(["gnutls-cli", "--insecure", "-p", str(srv.port), "127.0.0.1", "--resume"], input=GET,
                           capture_output=True, timeout=30).stdout.decode()
        b = subprocess.run(["gnutls-cli", "-p", str(srv.port), "127.0.0.1", "--pskusername", P.PSK_ID, "--pskkey",
                            P.PSK_HEX, "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+PSK"], input=GET,
                           capture_output=True, timeout=30).stdout.decode()
    finally:
        log = P.stop_after_lines(srv, 3)
    assert "This is a resumed session" in a and "(TLS1.3-X.509)" in a, a + log
    # "--": no key exchange group, psk_ke
    assert "PSK authentication. Connected as '%s'" % P.PSK_ID in b and "(TLS1.3-X.509)--(AES-128-GCM)" in b, \
        b + log
    assert "resumed: from a ticket" in log and log.count(": TLS 1.3, ") == 3, log


@pytest.mark.interop
@pytest.mark.skipif(not P.have("tshark"), reason="tshark missing")
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tshark_decrypts_tls13_with_our_keylog(runtime, ec_cert, tmp_path):
    """Our server's TLS 1.3 key log lines (CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT/SERVER_TRAFFIC_SECRET_0,
    EXPORTER_SECRET): tshark decrypts a full and a resumed session (the encrypted handshake, the tickets, the
    page) and finds nothing malformed."""
    import webpeers as W
    P.skip_missing(runtime)
    pcap, keylog, sess = str(tmp_path / "cap.pcapng"), str(tmp_path / "server.keys"), str(tmp_path / "s.pem")
    srv = P.start_our_server(["--cert", ec_cert[0], "--key", ec_cert[1], "--keylog", keylog], runtime)
    cap = W.start_capture(srv.port, pcap)
    if cap is None:
        srv.stop()
        pytest.skip("cannot capture on lo")
    try:
        a = s_client(srv.port, "-sess_out", sess)
        b = s_client(srv.port, "-sess_in", sess)
    finally:
        log = P.stop_after_lines(srv, 2)
        W.stop_capture(cap, pcap, lambda hs: len(hs) >= 2)
    assert "New, TLSv1.3" in a and "Reused, TLSv1.3" in b, a + b + log
    with open(keylog) as f:
        names = [x.split()[0] for x in f.read().split("\n") if x]
    assert names == ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                     "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"] * 2, names
    v = subprocess.run(["tshark", "-r", pcap, "-o", "tls.keylog_file:" + keylog, "-V"], capture_output=True,
                       text=True, timeout=120).stdout
    assert v.count("Handshake Type: New Session Ticket (4)") == 2, v[-3000:]
    assert v.count("Handshake Type: Certificate Verify (15)") == 1  # the full handshake only
    assert "Extension: pre_shared_key" in v and "Malformed" not in v and "malformed" not in v
    assert v.count("TLS 1.3, TLS_AES_128_GCM_SHA256, resumed: ") == 2  # the pages, decrypted


def test_an_error_after_the_server_hello_reaches_the_client(monkeypatch):
    """A failure after our ServerHello switched the write keys (here in EncryptedExtensions): the ServerHello
    goes out before the alert, so the client can read the alert under the handshake keys (dropping the
    flight left the client an encrypted record before any ServerHello: unexpected_message, no alert)."""
    from microticket.errors import TlsAlert
    from microticket.tls import codec13_server

    def refuse(ext):
        raise TlsAlert(40, "refused after the ServerHello")
    monkeypatch.setattr(codec13_server, "encrypted_extensions", refuse)
    c = P.psk_client(max_version=0x0304)
    s = P.psk_server(KeyRing.generate(NOW))
    P.pump(c, s, NOW)
    assert s.alert_sent == 40 and c.alert_received == 40 and c.alert_sent is None
