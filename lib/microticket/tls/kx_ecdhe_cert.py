"""ECDHE with a certificate, both roles: the ECDHE_RSA and ECDHE_ECDSA suites (RFC 8422 section 5.4 with
the TLS 1.2 DigitallySigned of RFC 5246 section 4.7). Loaded only by a full handshake.

The server sends Certificate (RFC 5246 section 7.4.2) and a ServerKeyExchange whose ServerECDHParams
(microticket.tls.ecdhe) are signed over client_random | server_random | params, with SHA-256 and the
scheme (RFC 8446 section 4.2.3 numbers) both sides offer: ecdsa_secp256r1_sha256 for a P-256 key;
rsa_pss_rsae_sha256, else rsa_pkcs1_sha256, for an RSA key. The client checks the certificate with its
authentication module (microticket.tls.auth_pin: a pinned key; microticket.tls.auth_x509: a chain to a
trusted root), which returns the server's key (an RSA
public key, or the 65-byte P-256 point), and the signature with it, then sends its share. The premaster
secret is the ECDH shared secret. The contract is the one described in microticket.tls.kx_psk.
"""

from micropython import const

from microticket import crypto, pk
from microticket import errors  # TlsAlert: created on the first error (microticket.errors)
from microticket.tls.engine import suite_info

_HT_CERTIFICATE = const(11)
_HT_SERVER_KEY_EXCHANGE = const(12)
_HT_CERTIFICATE_REQUEST = const(13)
_HT_CLIENT_KEY_EXCHANGE = const(16)
_UNEXPECTED_MESSAGE = const(10)
_BAD_CERTIFICATE = const(42)
_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_DECRYPT_ERROR = const(51)
_SIG_RSA_PKCS1_SHA256 = const(0x0401)
_SIG_ECDSA_SECP256R1_SHA256 = const(0x0403)
_SIG_RSA_PSS_RSAE_SHA256 = const(0x0804)
_KX_ECDHE_ECDSA = const(4)  # microticket.tls.engine.KX_ECDHE_ECDSA
_KX_TLS13 = const(5)


def _signed_hash(e, params):
    h = crypto.hash_new("sha256", e.client_random)
    h.update(e.server_random)
    h.update(params)
    return h.digest()


# --- client ----------------------------------------------------------------------------------------

def client_message(c, t, b, ok):
    """The client's full handshake: Certificate, ServerKeyExchange or ServerHelloDone (type ``t``, body
    ``b``); ``ok``: the message it must follow came first. For ServerHelloDone: ClientKeyExchange is
    sent and the premaster secret returned."""
    if t == _HT_CERTIFICATE:
        c._kx = client_certificate(c, b)
        return None
    if t == _HT_SERVER_KEY_EXCHANGE:
        return client_server_key_exchange(c, b, ok)
    if t == _HT_CERTIFICATE_REQUEST:  # what our Certificate will hold (the client's certificate, if any)
        from microticket.tls import client_auth
        return client_auth.request12(c, b)
    return client_key_exchange(c, ok)


def client_certificate(c, b):
    """certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>, leaf first: the server's key, from the
    authentication module (TLS 1.3's Certificate is turned into this form first: codec13)."""
    n = len(b)
    if n < 3 or 3 + ((b[0] << 16) | (b[1] << 8) | b[2]) != n:
        raise errors.TlsAlert(_DECODE_ERROR, "Certificate")
    if n == 3:
        raise errors.TlsAlert(_BAD_CERTIFICATE, "empty certificate list")
    p = 3
    while p < n:
        if p + 3 > n:
            raise errors.TlsAlert(_DECODE_ERROR, "Certificate")
        k = (b[p] << 16) | (b[p + 1] << 8) | b[p + 2]
        if not k or p + 3 + k > n:
            raise errors.TlsAlert(_DECODE_ERROR, "Certificate")
        p += 3 + k
    k = (b[3] << 16) | (b[4] << 8) | b[5]
    if c.trust is not None:
        from microticket.tls import auth_x509 as auth
        return auth.server_key(c, b[6:6 + k], b)
    from microticket.tls import auth_pin as auth
    k = auth.server_key(c, b[6:6 + k], b)
    # the pin's modules are done with (microticket.pk.x509 holds der: not unloaded for a CA file); a TLS 1.3
    # client is done with this module too (its CertificateVerify is verified by microticket.tls.client13)
    pk.unload(b"tls.auth_pin pk.der tls.kx_ecdhe_cert" if suite_info(c.suite) & 7 == _KX_TLS13 else
              b"tls.auth_pin pk.der")
    auth = None
    return k


