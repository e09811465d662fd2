"""RSA signatures for TLS 1.2 ECDHE_RSA: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2).

The caller hashes (this module imports no hash module) and passes the 32-byte SHA-256 digest.

    RsaPrivateKey(n, e, d, p, q, dp, dq, qinv).sign_pkcs1_sha256(digest32) -> bytes
    RsaPublicKey(n, e).verify_pkcs1_sha256(digest32, sig) -> bool
    load_private_key_pem(text_or_bytes) / load_private_key_der(der) -> RsaPrivateKey   (PKCS#1 or PKCS#8)
    public_key_from_spki_der(der) -> RsaPublicKey

The loaders are defined in microticket.der and reached through this module (module __getattr__); this
module imports nothing, so signing needs neither the parser nor its code in the heap.

The private operation uses the Chinese Remainder Theorem (RFC 8017 section 5.1.2, RSADP step 2.b) and
checks its result with the public exponent before releasing it (modulo p and modulo q, which together
are the check modulo n = p*q with half-size temporaries), so a fault in one half cannot leak a
factor of n (the Boneh-DeMillo-Lipton attack). Python big-int arithmetic is not constant time: these
keys are for small devices where a remote timing attacker is the threat model, not a local one.
"""

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
        s = int.from_bytes(bytes(sig), "big")
        if s >= self.n:
            return False
        em = pow(s, self.e, self.n).to_bytes(k, "big")
        expected = emsa_pkcs1_sha256(digest32, k)
        diff = 0
        for i in range(k):
            diff |= em[i] ^ expected[i]
        return diff == 0

    def __eq__(self, other):
        return isinstance(other, RsaPublicKey) and self.n == other.n and self.e == other.e


class RsaPrivateKey:
    """An RSA private key in the two-prime CRT form of RFC 8017 section 3.2 (PKCS#1 RSAPrivateKey)."""

    def __init__(self, n, e, d, p, q, dp, dq, qinv):
        # Cheap consistency checks; a key that fails them would sign garbage (or leak through the faults).
        if n != p * q or p < 3 or q < 3 or not 0 < dp < p or not 0 < dq < q or not 0 < qinv < p:
            raise ValueError("bad RSA key")
        if (qinv * q) % p != 1:
            raise ValueError("bad RSA key")
        self.e = e
        self.d = d
        self.p = p
        self.q = q
        self.dp = dp
        self.dq = dq
        self.qinv = qinv
        self.size = _byte_len(n)
        if e < 3 or not e & 1 or e >= n:
            raise ValueError("bad RSA key")

    @property
    def n(self):
        """The modulus: p*q (checked in __init__), computed when asked rather than kept (one 2048-bit
        integer less in a board's heap; signing never needs it)."""
        return self.p * self.q

    def public_key(self):
        return RsaPublicKey(self.n, self.e)

    def _private_op(self, mp, mq):
        """RSASP1 with CRT (RFC 8017 section 5.2.1, step 2.b) of the message m given as m mod p and
        m mod q (no full-size integer lives through the exponentiations), then s^e == m checked."""
        p = self.p
        q = self.q
        s1 = pow(mp, self.dp, p)
        s2 = pow(mq, self.dq, q)
        h = (self.qinv * (s1 - s2)) % p
        s1 = None
        s = s2 + q * h
        h = s2 = None
        # s^e == m (mod n), checked as s^e == m mod p and mod q: the same test (n = p*q) on half-size
        # numbers, without the 4096-bit temporaries that set a board's smallest heap
        e = self.e
        if pow(s % p, e, p) != mp or pow(s % q, e, q) != mq:
            raise RuntimeError("RSA CRT fault")
        return s

    def sign_pkcs1_sha256(self, digest32):
        """RSASSA-PKCS1-v1_5-SIGN (RFC 8017 section 8.2.1) of a precomputed SHA-256 digest."""
        k = self.size
        em = emsa_pkcs1_sha256(digest32, k)
        m = int.from_bytes(em, "big")
        em = None
        mp = m % self.p
        mq = m % self.q
        m = None
        return self._private_op(mp, mq).to_bytes(k, "big")


# The key loaders live in microticket.der, next to the parser they drive, and are reached through this
# module as before (rsa.load_private_key_pem, ...): a board that has loaded its key can then unload the
# parser, loaders included (the tls-server command, microticket.cli.tls_server, does), and signing never brings it back.
_LOADERS = ("load_private_key_der", "load_private_key_pem", "public_key_from_spki_der",
            "public_key_from_cert_der")


def __getattr__(name):
    if name in _LOADERS:
        from microticket import der
        return getattr(der, name)
    raise AttributeError(name)
