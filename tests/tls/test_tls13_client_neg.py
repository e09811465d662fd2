"""Negative tests of the TLS 1.3 client (microticket.tls.client13, RFC 8446), in process: our TlsServer is the
peer, and what it sends is tampered with before it is protected (its handshake messages as it queues them,
records written with its current keys) or crafted (ServerHello, HelloRetryRequest, which travel in the
clear). Each test names the section of RFC 8446 that says what the client must do."""

import hashlib

import pytest

import tlspeers as P
import webpeers as W
from microticket.pk import keys, pem
from microticket.ticket import KeyRing
from microticket.tls import hs13
from microticket.tls.cache import TicketCache
from microticket.tls.client import Client
from microticket.tls.server import ServerConfig, TlsServer

from consts import TLS_T0 as T0

UNEXPECTED_MESSAGE, BAD_RECORD_MAC, HANDSHAKE_FAILURE = 10, 20, 40
ILLEGAL_PARAMETER, DECODE_ERROR, DECRYPT_ERROR = 47, 50, 51
CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA = 20, 21, 22, 23
HT_SERVER_HELLO, HT_NST, HT_EE, HT_CERTIFICATE, HT_CV, HT_FINISHED = 2, 4, 8, 11, 15, 20
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return W.make_pki(str(tmp_path_factory.mktemp("pki")))


def _server(pki, ring=None, **kw):
    chain = pem.read_pem_certs(open(pki.ec_cert).read())
    s = TlsServer(ServerConfig(ring, cert_chain=chain, key=keys.load_private_key(open(pki.ec_key).read()),
                               psk={P.PSK_IDENTITY: P.PSK}, **kw))
    s.trace = []
    return s


def _client(pki, cache=None, **kw):
    kw.setdefault("pin_sha256", hashlib.sha256(open(pki.ec_der, "rb").read()).digest())
    c = Client("srv:443", cache=cache, **kw)
    c.trace = []
    return c


def _hook(s, fn):
    """``fn(s, message)`` sees each handshake message the server ``s`` queues and returns what is queued
    instead (protected with the server's keys of the moment, as the real one would be)."""
    def queue(m):
        m = fn(s, bytearray(m))
        if m:
            TlsServer._queue(s, m)
    s._queue = queue


def _records(d):
    """[(content type, body)] of the bytes ``d``."""
    out = []
    p = 0
    while p < len(d):
        n = (d[p + 3] << 8) | d[p + 4]
        out.append((d[p], bytes(d[p + 5:p + 5 + n])))
        p += 5 + n
    assert p == len(d)
    return out


def _record(t, body):
    return bytes((t, 3, 3, len(body) >> 8, len(body) & 0xFF)) + bytes(body)


def _open_pair(pki, **kw):
    c, s = P.pump(_client(pki), _server(pki, **kw), T0)
    assert c.handshake_done and s.handshake_done
    assert c.state == hs13.ST_OPEN13 and s.state == hs13.ST_OPEN13
    return c, s


def test_baseline_full_then_resumed(pki):
    """The unmodified pair: a full handshake (certificate), then a resumption from the server's ticket."""
    ring = KeyRing.generate(T0)
    cache = TicketCache()
    c, s = P.pump(_client(pki, cache), _server(pki, ring), T0)
    assert c.handshake_done and s.handshake_done and not c.resumed and c.alert_sent is None
    c, s = P.pump(_client(pki, cache), _server(pki, ring), T0 + 5)
    assert c.handshake_done and c.resumed and s.resumed
    assert "Certificate" not in P.names(c.trace, "recv")


def test_bad_server_finished_is_decrypt_error(pki):
    """Section 4.4.4: "Recipients of Finished messages MUST verify that the contents are correct and if
    incorrect MUST terminate the connection with a "decrypt_error" alert"."""
    def fn(s, m):
        if m[0] == HT_FINISHED:
            m[-1] ^= 1
        return m
    s = _server(pki)
    _hook(s, fn)
    c, s = P.pump(_client(pki), s, T0)
    assert c.alert_sent == DECRYPT_ERROR and not c.handshake_done, c.error_message
    assert s.alert_received == DECRYPT_ERROR  # the alert went out under our handshake keys


