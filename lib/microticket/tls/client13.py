"""The TLS 1.3 half of the client engine (microticket.tls.client.Client, RFC 8446): the ClientHello that offers
TLS 1.3 beside TLS 1.2, and the handshake's handlers with their state table, which the engine takes over
when the ServerHello says TLS 1.3 (``c._TABLE = TABLE``). Loaded only by a client that offers TLS 1.3.

    ClientHello   supported_versions (1.3, 1.2), key_share x25519 (secp256r1 after a HelloRetryRequest),
                  psk_key_exchange_modes, pre_shared_key last with its binder (section 4.2.11.2): a TLS 1.3
                  ticket from the cache, or the external PSK (``Client(psk=...)``, "ext binder"); a TLS 1.2
                  ticket goes in session_ticket as before, never as a PSK (nor a TLS 1.3 ticket there)
    ServerHello   TLS 1.2 (then the downgrade sentinel of section 4.1.3 is checked and the TLS 1.2 path
                  goes on), a HelloRetryRequest (once: a second ClientHello with the share asked for and
                  the cookie), or TLS 1.3: handshake keys from the (EC)DHE secret and/or the PSK
    EncryptedExtensions, then Certificate and CertificateVerify (not when a PSK was accepted): the
                  certificate checked by the authentication module (a pin or X.509, as TLS 1.2), the
                  signature (ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256) over the transcript
    Finished      the server's checked, ours sent (after a ServerHello what we send is protected: our
                  ChangeCipherSpec of middlebox compatibility, appendix D.4, goes first, the
                  ClientHello's legacy_session_id being 32 random bytes); application keys
    after it      NewSessionTicket (whenever it comes: a ("ticket", server_id, entry) event each, the
                  ticket's PSK derived from the resumption secret and its nonce, its lifetime at most 7
                  days, its ticket_age_add kept for obfuscated_ticket_age), KeyUpdate

0-RTT (microticket.tls.early13, loaded only when offered): ``cli.early_data = b"..."`` before start() offers
it (early_data in the first ClientHello) when the cached ticket came with early_data (the cache entry's
10th field: max_early_data_size and the connection's ALPN) and the data fits both that size and the
output buffer beside the ClientHello; ``early_accepted`` says what the server did.

psk_key_exchange_modes: ``Client(psk_modes=...)``, psk_dhe_ke and psk_ke by default. With psk_ke only and
a PSK to offer, the ClientHello's key_share is empty: a board resumes with HMACs only.

Transcript snapshots (engine._take_hash pops one SHA-256 object; a handler runs after its message joined
the transcript, so the hash "before" a message is taken by the previous handler and parked in
_fin_hash): ServerHello, Certificate (for CertificateVerify), CertificateVerify or EncryptedExtensions
(for the server Finished), the server Finished, our Finished: five objects.
"""

from micropython import const

from microticket import crypto
from microticket import errors
from microticket.tls import codec13, hs13, keys13
from microticket.tls.engine import suite_info, client_hello
from microticket.tls.cache import store_ticket, entry

_HT_SERVER_HELLO = const(2)
_HT_NEW_SESSION_TICKET = const(4)
_HT_ENCRYPTED_EXTENSIONS = const(8)
_HT_CERTIFICATE = const(11)
_HT_CERTIFICATE_REQUEST = const(13)
_HT_CERTIFICATE_VERIFY = const(15)
_HT_FINISHED = const(20)
_HT_KEY_UPDATE = const(24)
_HT_CCS = const(0x100)
_UNEXPECTED_MESSAGE = const(10)
_HANDSHAKE_FAILURE = const(40)
_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_DECRYPT_ERROR = const(51)
_KX_TLS13 = const(5)
_GROUP_SECP256R1 = const(23)
_GROUP_X25519 = const(29)
_SIG_ECDSA_SECP256R1_SHA256 = const(0x0403)
_MAX_TICKET = const(2048)  # microticket.tls.cache
# SHA-256("HelloRetryRequest"), the random of a HelloRetryRequest (section 4.1.3; codec13's)
_HRR_RANDOM = const(b"\xcf\x21\xad\x74\xe5\x9a\x61\x11\xbe\x1d\x8c\x02\x1e\x65\xb8\x91"
                    b"\xc2\xa2\x11\x16\x7a\xbb\x8c\x5e\x07\x9e\x09\xe2\xc8\xa8\x33\x9c")
