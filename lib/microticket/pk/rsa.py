"""RSA signatures for TLS 1.2 ECDHE_RSA: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2), the
verifying side (what a client needs); signing with a private key is microticket.pk.rsa_sign.

The caller hashes (this module imports no hash module) and passes the 32-byte SHA-256 digest.

    RsaPublicKey(n, e).verify_pkcs1_sha256(digest32, sig) -> bool
    public_key_from_spki_der(der) / public_key_from_cert_der(der) -> RsaPublicKey

The loaders import microticket.pk.der (the parser, which imports nothing of this module) when they are
called, never at import.
"""

from microticket.errors import DecodeError

# EMSA-PKCS1-v1_5 DigestInfo prefix for SHA-256 (RFC 8017 section 9.2, note 1).
SHA256_DIGEST_INFO = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"


def _byte_len(n):
    """Length in bytes of the positive int n (MicroPython has no int.bit_length)."""
    k = 0
    while n >> (8 * k + 64):
        k += 8
    while n >> (8 * k):
        k += 1
    return k


def emsa_pkcs1_sha256(digest32, k):
    """EM = 0x00 || 0x01 || PS (0xFF...) || 0x00 || DigestInfo || H (RFC 8017 section 9.2), k bytes long."""
    if len(digest32) != 32:
        raise ValueError("digest length")
    t_len = len(SHA256_DIGEST_INFO) + 32
    if k < t_len + 11:
        raise ValueError("RSA modulus too short")
    em = bytearray(k)
    em[1] = 1
    ps_end = k - t_len - 1
    for i in range(2, ps_end):
        em[i] = 0xFF
    em[ps_end + 1 : ps_end + 1 + len(SHA256_DIGEST_INFO)] = SHA256_DIGEST_INFO
    em[k - 32 :] = digest32
    return em


class RsaPublicKey:
    """An RSA public key (n, e); ``size`` is the modulus length in bytes (the signature length)."""

    def __init__(self, n, e):
        if n < 3 or not n & 1 or e < 3 or not e & 1 or e >= n:
            raise ValueError("bad RSA key")
        self.n = n
        self.e = e
        self.size = _byte_len(n)

    def verify_pkcs1_sha256(self, digest32, sig):
        """True when ``sig`` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of ``digest32``
        (RFC 8017 section 8.2.2: the signature is opened and compared with a fresh encoding, never parsed)."""
        k = self.size
        if len(sig) != k or len(digest32) != 32:
            return False
        s = int.from_bytes(sig, "big")  # sig: any buffer (a view into a handshake message: no copy)
        if s >= self.n:
            return False
        # compared as integers: the encoding is public, so no constant-time byte loop is needed, and
        # one 256-byte temporary fewer at a client's heap peak
        return pow(s, self.e, self.n) == int.from_bytes(emsa_pkcs1_sha256(digest32, k), "big")

    def __eq__(self, other):
        return isinstance(other, RsaPublicKey) and self.n == other.n and self.e == other.e


def from_fields(cls, fields):
    """``cls(*fields)``, a key class's own check failing as DecodeError (the fields came from a file)."""
    try:
        return cls(*fields)
    except ValueError as exc:
        raise DecodeError(str(exc))


def public_key_from_spki_der(spki_der):
    """An RsaPublicKey from a DER SubjectPublicKeyInfo (e.g. ``der.cert_spki(cert)``)."""
    from microticket.pk import der
    return from_fields(RsaPublicKey, der.spki_rsa_public(spki_der))


def public_key_from_cert_der(cert_der):
    """An RsaPublicKey from a DER X.509 certificate."""
    from microticket.pk import der
    return from_fields(RsaPublicKey, der.spki_rsa_public(der.cert_spki(cert_der)))