def test_certificate_verify_bad_signature_is_decrypt_error(pki):
    """Section 4.4.3: "If the verification fails, the receiver MUST terminate the handshake with a
    "decrypt_error" alert"."""
    def fn(s, m):
        if m[0] == HT_CV:
            m[-3] ^= 0x40  # in the DER ECDSA signature's s
        return m
    s = _server(pki)
    _hook(s, fn)
    c, s = P.pump(_client(pki), s, T0)
    assert c.alert_sent == DECRYPT_ERROR and "CertificateVerify" in c.error_message, c.error_message


@pytest.mark.parametrize("scheme", [0x0804, 0x0401, 0x0503])
def test_certificate_verify_scheme_not_for_the_key_is_illegal_parameter(pki, scheme):
    """Section 4.4.3: the client MUST check that the algorithm "is consistent with the public key" and is one
    of its signature_algorithms (rsa_pss_rsae_sha256 for a P-256 key; rsa_pkcs1_sha256, which section 4.2.3
    allows in certificates only; ecdsa_secp384r1_sha384, never offered): illegal_parameter (section 6.2:
    "a field in the handshake was incorrect or inconsistent with other fields")."""
    def fn(s, m):
        if m[0] == HT_CV:
            m[4] = scheme >> 8
            m[5] = scheme & 0xFF
        return m
    s = _server(pki)
    _hook(s, fn)
    c, s = P.pump(_client(pki), s, T0)
    assert c.alert_sent == ILLEGAL_PARAMETER and not c.handshake_done, c.error_message


def test_server_hello_selecting_an_identity_not_offered_is_illegal_parameter(pki):
    """Section 4.2.11: "Clients MUST verify that the server's selected_identity is within the range
    supplied by the client ... If the server supplies an "early_data" extension or selects an identity
    out of range, the client MUST abort the handshake with an "illegal_parameter" alert"."""
    tampered = []

    def fn(d, x):
        if d == "s2c" and not tampered:
            i = x.find(b"\x00\x29\x00\x02\x00\x00")  # pre_shared_key, selected_identity 0
            assert i > 0
            tampered.append(i)
            return x[:i] + b"\x00\x29\x00\x02\x00\x01" + x[i + 6:]
        return x
    c = _client(pki, pin_sha256=None, psk_identity=P.PSK_IDENTITY, psk=P.PSK)
    c, s = P.pump(c, _server(pki), T0, tamper=fn)
    assert tampered and c.alert_sent == ILLEGAL_PARAMETER and c.error_message == "ServerHello"


def test_server_hello_with_pre_shared_key_when_none_offered_is_illegal_parameter(pki):
    """Section 4.2.11 (as above: no identity offered, so any selected_identity is out of range)."""
    c = _client(pki)
    c.start(T0)
    ch = c.data_to_send()
    sid = bytes(ch[5 + 39:5 + 39 + 32])
    from microticket.tls import codec13_server as S, ecdhe
    _, pub = ecdhe.keypair(29, lambda n: b"\x07" * n)
    sh = S.server_hello13(b"\x11" * 32, sid, 0x1301, 29, pub, psk=0)
    c.receive_data(_record(CT_HANDSHAKE, sh), T0)
    assert c.alert_sent == ILLEGAL_PARAMETER, c.error_message


def _hrr(c, group, suite=0x1301, cookie=None):
    """A HelloRetryRequest record answering the client ``c``'s last ClientHello."""
    from microticket.tls import codec13_server as S
    ch = c.data_to_send()
    assert ch[0] == CT_HANDSHAKE and ch[5] == 1
    sid = bytes(ch[5 + 39:5 + 39 + 32])
    return _record(CT_HANDSHAKE, S.server_hello13(None, sid, suite, group, None, cookie=cookie)), sid


def test_second_hello_retry_request_is_unexpected_message(pki):
    """Section 4.1.4: "If a client receives a second HelloRetryRequest in the same connection (i.e., where
    the ClientHello was itself in response to a HelloRetryRequest), it MUST abort the handshake with an
    "unexpected_message" alert" - whatever that second one names, the group the first asked for too."""
    for second_group, cookie in ((23, None), (0, b"c00kie"), (29, None)):
        c = _client(pki)
        c.start(T0)
        hrr, sid = _hrr(c, 23)  # we sent x25519: secp256r1 asked for
        c.receive_data(hrr, T0)
        assert not c.closed, c.error_message
        ch2 = c.data_to_send()
        assert b"\x00\x17\x00\x41\x04" in ch2  # a secp256r1 share (65 bytes, uncompressed) this time
        from microticket.tls import codec13_server as S
        again = _record(CT_HANDSHAKE, S.server_hello13(None, sid, 0x1301, second_group, None, cookie=cookie))
        c.receive_data(again, T0)
        assert c.alert_sent == UNEXPECTED_MESSAGE, (second_group, c.error_message)


