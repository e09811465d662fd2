"""The TLS 1.3 server handshake (RFC 8446), run by microticket.tls.server.TlsServer when a ClientHello offers
TLS 1.3 and the server has a TLS 1.3 suite in ServerConfig.suites: client_hello takes over the connection (its
state table becomes TABLE) and the 1.2 server's flight buffer, transcript and record layer carry on.
Loaded only by a TLS 1.3 connection, with microticket.tls.codec13_server (the messages) and microticket.tls.hs13
(the key schedule both roles share).

Flows:
    full        ClientHello -> ServerHello, [ChangeCipherSpec], {EncryptedExtensions, Certificate,
                CertificateVerify, Finished} <- {Finished} -> [NewSessionTicket]
    PSK         the same without Certificate/CertificateVerify: a ticket we sealed (resumption, "res
                binder") or an external PSK of ServerConfig.psk (identity -> key, "ext binder"); psk_dhe_ke
                when the client offers it with a share we can use, psk_ke when it offers it and the
                config allows it (ServerConfig.psk_ke)
    retry       a client with no share in x25519 or secp256r1 that supports one gets a
                HelloRetryRequest naming it (once; a second ClientHello must keep everything but
                key_share, cookie, pre_shared_key, early_data and padding: illegal_parameter otherwise)

The ChangeCipherSpec of middlebox compatibility (appendix D.4) follows our first handshake message
(ServerHello or HelloRetryRequest) when the client's legacy_session_id is not empty; the client's are
dropped until its Finished. The group: the client's first share in x25519 or secp256r1. The signature:
ecdsa_secp256r1_sha256 with a P-256 key, rsa_pss_rsae_sha256 with an RSA key, if the client's
signature_algorithms has it (handshake_failure otherwise).

Tickets (section 4.6.1): after the client's Finished, ServerConfig.issue_tickets NewSessionTickets, each sealed
by the ServerConfig's KeyRing like TLS 1.2's (one key file serves both): a StatePlaintext of version
0x0304 (microticket.tls.state, layout 2) with the suite, the ticket's PSK (from the resumption master
secret and the ticket's nonce), the issue time, the session's creation time, age_add, the SNI and the
external PSK identity if the session came from one. ticket_lifetime: the ring's lifetime left to the
session, at most 7 days. Sent only when the client sent psk_key_exchange_modes with a mode we take.

Resumption checks, in order, per offered identity (the first usable one is selected): an identity of
ServerConfig.psk is an external PSK; otherwise a ticket: opened by the ring (its key window and lifetime),
version 0x0304 (a TLS 1.2 ticket is refused: "parameters"), a TLS 1.3 suite (all ours hash with
SHA-256), the SNI as TLS 1.2 checks it ("server-name"), the external PSK identity still configured
("identity"), the ticket no older than its lifetime ("expired") and its age as the client sees it
(obfuscated_ticket_age - age_add) within _AGE_WINDOW_MS of the age we see ("age": 10 s of clock and
network difference plus the 1-second granularity of ``now``). An unusable ticket sets ``ticket_rejected``
and falls back to a full handshake; the selected identity's binder (over the ClientHello truncated before
the binders, after message_hash(ClientHello1) | HelloRetryRequest if there was one) must verify:
decrypt_error otherwise. A resumption issues a fresh ticket as ServerConfig.reissue says (TLS 1.2's
rule.

0-RTT (section 4.2.10): off unless ``ServerConfig.max_early`` (bytes, set after construction) is not 0; then
tickets carry early_data with it, and their state the early-data tail (microticket.tls.state: the limit
and the ALPN). A ClientHello with early_data loads microticket.tls.early13 (only then), which accepts
(EncryptedExtensions says so, the data comes as ("early_data", bytes) events, EndOfEarlyData before the
client's Finished) or skips the client's early records (section 4.2.10); its module note has the rules.

Post-handshake: KeyUpdate (microticket.tls.hs13.on_key_update); anything else is unexpected_message.
"""

from micropython import const

from microticket import crypto
from microticket import errors
from microticket.tls import codec13_server, hs13, keys13
from microticket.tls.engine import suite_info