# states (engine: 32..98 the TLS 1.3 handshake's, 99 open)
_S_SH2 = const(33)   # ServerHello after our second ClientHello
_S_EE = const(34)    # EncryptedExtensions
_S_CERT = const(35)  # Certificate
_S_CV = const(36)    # CertificateVerify
_S_FIN = const(37)   # the server Finished
_ST_OPEN13 = const(99)
# Client._opt bits (microticket.tls.client)
_O_DHE = const(0x1000)     # offer psk_dhe_ke
_O_KE = const(0x2000)      # offer psk_ke
_O_PSK_OK = const(0x4000)  # the server took our PSK
_O_HRR = const(0x8000)     # a HelloRetryRequest came
_O_CR = const(0x10000)     # the server sent CertificateRequest: we answer with no certificate
_O_EARLY = const(0x20000)  # early data offered (microticket.tls.early13)
_O_EARLY_OK = const(0x40000)  # ... and accepted
_EXT_EARLY_DATA = const(42)
# fields of a cache entry (microticket.tls.cache)
_E_TICKET = const(0)
_E_MASTER = const(1)
_E_SUITE = const(2)
_E_RECEIVED = const(4)
_E_AGE_ADD = const(8)
_E_EARLY = const(9)  # (TLS 1.3 tickets with early_data only) max_early_data_size (4 bytes) | ALPN
# the hello phase's _kx: [group, private key, public key, ClientHello1's hash, PSK, the PSK is a ticket,
# (identity, age in ms, ticket_age_add), the transcript before the ClientHello, TLS 1.2 ticket]
_K_GROUP = const(0)
_K_PRIV = const(1)
_K_PUB = const(2)
_K_CH1 = const(3)
_K_PSK = const(4)
_K_TICKET = const(5)
_K_ID = const(6)
_K_PREFIX = const(7)
_K_T12 = const(8)


def start(c, e):
    """Build (the caller sends it) the ClientHello of the client ``c`` offering TLS 1.3 (and TLS 1.2), with the cache
    entry ``e`` (or None): a TLS 1.3 ticket as the PSK, a TLS 1.2 ticket in session_ticket."""
    rng = c.rl.rng
    c._sid = rng(32)  # appendix D.4
    opt = c._opt
    t12 = None
    psk = None
    ident = None
    ticket = False
    if e is not None and suite_info(e[_E_SUITE]) & 7 == _KX_TLS13:
        # obfuscated_ticket_age: the age in ms plus the server's ticket_age_add (section 4.2.11.1)
        psk = e[_E_MASTER]
        ident = (e[_E_TICKET], (c.now - e[_E_RECEIVED]) * 1000, e[_E_AGE_ADD])
        ticket = True
        if len(e) > _E_EARLY and len(e[_E_EARLY]) >= 5:  # 0-RTT (the module note): the name looked up only
            d = getattr(c, b"early_data".decode(), None)  # here, by bytes
            t = e[_E_EARLY]
            if d and len(d) <= (t[0] << 24) | (t[1] << 16) | (t[2] << 8) | t[3] and \
                    len(d) + len(e[_E_TICKET]) + 600 <= len(c.rl._ob):
                opt |= _O_EARLY
                c._opt = opt
    else:
        t12 = e[_E_TICKET] if e is not None else None
        if c.psk is not None:
            psk = c.psk
            ident = (c.psk_identity, 0, 0)
    kx = c._kx = [0, None, None, None, psk, ticket, ident, b"", t12]
    # a key share unless only psk_ke is offered with a PSK (that a refusal could not fall back from anyway
    # without a certificate's authentication)
    if psk is None or opt & _O_DHE or (c.pin_sha256 is not None or c.trust is not None) and not ticket:
        kx[_K_GROUP] = _GROUP_X25519
        from microticket.tls import ecdhe  # (not loaded by a psk_ke resumption)
        kx[_K_PRIV], kx[_K_PUB] = ecdhe.keypair(_GROUP_X25519, rng)
    # (+1: our CertificateVerify's; +1: EndOfEarlyData's)
    hs13.transcript(c, (7 if getattr(c, "client_cert", None) else 6) + (1 if opt & _O_EARLY else 0))
    m = _hello(c)
    kx[_K_CH1] = crypto.sha256(m)
    return m


