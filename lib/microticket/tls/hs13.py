"""What both roles' TLS 1.3 handshakes (RFC 8446) run on top of the one engine (microticket.tls.engine):
the key schedule's steps with the engine's transcript, the traffic keys switched on in the record layer,
Finished messages, the dropped ChangeCipherSpec, KeyUpdate, CertificateVerify's signed content and the key
log. Loaded only by a TLS 1.3
connection (microticket.tls.client13, microticket.tls.server13 hold the roles' state tables).

The engine's fields a TLS 1.3 connection uses (no field of its own: every name costs a board heap):
    _th      the transcript: as many SHA-256 objects as the handshake takes snapshots (engine._take_hash
             pops one); a role sets the list when it sends or takes the first ClientHello
    _kx      [secret of the stage (handshake, then master), client traffic secret, server traffic secret,
             client and server handshake traffic secrets]: the traffic secrets the handshake's, then the
             application's (KeyUpdate steps them)
    master   the resumption master secret once the handshake is done (ticket PSKs, section 4.6.1)
    state    32..98 the handshake's, _ST_OPEN13 (99) after it (microticket.tls.engine: Finished checked
             here, not by the engine; ChangeCipherSpec switches nothing; every alert but close_notify and
             user_canceled fatal)

Key log lines (NSS's SSLKEYLOGFILE format for TLS 1.3): CLIENT_HANDSHAKE_TRAFFIC_SECRET,
SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0, SERVER_TRAFFIC_SECRET_0, EXPORTER_SECRET, each
with the client random.
"""

from micropython import const

from microticket import crypto
from microticket import errors
from microticket.tls import to_hex, keys13, record13
from microticket.tls.engine import suite_info

_CT_HANDSHAKE = const(22)
_CT_CHANGE_CIPHER_SPEC = const(20)
_HT_FINISHED = const(20)
_HT_KEY_UPDATE = const(24)
_DECODE_ERROR = const(50)
_DECRYPT_ERROR = const(51)
_UNEXPECTED_MESSAGE = const(10)
_C_CHACHA = const(4)  # microticket.tls.engine's cipher numbers
_ILLEGAL_PARAMETER = const(47)
_SPACES = const(b"                                                                ")  # 64 (section 4.4.3)
_CV_CONTEXT = const(b"TLS 1.3, server CertificateVerify\x00")
_CV_CLIENT_CONTEXT = const(b"TLS 1.3, client CertificateVerify\x00")
ST_OPEN13 = const(99)


def transcript(eng, n, first=None):
    """A fresh transcript of ``n`` SHA-256 objects (one per snapshot the handshake still takes), each fed
    ``first`` (the messages so far) when given."""
    th = [crypto.hash_new("sha256") for _ in range(n)]
    if first is not None:
        for h in th:
            h.update(first)
    eng._th = th
    eng._fin_hash = None


def message_hash(ch_hash):
    """The synthetic message_hash handshake message that replaces ClientHello1 in the transcript after a
    HelloRetryRequest (section 4.4.1)."""
    return b"\xfe\x00\x00\x20" + ch_hash


def _log(eng, name, secret):
    # the labels are bytes constants: a board holds no string object for them
    if eng.keylog is not None:
        eng.keylog(name.decode() + " " + to_hex(eng.client_random) + " " + to_hex(secret))


def _cs(eng, secret):
    # the record13 cipher state of a traffic secret for the agreed suite
    w = suite_info(eng.suite) >> 3
    k, iv = keys13.traffic(secret, 32 if w == _C_CHACHA else 16)
    return record13.state(w, k, iv)


def handshake_keys(eng, psk, dhe):
    """The handshake secrets from the PSK (None: none) and the (EC)DHE shared secret (None: psk_ke), over
    the transcript through the ServerHello (one snapshot); a client's read state switched on (the server's
    handshake traffic secret). The server switches its write state on at once (switch_write(eng, True)) and
    its read state after its flight (it reads nothing before: the client's AES-GCM key, 2 KB of tables, is
    not held while it signs); the client its write state after its compatibility ChangeCipherSpec."""
    hs = keys13.stage(keys13.stage(None, psk), dhe)
    th = eng._take_hash()
    c = keys13.label(hs, b"\x00\x20\x12tls13 c hs traffic", th)
    s = keys13.label(hs, b"\x00\x20\x12tls13 s hs traffic", th)
    # [stage secret, client traffic, server traffic, client handshake traffic, server handshake traffic]
    eng._kx = [hs, c, s, c, s]
    _log(eng, b"CLIENT_HANDSHAKE_TRAFFIC_SECRET", c)
    _log(eng, b"SERVER_HANDSHAKE_TRAFFIC_SECRET", s)
    if eng.is_client:
        switch_read(eng, True)


def switch_write(eng, hs=False):
    """Our traffic secret switched on for what we write: the handshake's (``hs``) or the current one."""
    eng.rl.write_cs = _cs(eng, eng._kx[(4 if hs else 2) - eng.is_client])


