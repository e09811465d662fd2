"""RSA signatures for TLS ECDHE_RSA: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2) and RSASSA-PSS
(section 8.1; rsa_pss_rsae_sha256: EMSA-PSS with SHA-256, MGF1-SHA256 and a 32-byte salt), the verifying side
(what a client needs); signing with a private key is microticket.pk.rsa_sign.

The caller hashes the message and passes the 32-byte SHA-256 digest. PSS hashes inside its encoding (H and
MGF1): it imports microticket.crypto when it runs, never at import.

    RsaPublicKey(n, e).verify_pkcs1_sha256(digest32, sig) -> bool
    RsaPublicKey(n, e).verify_pss_sha256(digest32, sig) -> bool
    public_key_from_spki_der(der) / public_key_from_cert_der(der) -> RsaPublicKey

The loaders import microticket.pk.der (the parser, which imports nothing of this module) when they are
called, never at import.
"""

from microticket import errors  # DecodeError: the class is made on the first error (microticket.errors)

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


def _mgf1_xor(buf, end, seed):
    """buf[:end] ^= MGF1-SHA256(seed, end) (RFC 8017 appendix B.2.1), in place."""
    from microticket.crypto import hash_new
    i = 0
    while i < end:
        h = hash_new("sha256", seed)
        h.update((i >> 5).to_bytes(4, "big"))  # the block counter
        for b in h.digest():
            if i < end:
                buf[i] ^= b
                i += 1


def emsa_pss_sha256(digest32, salt, n, m=0):
    """EM = maskedDB || H || 0xBC (RFC 8017 section 9.1.1) for the modulus n and a 32-byte salt: DB = PS
    (zeros) || 0x01 || salt masked with MGF1(H), H = SHA-256(0x00 * 8 || digest32 || salt), the bits of
    EM[0] above emBits = modBits - 1 cleared (EM is one byte shorter than n when modBits = 8k + 1).

    ``salt=None``: verifying the opened signature ``m`` (an int): the salt is read from it (DB = maskedDB xor
    MGF1(H)) and the encoding made with it, which equals m exactly when every check of section 9.1.2 passes
    (the bits above emBits zero, the 0xBC trailer, the zeros and 0x01, a 32-byte salt, H); one encoder for
    both sides. ValueError when the key is too short or m is longer than EM."""
    from microticket.crypto import hash_new
    k = _byte_len(n)
    top = n >> (8 * k - 8)  # the leading byte of n, 1..255
    mask = 0xFF
    while mask >= top:  # the bits of EM[0] below n's top bit: 0x7F for a leading byte 0x80..0xFF
        mask >>= 1
    if not mask:  # modBits = 8(k-1) + 1: EM has k-1 bytes, every bit used
        k -= 1
        mask = 0xFF
    end = k - 33  # DB's length
    if len(digest32) != 32 or end < 34 or m >> (8 * k):
        raise ValueError("PSS encoding")
    if salt is None:
        em = bytearray(m.to_bytes(k, "big"))
        _mgf1_xor(em, end, em[end : k - 1])
        salt = em[end - 32 : end]
        em = None
    elif len(salt) != 32:
        raise ValueError("PSS salt")
    h = hash_new("sha256", bytes(8))
    h.update(digest32)
    h.update(salt)
    h = h.digest()
    em = bytearray(k)
    em[end - 33] = 1
    em[end - 32 : end] = salt
    _mgf1_xor(em, end, h)
    em[0] &= mask
    em[end : k - 1] = h
    em[k - 1] = 0xBC
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

    def verify_pss_sha256(self, digest32, sig):
        """True when ``sig`` is a valid RSASSA-PSS signature of ``digest32`` with SHA-256, MGF1-SHA256 and a
        32-byte salt (RFC 8017 section 8.1.2, rsa_pss_rsae_sha256); anything malformed is False. The opened
        signature is compared with the encoding made again with the salt read from it (emsa_pss_sha256)."""
        n = self.n
        if len(sig) != self.size or len(digest32) != 32:
            return False
        s = int.from_bytes(sig, "big")  # sig: any buffer (a view into a handshake message: no copy)
        if s >= n:
            return False
        s = pow(s, self.e, n)
        try:
            return s == int.from_bytes(emsa_pss_sha256(digest32, None, n, s), "big")
        except ValueError:
            return False

    def __eq__(self, other):
        return isinstance(other, RsaPublicKey) and self.n == other.n and self.e == other.e


def from_fields(cls, fields):
    """``cls(*fields)``, a key class's own check failing as DecodeError (the fields came from a file)."""
    try:
        return cls(*fields)
    except ValueError as exc:
        raise errors.DecodeError(str(exc))


def public_key_from_spki_der(spki_der):
    """An RsaPublicKey from a DER SubjectPublicKeyInfo (e.g. ``der.cert_spki(cert)``)."""
    from microticket.pk import der
    return from_fields(RsaPublicKey, der.spki_rsa_public(spki_der))


def public_key_from_cert_der(cert_der):
    """An RsaPublicKey from a DER X.509 certificate."""
    from microticket.pk import der
    return from_fields(RsaPublicKey, der.spki_rsa_public(der.cert_spki(cert_der)))