def _hello(c, cookie=None):
    # the ClientHello (its binder written) for the hello phase's _kx
    kx = c._kx
    opt = c._opt
    g = kx[_K_GROUP]
    shares = [(g, kx[_K_PUB])] if g else []
    ident = kx[_K_ID]
    modes = (b"\x01" if opt & _O_DHE else b"") + (b"\x00" if opt & _O_KE else b"")
    # psk_ke only: key_share with no share at all (section 9.2 lets client_shares be empty; supported_groups
    # and key_share go together)
    ext = codec13.hello_exts13([_GROUP_X25519, _GROUP_SECP256R1], shares, modes, cookie, ident)
    if opt & _O_EARLY and not opt & _O_HRR:  # early_data before pre_shared_key (the last), first hello only
        ext.insert(len(ext) - 1, (_EXT_EARLY_DATA, b""))
    m, c._sent = client_hello(c, kx[_K_T12], ext)
    if ident is not None:
        n = codec13.truncated_len(m)
        h = crypto.hash_new("sha256", kx[_K_PREFIX])
        h.update(memoryview(m)[0:n])
        early = keys13.stage(None, kx[_K_PSK])
        bk = keys13.label(early, b"\x00\x20\x10tls13 res binder" if kx[_K_TICKET] else
                          b"\x00\x20\x10tls13 ext binder", None)
        codec13.put_binder(m, keys13.finished(bk, h.digest()))
    return m


def _on_server_hello(c, b):
    """The ServerHello body ``b`` after our TLS 1.3 ClientHello: False for a TLS 1.2 one (the engine's
    TLS 1.2 path takes it, after the downgrade check); True when this module took it (the engine's table
    is this module's from now on)."""
    kx = c._kx
    suites = [s for s in c.suites if suite_info(s) & 7 == _KX_TLS13]
    shared = [kx[_K_GROUP]] if kx[_K_GROUP] else []
    r = codec13.parse_server_hello13(b, c._sid, suites, [_GROUP_X25519, _GROUP_SECP256R1], shared,
                                     1 if kx[_K_ID] is not None else 0)
    if r is None:
        codec13.check_downgrade(b)
        p = 35 + b[34]
        if p + 2 <= len(b) and suite_info((b[p] << 8) | b[p + 1]) & 7 == _KX_TLS13:
            raise errors.TlsAlert(_ILLEGAL_PARAMETER, "ServerHello")
        c._kx = None
        return False
    c._TABLE = TABLE
    _server_hello13(c, b, r)
    return True


def _server_hello13(c, b, r):
    hrr, suite, group, share, sel, cookie = r
    kx = c._kx
    opt = c._opt
    if hrr:  # (the first: _on_server_hello2 refuses a second one)
        c._opt |= _O_HRR
        c.suite = suite
        # the transcript from now on: message_hash(ClientHello1), the HelloRetryRequest (section 4.4.1)
        n = len(b)
        prefix = hs13.message_hash(kx[_K_CH1]) + bytes((_HT_SERVER_HELLO, n >> 16, (n >> 8) & 0xFF, n & 0xFF)) + b
        kx[_K_PREFIX] = prefix
        hs13.transcript(c, 7 if getattr(c, "client_cert", None) else 6, prefix)
        if group:
            kx[_K_GROUP] = group
            from microticket.tls import ecdhe
            kx[_K_PRIV], kx[_K_PUB] = ecdhe.keypair(group, c.rl.rng)
        m = _hello(c, cookie)
        c._send_message(m)
        c.state = _S_SH2
        return
    if opt & _O_HRR and suite != c.suite:
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "ServerHello")  # section 4.1.4
    c.suite = suite
    c.server_random = bytes(b[2:34])
    psk = None
    if sel >= 0:
        if not group and not opt & _O_KE:
            raise errors.TlsAlert(_ILLEGAL_PARAMETER, "ServerHello")
        psk = kx[_K_PSK]
        c._opt |= _O_PSK_OK
        c.resumed = kx[_K_TICKET]
    elif kx[_K_TICKET] is False and c.pin_sha256 is None and c.trust is None:
        # an external PSK refused, and no way to authenticate a certificate
        raise errors.TlsAlert(_HANDSHAKE_FAILURE, "ServerHello")
    dhe = None
    if group:
        from microticket.tls import ecdhe
        dhe = ecdhe.shared(group, kx[_K_PRIV], share)
    kx = None
    hs13.handshake_keys(c, psk, dhe)
    # from here on what we send is protected, an alert too (section 5.1): the compatibility ChangeCipherSpec
    # first (appendix D.4; with early data it followed the ClientHello), then our handshake traffic keys
    if not opt & _O_EARLY:
        hs13.send_ccs(c)
    hs13.switch_write(c, True)
    c.state = _S_EE