_HT_CLIENT_HELLO = const(1)
_HT_FINISHED = const(20)
_HT_KEY_UPDATE = const(24)
_HT_CCS = const(0x100)
_HANDSHAKE_FAILURE = const(40)
_ILLEGAL_PARAMETER = const(47)
_DECRYPT_ERROR = const(51)
_EXT_SERVER_NAME = const(0)
_EXT_MAX_FRAGMENT_LENGTH = const(1)
_EXT_ALPN = const(16)
_EXT_PADDING = const(21)
_EXT_PRE_SHARED_KEY = const(41)
_EXT_EARLY_DATA = const(42)
_EXT_COOKIE = const(44)
_EXT_KEY_SHARE = const(51)
_GROUP_SECP256R1 = const(23)
_GROUP_X25519 = const(29)
_KX_TLS13 = const(5)
_KX_ECDHE_RSA = const(3)
_SIG_ECDSA_SECP256R1_SHA256 = const(0x0403)
_SIG_RSA_PSS_RSAE_SHA256 = const(0x0804)
_VERSION_TLS13 = const(0x0304)
_MAX_LIFETIME = const(604800)  # 7 days (section 4.6.1)
_AGE_WINDOW_MS = const(11000)   # the ticket age check's window (see the module note)
_AUTH_ANONYMOUS = const(0)      # microticket.tls.state's client authentication types
_AUTH_PSK = const(2)

ST_HELLO2 = const(33)  # after a HelloRetryRequest: the second ClientHello
ST_FIN = const(34)     # the client's Finished
ST_OPEN13 = const(99)  # microticket.tls.hs13.ST_OPEN13


def _header(b):
    # the 4-byte header of the ClientHello whose body is ``b``
    n = len(b)
    return bytes((_HT_CLIENT_HELLO, n >> 16, (n >> 8) & 0xFF, n & 0xFF))


def _fingerprint(ch):
    """SHA-256 over what a second ClientHello must repeat (section 4.1.2): random, session ID, suites,
    compression and every extension but key_share, cookie, pre_shared_key, early_data and padding."""
    h = crypto.hash_new("sha256", ch[1])
    h.update(ch[2])
    for x in ch[3]:
        h.update(bytes((x >> 8, x & 0xFF)))
    h.update(ch[4])
    exts = ch[5]
    for t in sorted(exts):
        if t not in (_EXT_KEY_SHARE, _EXT_COOKIE, _EXT_PRE_SHARED_KEY, _EXT_EARLY_DATA, _EXT_PADDING):
            d = exts[t]
            h.update(bytes((t >> 8, t & 0xFF, len(d) >> 8, len(d) & 0xFF)))
            h.update(d)
    return h.digest()