def client_server_key_exchange(c, b, after_certificate):
    """ServerECDHParams, SignatureAndHashAlgorithm, signature<0..2^16-1>: verified with the server key."""
    if not after_certificate:
        raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "ServerKeyExchange before Certificate")
    from microticket.tls import ecdhe
    g, point, p = ecdhe.parse_params(b, 0)
    n = len(b)
    if p + 4 > n or p + 4 + ((b[p + 2] << 8) | b[p + 3]) != n:
        raise errors.TlsAlert(_DECODE_ERROR, "ServerKeyExchange")
    scheme = (b[p] << 8) | b[p + 1]
    key = c._kx
    ec = isinstance(key, bytes)  # auth_pin: a P-256 point, or an RSA public key
    # the scheme must be one we offered, of the certificate's key and of the suite's key exchange
    if ec != ((suite_info(c.suite) & 7) == _KX_ECDHE_ECDSA) or \
            (scheme != _SIG_ECDSA_SECP256R1_SHA256 if ec else
             scheme != _SIG_RSA_PSS_RSAE_SHA256 and scheme != _SIG_RSA_PKCS1_SHA256):
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "signature algorithm")
    h = _signed_hash(c, b[0:p])
    sig = b[p + 4:n]
    if ec:
        from microticket.pk import p256
        ok = p256.verify(key, h, sig)
    else:
        ok = key.verify_pss_sha256(h, sig) if scheme == _SIG_RSA_PSS_RSAE_SHA256 else \
            key.verify_pkcs1_sha256(h, sig)
    if not ok:
        raise errors.TlsAlert(_DECRYPT_ERROR, "bad ServerKeyExchange signature")
    c._kx = (g, point)


def client_key_exchange(c, after_server_key_exchange):
    """Send ClientKeyExchange (our share, ECPoint<1..255>), after our Certificate when the server asked;
    returns the premaster secret, or None when we sent a certificate (the keys made here, then our
    CertificateVerify)."""
    if not after_server_key_exchange:
        raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "ServerHelloDone before ServerKeyExchange")
    g, point = c._kx
    cc = getattr(c, "_cc", None)
    if cc is not None:  # the server asked for our certificate (RFC 5246 7.4.6): (scheme, chain, key)
        c._send_message(certificate(cc[1] or ()))
    from microticket.tls import ecdhe
    priv, pub = ecdhe.keypair(g, c.rl.rng)
    z = ecdhe.shared(g, priv, point)
    ecdhe = priv = None
    # the full handshake's public-key work is done: its modules unloaded before the keys are made (on a board
    # the record protection's tables are the handshake's largest objects; this module goes when its caller
    # returns); a client certificate's signature imports what it needs again
    pk.unload(b"pk.p256 pk.rsa tls.kx_ecdhe_cert")
    k = len(pub)
    m = bytearray(5 + k)
    m[0] = _HT_CLIENT_KEY_EXCHANGE
    m[3] = 1 + k
    m[4] = k
    m[5:] = pub
    c._send_message(m)
    if cc is None or not cc[0]:
        return z
    # our certificate went out: the keys now, then CertificateVerify (RFC 5246 7.4.8) over the messages up to
    # ClientKeyExchange (the extended master secret's session hash); our Finished is over it too (None: the
    # keys are made)
    c._make_keys(z)
    th = c._fin_hash if c.ems else c._take_hash()
    c._fin_hash = None
    from microticket.tls import client_auth
    c._send_message(client_auth.verify(c, th, False))
    return None


# --- server ----------------------------------------------------------------------------------------

def _header(t, n):
    return bytes((t, n >> 16, (n >> 8) & 0xFF, n & 0xFF))


def certificate(chain):
    """A TLS 1.2 Certificate (RFC 5246 section 7.4.2): certificate_list of ``chain`` (DER, leaf first; empty:
    a client without a certificate to send, section 7.4.6). Both roles: server_flight, and the client's
    client_key_exchange when the server asked (microticket.tls.client_auth chose the chain)."""
    n = 0
    for cert in chain:
        n += 3 + len(cert)
    m = bytearray(_header(_HT_CERTIFICATE, 3 + n) + bytes((n >> 16, (n >> 8) & 0xFF, n & 0xFF)))
    for cert in chain:
        k = len(cert)
        m += bytes((k >> 16, (k >> 8) & 0xFF, k & 0xFF))
        m += cert
    return m


def server_flight(s):
    """Certificate (the configured chain, leaf first), then the signed ServerKeyExchange."""
    s._queue(certificate(s.cfg.cert_chain))
    from microticket.tls import ecdhe
    s._kx, pub = ecdhe.keypair(s.group, s.rl.rng)
    params = ecdhe.params(s.group, pub)
    digest = _signed_hash(s, params)
    pub = None
    key = s.cfg.key
    scheme = s.sig_scheme
    if scheme == _SIG_RSA_PKCS1_SHA256:
        sig = key.sign_pkcs1_sha256(digest)
    elif scheme == _SIG_RSA_PSS_RSAE_SHA256:
        sig = key.sign_pss_sha256(digest, s.rl.rng(32))
    else:
        sig = key.sign(digest, s.rl.rng(32))  # RFC 6979, hedged with fresh randomness
    k = len(sig)
    s._queue(_header(_HT_SERVER_KEY_EXCHANGE, len(params) + 4 + k) + params +
             bytes((scheme >> 8, scheme & 0xFF, k >> 8, k & 0xFF)) + sig)


def server_client_key_exchange(s, b):
    n = len(b)
    if n < 2 or 1 + b[0] != n:
        raise errors.TlsAlert(_DECODE_ERROR, "ClientKeyExchange")
    from microticket.tls import ecdhe
    z = ecdhe.shared(s.group, s._kx, b[1:n])
    s._kx = None
    # P-256 (the signature is sent) and this module are done with until the next full handshake: unloaded
    # before the keys and the ticket (a board server's smallest heap is at its ticket)
    pk.unload(b"pk.p256 tls.kx_ecdhe_cert")
    return z