def test_hello_retry_request_for_a_group_already_shared_is_illegal_parameter(pki):
    """Section 4.2.8: the client "MUST verify that (1) the selected_group field corresponds to a group
    which was provided in the "supported_groups" extension in the original ClientHello and (2) the
    selected_group field does not correspond to a group which was provided in the "key_share" extension
    in the original ClientHello. If either of these checks fails, then the client MUST abort the
    handshake with an "illegal_parameter" alert"."""
    for group in (29, 24):  # x25519 had our share; secp384r1 was never offered
        c = _client(pki)
        c.start(T0)
        hrr, _ = _hrr(c, group)
        c.receive_data(hrr, T0)
        assert c.alert_sent == ILLEGAL_PARAMETER, (group, c.error_message)


def test_hello_retry_request_then_server_hello_with_another_suite_is_illegal_parameter(pki):
    """Section 4.1.4: "Upon receiving the ServerHello, clients MUST check that the cipher suite supplied in
    the ServerHello is the same as that in the HelloRetryRequest and otherwise abort the handshake with an
    "illegal_parameter" alert"."""
    c = _client(pki)
    c.start(T0)
    hrr, sid = _hrr(c, 23, suite=0x1303)
    c.receive_data(hrr, T0)
    s = _server(pki, suites=[0x1301])
    s.receive_data(c.data_to_send(), T0)  # the second ClientHello, taken by a server as a first one
    assert s.alert_sent is None
    c.receive_data(s.data_to_send(), T0)
    assert c.alert_sent == ILLEGAL_PARAMETER and c.error_message == "ServerHello", c.error_message


@pytest.mark.parametrize("life,ok", [(604800, True), (604801, False), (0xFFFFFFFF, False)])
def test_new_session_ticket_lifetime_over_seven_days_is_illegal_parameter(pki, life, ok):
    """Section 4.6.1: "Servers MUST NOT use any value greater than 604800 seconds (7 days)"; a larger one
    is a field with an illegal value: illegal_parameter (section 6.2). Seven days exactly is kept."""
    def fn(s, m):
        if m[0] == HT_NST:
            m[4:8] = life.to_bytes(4, "big")
        return m
    s = _server(pki, KeyRing.generate(T0, lifetime=30 * 86400))
    _hook(s, fn)
    cache = TicketCache()
    c, s = P.pump(_client(pki, cache), s, T0)
    assert c.handshake_done
    if ok:
        assert c.alert_sent is None and cache.get("srv:443", T0) is not None
    else:
        assert c.alert_sent == ILLEGAL_PARAMETER and c.closed and cache.get("srv:443", T0) is None, c.error_message


def test_records_after_close_notify_are_ignored(pki):
    """Section 6.1: "Any data received after a closure alert has been received MUST be ignored"; the client
    answers with its own close_notify."""
    c, s = _open_pair(pki)
    s.send(b"before")
    s.close()
    s.rl.write(CT_APPDATA, b"after")  # what a broken server would still write
    s.rl.write(CT_HANDSHAKE, hs13.key_update_message(True))
    ev = c.receive_data(s.data_to_send(), T0)
    assert ev == [("data", b"before"), ("alert", 0, True), ("closed",)], ev
    assert c.closed and c.alert_sent is None
    assert _records(c.data_to_send())[0][0] == CT_APPDATA  # its close_notify, protected
    assert c.receive_data(_record(CT_APPDATA, b"x" * 40), T0) == []


@pytest.mark.parametrize("level", [1, 2])
def test_encrypted_alert_mid_handshake_is_reported(pki, level):
    """Sections 5.1/6: an alert the server sends after its ServerHello is protected with its handshake
    keys; the client opens it and reports it (section 6.2: a fatal alert closes the connection at once;
    section 6: in TLS 1.3 the level is ignored and any alert but close_notify and user_canceled is fatal)."""
    def fn(s, m):
        if m[0] == HT_EE:
            TlsServer._queue(s, m)
            s._flush()
            s.rl.write(CT_ALERT, bytes((level, HANDSHAKE_FAILURE)))
            s._wp = 0
            s.closed = True  # the real server stops here
            return b""
        return m
    s = _server(pki)
    _hook(s, fn)
    c = _client(pki)
    c.start(T0)
    s.receive_data(c.data_to_send(), T0)
    out = s.data_to_send()
    # ServerHello, ChangeCipherSpec, {EncryptedExtensions}, {alert} (and the flight's rest, ignored)
    assert [t for t, _ in _records(out)][:4] == [CT_HANDSHAKE, CT_CCS, CT_APPDATA, CT_APPDATA]
    ev = c.receive_data(out, T0)
    assert ("alert", HANDSHAKE_FAILURE, True) in ev and ("closed",) in ev, ev
    assert c.alert_received == HANDSHAKE_FAILURE and c.closed and c.alert_sent is None