def client_hello(s, body, ch, mfl, sigalgs):
    """The ClientHello (its body ``body``, parsed: ``ch`` = microticket.tls.server.parse_client_hello's
    tuple) of the server engine ``s``, the first or the one after our HelloRetryRequest, from
    TlsServer._on_client_hello, which took server_name (s.server_name), max_fragment_length ``mfl`` (0:
    none) and signature_algorithms ``sigalgs`` (None: none) from it."""
    shares, groups, modes, psk, cookie, early = codec13_server.client_hello13_exts(body, ch[5])
    if ch[4] != b"\x00":
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "TLS 1.3 compression methods")
    cfg = s.cfg
    exts = ch[5]
    s._TABLE = TABLE
    prefix = None
    if s.state == ST_HELLO2:
        prefix, fp, group0, suite0 = s._kx
        if _fingerprint(ch) != fp or cookie is not None:
            raise errors.TlsAlert(_ILLEGAL_PARAMETER, "second ClientHello changed")
    else:
        group0 = suite0 = 0
    suite = 0
    for x in cfg.suites:
        if x in ch[3] and suite_info(x) & 7 == _KX_TLS13:
            suite = x
            break
    if not suite or (suite0 and suite != suite0):
        raise errors.TlsAlert(_HANDSHAKE_FAILURE if not suite else _ILLEGAL_PARAMETER, "TLS 1.3 suite")
    s.suite = suite
    s.client_random = ch[1]
    ee = []  # EncryptedExtensions'
    if cfg.alpn and _EXT_ALPN in exts:  # before anything is sent (RFC 7301: every handshake, a resumption too)
        from microticket.tls import alpn
        alpn.answer(s, exts, ee)
    share = None
    for g, k in shares:
        if g == _GROUP_X25519 or g == _GROUP_SECP256R1:
            share = (g, k)
            break
    if group0 and (share is None or share[0] != group0 or len(shares) != 1):
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "second ClientHello key_share")
    retry = 0
    if share is None:
        retry = _GROUP_X25519 if _GROUP_X25519 in groups else (_GROUP_SECP256R1 if _GROUP_SECP256R1 in groups else 0)

    # a PSK (its binder checked), then the key exchange mode
    s.resumed = False
    s.psk_identity = b""
    acc = 0  # the early data we take (0: none)
    sel, key, st = _choose_psk(s, psk, body, prefix) if psk is not None else (-1, None, None)
    dhe = True
    if key is not None:
        if 1 in modes and (share is not None or (retry and not group0)):
            pass
        elif 0 in modes and cfg.psk_ke:
            dhe = False
            share = None
        else:
            s.ticket_rejected = s.ticket_rejected or "psk-modes"
            sel, key, st = -1, None, None
            s.resumed = False
            s.psk_identity = b""
    if key is None:
        if not cfg.cert_kx:
            raise errors.TlsAlert(_HANDSHAKE_FAILURE, "no certificate and no usable PSK")
        s.sig_scheme = _SIG_ECDSA_SECP256R1_SHA256 if cfg.cert_kx != _KX_ECDHE_RSA else _SIG_RSA_PSS_RSAE_SHA256
        if sigalgs is None or s.sig_scheme not in sigalgs:
            raise errors.TlsAlert(_HANDSHAKE_FAILURE, "no signature scheme for our key")
    if early:  # (0-RTT's module, loaded by a bytes name only then: no name of it on the other paths)
        E = __import__(b"microticket.tls.early13".decode(), None, None, (True,))
        acc = E.answer(s, st, sel, prefix, dhe and share is None, psk, body, ee)
    if dhe and share is None:
        if not retry or group0:
            raise errors.TlsAlert(_HANDSHAKE_FAILURE, "no shared group")
        _retry(s, body, ch, suite, retry)
        return

    # ServerHello, [ChangeCipherSpec], {EncryptedExtensions, [Certificate, CertificateVerify], Finished}
    issue = _issue(s, modes, st)
    # the transcript's snapshots: ServerHello, [Certificate], server Finished's, then one for the client's
    # Finished and the application keys, and one for the resumption secret when tickets follow
    # (+1 with early data: the client's Finished is over EndOfEarlyData too)
    hs13.transcript(s, (3 if key is not None else 4) + issue + (1 if acc else 0), prefix)
    for h in s._th:
        h.update(_header(body))
        h.update(body)
    s.server_random = s.rl.rng(32)
    z = None
    pub = None
    if share is not None:
        from microticket.tls import ecdhe
        s.group = share[0]
        priv, pub = ecdhe.keypair(share[0], s.rl.rng)
        z = ecdhe.shared(share[0], priv, share[1])
        priv = None
    s._queue(codec13_server.server_hello13(s.server_random, ch[2], suite, s.group if dhe else 0, pub, sel))
    s._flush()
    if ch[2] and not group0:
        hs13.send_ccs(s)
    hs13.handshake_keys(s, key, z)
    hs13.switch_write(s, True)
    z = pub = None
    if s.server_name and not s.resumed:
        ee.append((_EXT_SERVER_NAME, b""))
    if mfl:
        rl = s.rl
        rl.max_out = min(rl.max_out, 256 << mfl)
        rl.max_in = min(rl.max_in, 256 << mfl)
        ee.append((_EXT_MAX_FRAGMENT_LENGTH, bytes((mfl,))))
    s._queue(codec13_server.encrypted_extensions(ee))
    ch = exts = body = shares = ee = None
    if key is None:
        s._queue(codec13_server.certificate13(cfg.cert_chain))
        digest = crypto.hash_new("sha256", hs13.signed_content(s._take_hash())).digest()
        k = cfg.key  # RSA-PSS, or ECDSA (RFC 6979 hedged with fresh randomness)
        sig = k.sign_pss_sha256(digest, s.rl.rng(32)) if s.sig_scheme == _SIG_RSA_PSS_RSAE_SHA256 else \
            k.sign(digest, s.rl.rng(32))
        s._queue(codec13_server.certificate_verify(s.sig_scheme, sig))
    s._queue(hs13.finished_message(s, s._take_hash()))
    s._flush()
    th = s._take_hash()
    hs13.application_keys(s, th)
    hs13.switch_write(s)
    hs13.switch_read(s, True)  # the client's handshake keys, once ours are gone (hs13.handshake_keys)
    s._fin_hash = th  # the client's Finished is checked over it (engine._take_hash hands it out first)
    s._issue = issue
    s.state = ST_FIN
    if early:
        E.switch_read(s, key, acc)  # the early keys, or the skipping of section 4.2.10