def _on_server_hello2(c, t, b):
    if bytes(b[2:34]) == _HRR_RANDOM:  # section 4.1.4: before the checks a first one gets (its group ...)
        raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "second HelloRetryRequest")
    kx = c._kx
    r = codec13.parse_server_hello13(b, c._sid, [c.suite], [_GROUP_X25519, _GROUP_SECP256R1],
                                     [kx[_K_GROUP]] if kx[_K_GROUP] else [], 1 if kx[_K_ID] is not None else 0)
    if r is None or r[0]:
        raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "ServerHello")
    _server_hello13(c, b, r)


def _on_encrypted_extensions(c, t, b):
    sni, alpn, mfl, early = codec13.parse_encrypted_extensions(b, c._sent)
    if mfl:
        if mfl != (c._opt >> 8) & 7:  # _O_MFL (microticket.tls.client): the code we asked for
            raise errors.TlsAlert(_ILLEGAL_PARAMETER, "EncryptedExtensions")
        rl = c.rl
        rl.max_out = min(rl.max_out, 256 << mfl)
        rl.max_in = min(rl.max_in, 256 << mfl)
    if alpn is not None:
        from microticket.tls import alpn as a
        c.alpn_protocol = a.parse(c, alpn)
    if c._opt & _O_EARLY:  # (early_data came only if the ClientHello it answers offered it: codec13)
        __import__(b"microticket.tls.early13".decode(), None, None, (True,)).parse(c, early)
    if c._opt & _O_PSK_OK:
        c._fin_hash = c._take_hash()  # for the server Finished
        c.state = _S_FIN
    else:
        c.state = _S_CERT


def _on_certificate_request(c, t, b):
    """CertificateRequest (section 4.3.2): our Certificate (after the server Finished) echoes the request's
    context (kept in _kx); with a client certificate (``client_cert``) microticket.tls.client_auth reads the
    request's signature_algorithms and chooses, else the Certificate is empty (section 4.4.2)."""
    n = len(b)
    if n < 3 or 1 + b[0] + 2 > n or 3 + b[0] + ((b[1 + b[0]] << 8) | b[2 + b[0]]) != n:
        raise errors.TlsAlert(_DECODE_ERROR, "CertificateRequest")
    if c._opt & _O_CR:
        raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "CertificateRequest")
    c._opt |= _O_CR
    c._kx.append(bytes(b[0:1 + b[0]]))  # the context, its length byte first
    if getattr(c, "client_cert", None) is not None:
        from microticket.tls import client_auth
        client_auth.request13(c, b, 1 + b[0])


def _on_certificate(c, t, b):
    if c.pin_sha256 is None and c.trust is None:
        raise errors.TlsAlert(_HANDSHAKE_FAILURE, "Certificate")
    from microticket.tls.kx_ecdhe_cert import client_certificate
    c._kx.append(client_certificate(c, codec13.parse_certificate13(b)))
    c._fin_hash = c._take_hash()  # for CertificateVerify
    c.state = _S_CV