@pytest.mark.parametrize("where", [HT_EE, HT_CERTIFICATE, HT_FINISHED])
def test_application_data_before_server_finished_is_unexpected_message(pki, where):
    """Section 2 / 4.4.4 / 5.1: application data is sent only after the Finished (the handshake traffic keys
    protect handshake messages and alerts only); a record of it before the server's Finished is
    unexpected_message (section 6.2: "An inappropriate message (e.g., the wrong handshake message,
    premature Application Data, etc.) was received")."""
    def fn(s, m):
        if m[0] == where:
            s._flush()
            s.rl.write(CT_APPDATA, b"too early")
        return m
    s = _server(pki)
    _hook(s, fn)
    c, s = P.pump(_client(pki), s, T0)
    assert c.alert_sent == UNEXPECTED_MESSAGE and not c.handshake_done, c.error_message
    assert ("data", b"too early") not in c.events


def test_protected_change_cipher_spec_is_unexpected_message(pki):
    """Section 5: "An implementation which receives any other change_cipher_spec value or which receives a
    protected change_cipher_spec record MUST abort the handshake with an "unexpected_message" alert"."""
    def fn(s, m):
        if m[0] == HT_EE:
            s._flush()
            s.rl.write(CT_CCS, b"\x01")  # under the server's handshake keys: inner type 20
        return m
    s = _server(pki)
    _hook(s, fn)
    c, s = P.pump(_client(pki), s, T0)
    assert c.alert_sent == UNEXPECTED_MESSAGE and not c.handshake_done, c.error_message


def test_plaintext_change_cipher_spec_after_finished_is_unexpected_message(pki):
    """Section 5: a ChangeCipherSpec is dropped only "before the peer's Finished message has been received";
    after it, an unprotected record of type change_cipher_spec is unexpected_message."""
    c, s = _open_pair(pki)
    c.receive_data(_record(CT_CCS, b"\x01"), T0)
    assert c.alert_sent == UNEXPECTED_MESSAGE


def test_server_hello_and_encrypted_extensions_in_one_record_is_unexpected_message(pki):
    """Section 5.1: "Handshake messages MUST NOT span key changes. Implementations MUST verify that all
    messages immediately preceding a key change align with a record boundary; if not, then they MUST
    terminate the connection with an "unexpected_message" alert". The ServerHello brings the handshake
    keys: a plaintext EncryptedExtensions after it in the same record is refused."""
    c = _client(pki)
    c.start(T0)
    s = _server(pki)
    s.receive_data(c.data_to_send(), T0)
    recs = _records(s.data_to_send())
    assert recs[0][0] == CT_HANDSHAKE and recs[0][1][0] == HT_SERVER_HELLO
    c.receive_data(_record(CT_HANDSHAKE, recs[0][1] + b"\x08\x00\x00\x02\x00\x00"), T0)
    assert c.alert_sent == UNEXPECTED_MESSAGE and c.closed, c.error_message


def test_server_finished_and_a_message_after_it_in_one_record_is_unexpected_message(pki):
    """Section 5.1 (as above): the server's Finished changes the keys the client reads with; a KeyUpdate
    in the same record after it would be read under the handshake keys."""
    def fn(s, m):
        if m[0] == HT_FINISHED:
            return m + hs13.key_update_message(False)
        return m
    s = _server(pki)
    _hook(s, fn)
    c, s = P.pump(_client(pki), s, T0)
    assert c.alert_sent == UNEXPECTED_MESSAGE and c.closed, c.error_message


