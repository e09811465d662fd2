"""The client's certificate when a server asks for one (CertificateRequest), TLS 1.2 (RFC 5246 sections 7.4.4,
7.4.6, 7.4.8) and TLS 1.3 (RFC 8446 sections 4.3.2, 4.4.2, 4.4.3). Loaded only by a full handshake in which
the server asks: never by a resumption, whose session carries the identity the server verified.

A client given ``client_cert`` (a function returning (chain: [DER, leaf first], private key of
microticket.pk.keys: RSA or P-256), called only now: its files are read only when a server asks) answers
with its chain and a CertificateVerify: ecdsa_secp256r1_sha256 for a P-256 key, rsa_pss_rsae_sha256 for an
RSA key (TLS 1.2 also rsa_pkcs1_sha256 when the server offers only that), a scheme the request lists and,
in TLS 1.2, a certificate type it lists (rsa_sign, ecdsa_sign). A client without one, or whose key the
request does not take, sends an empty Certificate (RFC 5246 7.4.6, RFC 8446 4.4.2): the server decides
whether that is enough (OpenSSL's -verify asks and goes on; -Verify and nginx's ssl_verify_client on
refuse with an alert).

The choice is kept in the engine's ``_cc``: (scheme, chain, key), scheme 0 for the empty Certificate.
"""

from micropython import const

from microticket import crypto
from microticket import errors
from microticket.tls.engine import suite_info

_HT_CERTIFICATE_VERIFY = const(15)
_UNEXPECTED_MESSAGE = const(10)
_DECODE_ERROR = const(50)
_EXT_SIGNATURE_ALGORITHMS = const(13)
_SIG_RSA_PKCS1_SHA256 = const(0x0401)
_SIG_ECDSA_SECP256R1_SHA256 = const(0x0403)
_SIG_RSA_PSS_RSAE_SHA256 = const(0x0804)
_CT_RSA_SIGN = const(1)
_CT_ECDSA_SIGN = const(64)
_KX_ECDHE_RSA = const(3)  # microticket.tls.engine's key exchanges (ECDHE_ECDSA: 4)


def _u16s(b, p, e):
    return [(b[i] << 8) | b[i + 1] for i in range(p, e, 2)]


def _choose(c, schemes, types, v13):
    """``c._cc`` for the schemes (and, TLS 1.2, certificate types) the server takes."""
    c._cc = (0, None, None)
    f = getattr(c, "client_cert", None)
    if f is None:
        return
    chain, key = f()
    if key.kind == "p256":
        ok = (v13 or _CT_ECDSA_SIGN in types) and _SIG_ECDSA_SECP256R1_SHA256 in schemes
        scheme = _SIG_ECDSA_SECP256R1_SHA256
    else:
        ok = v13 or _CT_RSA_SIGN in types
        scheme = _SIG_RSA_PSS_RSAE_SHA256
        if _SIG_RSA_PSS_RSAE_SHA256 not in schemes:  # (TLS 1.3 never signs with PKCS#1 v1.5: section 4.4.3)
            ok = ok and not v13 and _SIG_RSA_PKCS1_SHA256 in schemes
            scheme = _SIG_RSA_PKCS1_SHA256
    if ok and chain:
        c._cc = (scheme, chain, key)


def request12(c, b):
    """A TLS 1.2 CertificateRequest body ``b``: certificate_types<1..2^8-1>,
    supported_signature_algorithms<2..2^16-2>, certificate_authorities<0..2^16-1> (not used: we have one
    certificate)."""
    if getattr(c, "_cc", None) is not None or suite_info(c.suite) & 7 < _KX_ECDHE_RSA:
        raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "CertificateRequest")  # a second one, or a PSK suite's
    n = len(b)
    k = b[0] if n else 0
    p = 1 + k
    if not k or p + 2 > n:
        raise errors.TlsAlert(_DECODE_ERROR, "CertificateRequest")
    s = (b[p] << 8) | b[p + 1]
    q = p + 2 + s
    if s < 2 or s & 1 or q + 2 > n or q + 2 + ((b[q] << 8) | b[q + 1]) != n:
        raise errors.TlsAlert(_DECODE_ERROR, "CertificateRequest")
    _choose(c, _u16s(b, p + 2, q), bytes(b[1:p]), False)


def request13(c, b, p):
    """A TLS 1.3 CertificateRequest body ``b`` (its context already checked; ``p``: where its extensions'
    length starts): the signature_algorithms extension it must carry (section 4.3.2)."""
    n = len(b)
    p += 2
    schemes = []
    while p + 4 <= n:
        t = (b[p] << 8) | b[p + 1]
        k = (b[p + 2] << 8) | b[p + 3]
        p += 4
        if p + k > n:
            break
        if t == _EXT_SIGNATURE_ALGORITHMS:
            if k < 4 or k & 1 or 2 + ((b[p] << 8) | b[p + 1]) != k:
                raise errors.TlsAlert(_DECODE_ERROR, "CertificateRequest")
            schemes = _u16s(b, p + 2, p + k)
        p += k
    if p != n:
        raise errors.TlsAlert(_DECODE_ERROR, "CertificateRequest")
    _choose(c, schemes, b"", True)


def certificate(c, ctx):
    """Our TLS 1.3 Certificate (``ctx``: the request's context, its length byte first; empty without a
    certificate to send), with the servers' builder. (TLS 1.2's: microticket.tls.kx_ecdhe_cert.certificate,
    which sends it before ClientKeyExchange.)"""
    from microticket.tls.codec13_server import certificate13
    return certificate13(c._cc[1] or (), ctx)


def verify(c, th, v13):
    """Our CertificateVerify over the transcript hash ``th`` (up to and including our Certificate, TLS 1.3;
    all handshake messages before it, TLS 1.2) with the chosen scheme; the key is dropped after it."""
    scheme, _, key = c._cc
    if v13:
        from microticket.tls.hs13 import signed_content
        d = crypto.hash_new("sha256", signed_content(th, True)).digest()
    else:
        d = th  # (TLS 1.2 signs the handshake messages with SHA-256: their hash is the digest)
    if scheme == _SIG_ECDSA_SECP256R1_SHA256:
        sig = key.sign(d, c.rl.rng(32))  # RFC 6979, hedged with fresh randomness
    elif scheme == _SIG_RSA_PSS_RSAE_SHA256:
        sig = key.sign_pss_sha256(d, c.rl.rng(32))
    else:
        sig = key.sign_pkcs1_sha256(d)
    c._cc = (scheme, None, None)
    n = len(sig)
    return bytes((_HT_CERTIFICATE_VERIFY, 0, (n + 4) >> 8, (n + 4) & 0xFF, scheme >> 8, scheme & 0xFF,
                  n >> 8, n & 0xFF)) + sig