def _on_certificate_verify(c, t, b):
    scheme, sig = codec13.parse_certificate_verify(b)
    key = c._kx.pop()
    ec = isinstance(key, bytes)  # a P-256 point, or an RSA public key
    if ec != (scheme == _SIG_ECDSA_SECP256R1_SHA256):
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "CertificateVerify")
    h = crypto.sha256(hs13.signed_content(c._take_hash()))
    if ec:
        from microticket.pk import p256
        ok = p256.verify(key, h, sig)
    else:
        ok = key.verify_pss_sha256(h, sig)
    if not ok:
        raise errors.TlsAlert(_DECRYPT_ERROR, "CertificateVerify")
    c._fin_hash = c._take_hash()  # for the server Finished
    c.state = _S_FIN


def _on_finished(c, t, b):
    hs13.check_finished(c, b, c._take_hash())
    # each cipher state dropped before the next is made (an AES-GCM key holds 2 KB of tables): the server's
    # handshake keys read their last record, this one
    rl = c.rl
    rl.read = None
    th = c._take_hash()
    hs13.application_keys(c, th)
    if c._opt & _O_EARLY_OK:  # EndOfEarlyData first (section 4.5), our Finished over it
        th = __import__(b"microticket.tls.early13".decode(), None, None, (True,)).finished_message(c)
    if c._opt & _O_CR:  # our Certificate (section 4.4.2; empty without one), our Finished over it too
        ctx = c._kx[5]
        if getattr(c, "_cc", None) is not None:
            from microticket.tls import client_auth
            c._send_message(client_auth.certificate(c, ctx))
            th = c._take_hash()
            if c._cc[0]:  # our CertificateVerify (section 4.4.3), over the transcript up to the Certificate
                c._send_message(client_auth.verify(c, th, True))
                th = c._take_hash()
        else:
            k = len(ctx) + 3
            c._send_message(bytes((_HT_CERTIFICATE, 0, 0, k)) + ctx + b"\0\0\0")
            th = c._take_hash()
    c._send_message(hs13.finished_message(c, th))
    rl.write_cs = None
    hs13.switch_write(c)
    hs13.switch_read(c)
    hs13.resumption_secret(c, c._take_hash())
    del c._kx[3:]  # the handshake traffic secrets
    c._th = []
    c.state = _ST_OPEN13
    c.handshake_done = True
    store_ticket(c)  # drops an offered ticket the server did not take (its new ones come after)
    c.events.append(("handshake_done",))


def _on_new_session_ticket(c, t, b):
    life, age_add, nonce, ticket, early = codec13.parse_new_session_ticket13(b)
    if life and len(ticket) <= _MAX_TICKET:
        c.ticket_received = True
        e = entry(ticket, hs13.ticket_psk(c.master, nonce), c.suite, False, c.now, life, c.server_name,
                  c.psk_identity, age_add)
        if early:  # max_early_data_size and this connection's ALPN (the 0-RTT conditions, section 4.2.10)
            a = c.alpn_protocol or b""
            e.append(bytes((early >> 24, (early >> 16) & 0xFF, (early >> 8) & 0xFF, early & 0xFF, len(a))) + a)
        c.events.append(("ticket", c.server_id, e))


TABLE = {
    _S_SH2 << 9 | _HT_SERVER_HELLO: _on_server_hello2,
    _S_SH2 << 9 | _HT_CCS: hs13.on_ccs,
    _S_EE << 9 | _HT_ENCRYPTED_EXTENSIONS: _on_encrypted_extensions,
    _S_EE << 9 | _HT_CCS: hs13.on_ccs,
    _S_CERT << 9 | _HT_CERTIFICATE: _on_certificate,
    _S_CERT << 9 | _HT_CERTIFICATE_REQUEST: _on_certificate_request,
    _S_CERT << 9 | _HT_CCS: hs13.on_ccs,
    _S_CV << 9 | _HT_CERTIFICATE_VERIFY: _on_certificate_verify,
    _S_CV << 9 | _HT_CCS: hs13.on_ccs,
    _S_FIN << 9 | _HT_FINISHED: _on_finished,
    _S_FIN << 9 | _HT_CCS: hs13.on_ccs,
    _ST_OPEN13 << 9 | _HT_NEW_SESSION_TICKET: _on_new_session_ticket,
    _ST_OPEN13 << 9 | _HT_KEY_UPDATE: hs13.on_key_update,
}