def test_key_update_requested_is_answered_and_both_directions_work(pki):
    """Section 4.6.3: on update_requested "the receiver MUST send a KeyUpdate of its own with request_update
    set to "update_not_requested" prior to sending its next Application Data record"; each side steps its
    receiving keys on the other's KeyUpdate; data flows both ways under the new keys, again after more."""
    c, s = _open_pair(pki)
    for round_ in range(3):
        hs13.key_update(s, True)
        s.send(b"s%d" % round_)
        ev = c.receive_data(s.data_to_send(), T0)
        assert ev == [("data", b"s%d" % round_)], ev
        out = c.data_to_send()
        recs = _records(out)
        assert len(recs) == 1 and recs[0][0] == CT_APPDATA  # the client's KeyUpdate, protected
        c.send(b"c%d" % round_)
        ev = s.receive_data(out + c.data_to_send(), T0)
        assert ev == [("data", b"c%d" % round_)] and s.data_to_send() == b"", ev
    # a KeyUpdate not requesting one is not answered
    hs13.key_update(s, False)
    assert c.receive_data(s.data_to_send(), T0) == [] and c.data_to_send() == b""
    s.send(b"last")
    assert c.receive_data(s.data_to_send(), T0) == [("data", b"last")]
    # the client's own request, answered by the server
    hs13.key_update(c, True)
    s.receive_data(c.data_to_send(), T0)
    s.send(b"answered")
    assert c.receive_data(s.data_to_send(), T0) == [("data", b"answered")]
    c.send(b"more")
    assert s.receive_data(c.data_to_send(), T0) == [("data", b"more")]


def test_key_update_with_a_bad_value_is_illegal_parameter(pki):
    """Section 4.6.3: "If an implementation receives any other value [than 0 or 1], it MUST terminate the
    connection with an "illegal_parameter" alert"."""
    c, s = _open_pair(pki)
    s.rl.write(CT_HANDSHAKE, b"\x18\x00\x00\x01\x02")
    c.receive_data(s.data_to_send(), T0)
    assert c.alert_sent == ILLEGAL_PARAMETER


def test_encrypted_extensions_with_early_data_not_offered_is_unsupported_extension(pki):
    """Section 4.2: "Implementations MUST NOT send extension responses if the remote endpoint did not send the
    corresponding extension requests ... Upon receiving such an extension, an endpoint MUST abort the
    handshake with an "unsupported_extension" alert". We sent no early_data."""
    def fn(s, m):
        if m[0] == HT_EE:
            return bytearray(b"\x08\x00\x00\x06\x00\x04\x00\x2a\x00\x00")
        return m
    s = _server(pki)
    _hook(s, fn)
    c, s = P.pump(_client(pki), s, T0)
    assert c.alert_sent == 110 and not c.handshake_done, c.error_message


def test_certificate_request_after_psk_is_unexpected_message(pki):
    """Section 4.3.2: "Servers which are authenticating with a PSK MUST NOT send the CertificateRequest
    message in the main handshake"; our table has no CertificateRequest after a PSK's
    EncryptedExtensions: unexpected_message."""
    def fn(s, m):
        if m[0] == HT_EE:
            TlsServer._queue(s, m)
            return bytearray(b"\x0d\x00\x00\x0b\x00\x00\x08\x00\x0d\x00\x04\x00\x02\x04\x03")
        return m
    s = _server(pki)
    _hook(s, fn)
    c = _client(pki, pin_sha256=None, psk_identity=P.PSK_IDENTITY, psk=P.PSK)
    c, s = P.pump(c, s, T0)
    assert c.alert_sent == UNEXPECTED_MESSAGE and not c.handshake_done, c.error_message


# --- the same record-boundary rule on the server's side (the engine enforces it for both roles) ----------

def test_server_refuses_a_message_after_client_hello_in_its_record(pki):
    """Section 5.1 (as above): the ClientHello the server answers with a ServerHello brings the keys it reads
    with next; a message after it in the same record is unexpected_message."""
    c = _client(pki)
    c.start(T0)
    (t, ch), = _records(c.data_to_send())
    s = _server(pki)
    s.receive_data(_record(t, ch + b"\x14\x00\x00\x20" + bytes(32)), T0)
    assert s.alert_sent == UNEXPECTED_MESSAGE and s.closed, s.error_message


def test_server_refuses_a_message_after_client_finished_in_its_record(pki):
    """Section 5.1: the client's Finished switches the server to the client's application keys; a KeyUpdate
    after it in the same record (protected with the handshake keys) is unexpected_message."""
    from microticket.tls.engine import Engine
    c = _client(pki)

    def send(m):
        if m[0] == HT_FINISHED:
            m = bytes(m) + hs13.key_update_message(False)
        Engine._send_message(c, m)
    c._send_message = send
    c, s = P.pump(c, _server(pki), T0)
    assert s.alert_sent == UNEXPECTED_MESSAGE and s.closed, s.error_message