def switch_read(eng, hs=False):
    """The peer's traffic secret switched on for what we read: the handshake's (``hs``) or the current. The
    message that called it must end its record (section 5.1): _hl = -1 tells the engine to check."""
    eng.rl.read = _cs(eng, eng._kx[(3 if hs else 1) + eng.is_client])
    eng._hl = -1


def finished_data(eng, client, th):
    """verify_data of the client's (``client``) or the server's Finished over the transcript hash ``th``,
    from the sender's handshake traffic secret (section 4.4.4)."""
    return keys13.finished(eng._kx[4 - client], th)


def check_finished(eng, b, th):
    """The peer's Finished body ``b`` against the transcript hash ``th`` of the messages before it."""
    if len(b) != 32:
        raise errors.TlsAlert(_DECODE_ERROR, "Finished")
    if not crypto.ct_equal(finished_data(eng, not eng.is_client, th), b):
        raise errors.TlsAlert(_DECRYPT_ERROR, "Finished")


def finished_message(eng, th):
    """Our Finished message (header included) over the transcript hash ``th``."""
    m = bytearray(36)
    m[0] = _HT_FINISHED
    m[3] = 32
    m[4:] = finished_data(eng, eng.is_client, th)
    return m


def application_keys(eng, th):
    """The master secret and the application traffic secrets over ``th``, the transcript hash through the
    server Finished (section 7.1): _kx's first three from now on (the handshake traffic secrets stay
    after them for the Finished messages still to come). The caller switches the directions on."""
    kx = eng._kx
    ms = keys13.stage(kx[0])
    c = keys13.label(ms, b"\x00\x20\x12tls13 c ap traffic", th)
    s = keys13.label(ms, b"\x00\x20\x12tls13 s ap traffic", th)
    kx[0] = ms
    kx[1] = c
    kx[2] = s
    _log(eng, b"CLIENT_TRAFFIC_SECRET_0", c)
    _log(eng, b"SERVER_TRAFFIC_SECRET_0", s)
    if eng.keylog is not None:
        _log(eng, b"EXPORTER_SECRET", keys13.label(ms, b"\x00\x20\x10tls13 exp master", th))


def resumption_secret(eng, th):
    """The resumption master secret over the transcript hash through the client Finished: the engine's
    ``master`` from now on (each ticket's PSK is derived from it with the ticket's nonce)."""
    eng.master = keys13.label(eng._kx[0], b"\x00\x20\x10tls13 res master", th)


def ticket_psk(res, nonce):
    """The PSK of a ticket (section 4.6.1) from the resumption master secret and the ticket's nonce."""
    return keys13.label(res, b"\x00\x20\x10tls13 resumption", nonce)


def send_ccs(eng):
    """The unprotected ChangeCipherSpec of middlebox compatibility mode (appendix D.4)."""
    if eng.trace is not None:
        eng.trace.append(("send", 0x100))
    eng.rl.write(_CT_CHANGE_CIPHER_SPEC, b"\x01")


def on_ccs(eng, t, b):
    """A ChangeCipherSpec during the handshake (the engine checked it is the single byte 1): dropped
    (section 5; the tables have it only in states before the peer's Finished)."""


def on_key_update(eng, t, b):
    """KeyUpdate (section 4.6.3): the peer's traffic secret steps; when it asks, ours steps too, after a
    KeyUpdate (not requesting one) sent under the old keys."""
    request = parse_key_update(b)
    kx = eng._kx
    i = 1 + eng.is_client
    kx[i] = keys13.label(kx[i], b"\x00\x20\x11tls13 traffic upd")
    switch_read(eng)
    if request:
        update_write(eng, key_update_message(False))


def update_write(eng, m):
    """Send the KeyUpdate ``m`` and step our traffic secret (after it: it is the last record under the old
    keys)."""
    eng.rl.write(_CT_HANDSHAKE, m)
    kx = eng._kx
    i = 2 - eng.is_client
    kx[i] = keys13.label(kx[i], b"\x00\x20\x11tls13 traffic upd")
    switch_write(eng)


def key_update(eng, request=True):
    """Update our sending keys (and, ``request``, ask the peer to update its own): the public API of a
    TLS 1.3 connection that is open (``hs13.key_update(conn)``; drain data_to_send() after it)."""
    if not eng.handshake_done or eng.closed or eng.state != ST_OPEN13:
        raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "not open")
    update_write(eng, key_update_message(request))


def parse_key_update(b):
    """True when the KeyUpdate body ``b`` asks for an update in return (section 4.6.3)."""
    if len(b) != 1:
        raise errors.TlsAlert(_DECODE_ERROR, "KeyUpdate")
    if b[0] > 1:
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "KeyUpdate")
    return b[0] == 1


def key_update_message(request):
    """A KeyUpdate message (update_requested when ``request``)."""
    return bytearray((_HT_KEY_UPDATE, 0, 0, 1, 1 if request else 0))


def signed_content(th, client=False):
    """What a CertificateVerify signs (section 4.4.3): 64 spaces, the context string of the server (or
    the ``client``), a zero byte, the transcript hash ``th``."""
    return _SPACES + (_CV_CLIENT_CONTEXT if client else _CV_CONTEXT) + th