def _retry(s, body, ch, suite, group):
    """HelloRetryRequest for ``group`` (section 4.1.4), then [ChangeCipherSpec]; the transcript restarts
    with message_hash(ClientHello1) | HelloRetryRequest (kept for the second ClientHello's binder)."""
    h = crypto.hash_new("sha256", _header(body))
    h.update(body)
    prefix = hs13.message_hash(h.digest())
    hs13.transcript(s, 0)  # nothing to snapshot until the second ClientHello (client_hello starts it again)
    m = codec13_server.server_hello13(None, ch[2], suite, group, None)
    s._queue(m)
    s._flush()
    if ch[2]:
        hs13.send_ccs(s)
    s._kx = (prefix + m, _fingerprint(ch), group, suite)
    s.state = ST_HELLO2


def _choose_psk(s, psk, body, prefix):
    """(index, PSK, ticket state or None) of the first usable identity of the pre_shared_key ``psk``
    (codec13_server.client_hello13_exts' tuple), its binder verified; (-1, None, None) when none is usable."""
    ids, binders, tl = psk
    cfg = s.cfg
    for i in range(len(ids)):
        ident = bytes(ids[i][0])
        key = cfg.psk.get(ident)
        st = None
        if key is None:
            st = _open_ticket(s, ident, ids[i][1])
            if st is None:
                continue
            key = st.master_secret
        # section 4.2.11.2: the binder, a Finished MAC over the ClientHello truncated before the binders
        h = crypto.hash_new("sha256", prefix)
        h.update(_header(body))
        h.update(body[0:tl])
        bk = keys13.label(keys13.stage(None, key), b"\x00\x20\x10tls13 ext binder" if st is None else
                          b"\x00\x20\x10tls13 res binder", None)
        if not crypto.ct_equal(keys13.finished(bk, h.digest()), bytes(binders[i])):
            raise errors.TlsAlert(_DECRYPT_ERROR, "PSK binder")
        if st is None:
            s.psk_identity = ident
        else:
            s.resumed = True
            s.ticket_rejected = None
            s.psk_identity = st.identity
            s._created = st.created
            if not s.server_name:
                s.server_name = st.server_name
        return i, key, st
    return -1, None, None


def _open_ticket(s, ticket, obfuscated_age):
    """The TLS 1.3 StatePlaintext sealed in ``ticket`` if it can resume here, else None with
    ``ticket_rejected`` set (the module note's checks)."""
    cfg = s.cfg
    ring = cfg.ring
    s.ticket_offered = True
    if ring is None:
        s.ticket_rejected = "no-ring"
        return None
    from microticket.errors import TicketRejected, DecodeError
    from microticket.tls.state import StatePlaintext
    try:
        v = ring.state_view(ring.open_into(ticket, s.now))
        st = StatePlaintext.decode(v)
        st.max_early = bytes(v[st.encoded_len():])  # the early-data tail (microticket.tls.state) or b""
    except TicketRejected as e:
        s.ticket_rejected = e.reason
        return None
    except DecodeError:
        s.ticket_rejected = "malformed"
        return None
    why = None
    age = s.now - st.timestamp
    if st.version != _VERSION_TLS13 or suite_info(st.cipher_suite) & 7 != _KX_TLS13:
        why = "parameters"
    elif st.server_name and s.server_name and st.server_name != s.server_name:
        why = "server-name"
    elif st.auth_type == _AUTH_PSK and st.identity not in cfg.psk:
        why = "identity"
    elif age > min(ring.lifetime, _MAX_LIFETIME) or age < -ring.skew:
        why = "expired"
    elif abs(((obfuscated_age - st.age_add) & 0xFFFFFFFF) - age * 1000) > _AGE_WINDOW_MS:
        why = "age"
    if why is not None:
        s.ticket_rejected = why
        return None
    return st


def _issue(s, modes, st):
    """1 when NewSessionTickets follow this handshake (0 otherwise): a ring, issue_tickets, a mode the
    client can resume with (psk_dhe_ke, or psk_ke when we take it), and on resumption ServerConfig.reissue
    (TLS 1.2's rule)."""
    cfg = s.cfg
    if cfg.ring is None or not cfg.issue_tickets or not (1 in modes or (0 in modes and cfg.psk_ke)):
        return 0
    if st is None:
        s._created = s.now
        return 1
    r = cfg.reissue
    return 1 if r == "always" or (r == "renew" and cfg.ring.should_renew) else 0


def _on_finished(s, t, b):
    """The client's Finished: checked, its application keys switched on for reading, then our tickets."""
    hs13.check_finished(s, b, s._take_hash())
    hs13.switch_read(s)
    if s._issue:
        hs13.resumption_secret(s, s._take_hash())
        _send_tickets(s)
    s.state = ST_OPEN13
    s.handshake_done = True
    s.events.append(("handshake_done",))


def _send_tickets(s):
    """ServerConfig.issue_tickets NewSessionTickets (the module note); none when sealing fails (a state too
    large for the ring)."""
    from microticket.tls.state import StatePlaintext
    cfg = s.cfg
    ring = cfg.ring
    life = min(ring.lifetime - (s.now - s._created), _MAX_LIFETIME)
    if life <= 0:
        return
    auth = _AUTH_PSK if s.psk_identity else _AUTH_ANONYMOUS
    m = getattr(cfg, "max_early", 0)  # 0-RTT (the module note)
    tail = b""
    if m:
        a = s.alpn_protocol or b""
        tail = bytes((m >> 24, (m >> 16) & 0xFF, (m >> 8) & 0xFF, m & 0xFF, len(a))) + a
    for i in range(int(cfg.issue_tickets)):
        nonce = bytes((i,))
        r = s.rl.rng(4)
        age_add = (r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]
        st = StatePlaintext(_VERSION_TLS13, s.suite, hs13.ticket_psk(s.master, nonce), auth_type=auth,
                            identity=s.psk_identity, timestamp=s.now, created=s._created,
                            server_name=s.server_name, age_add=age_add)
        try:
            ticket = ring.seal(st.encode() + tail, s.now, s._created)
        except (errors.MicroticketError, ValueError):
            return
        s._queue(codec13_server.new_session_ticket13(life, age_add, nonce, ticket, m))
        s._flush()
        s.ticket_issued = True


def on_client_hello2(s, t, b):
    s._on_client_hello(t, b)  # the server's common checks, and back to client_hello


# keys: state << 9 | message type (microticket.tls.engine); a missing pair is unexpected_message
TABLE = {
    ST_HELLO2 << 9 | _HT_CLIENT_HELLO: on_client_hello2,
    ST_HELLO2 << 9 | _HT_CCS: hs13.on_ccs,
    ST_FIN << 9 | _HT_CCS: hs13.on_ccs,
    ST_FIN << 9 | _HT_FINISHED: _on_finished,
    ST_OPEN13 << 9 | _HT_KEY_UPDATE: hs13.on_key_update,
}
