"""RSA signing for a TLS ECDHE_RSA server: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2) and RSASSA-PSS
(section 8.1, rsa_pss_rsae_sha256) with a private key, and the private key loaders. A client (which only
verifies: microticket.pk.rsa) never loads it.

    RsaPrivateKey(n, e, d, p, q, dp, dq, qinv).sign_pkcs1_sha256(digest32) -> bytes
    RsaPrivateKey(...).sign_pss_sha256(digest32, salt32) -> bytes   (the caller draws the salt from its rng)
    load_private_key_pem(text_or_bytes) / load_private_key_der(der) -> RsaPrivateKey   (PKCS#1 or PKCS#8)

The loaders import microticket.pk.pem (the parser) when they are called, never at import: signing needs
neither the parser nor its code in the heap, and a board that has loaded its key can unload the parser
(microticket.cli.tls_server does).

The private operation uses the Chinese Remainder Theorem (RFC 8017 section 5.1.2, RSADP step 2.b) and
checks its result with the public exponent before releasing it (modulo p and modulo q, which together
are the check modulo n = p*q with half-size temporaries), so a fault in one half cannot leak a
factor of n (the Boneh-DeMillo-Lipton attack). Python big-int arithmetic is not constant time: these
keys are for small devices where a remote timing attacker is the threat model, not a local one.
"""

from microticket.pk.rsa import RsaPublicKey, emsa_pkcs1_sha256, emsa_pss_sha256, from_fields, _byte_len


class RsaPrivateKey:
    """An RSA private key in the two-prime CRT form of RFC 8017 section 3.2 (PKCS#1 RSAPrivateKey)."""

    kind = "rsa"  # (microticket.pk.keys.P256PrivateKey.kind is "p256": a caller picks the scheme by it)

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

    def sign_pkcs1_sha256(self, digest32, salt=None):
        """RSASSA-PKCS1-v1_5-SIGN (RFC 8017 section 8.2.1) of a precomputed SHA-256 digest; with ``salt``
        (32 bytes) RSASSA-PSS-SIGN (section 8.1.1; sign_pss_sha256)."""
        k = self.size
        em = emsa_pkcs1_sha256(digest32, k) if salt is None else emsa_pss_sha256(digest32, salt, self.n)
        m = int.from_bytes(em, "big")
        em = None
        mp = m % self.p
        mq = m % self.q
        m = None
        return self._private_op(mp, mq).to_bytes(k, "big")

    def sign_pss_sha256(self, digest32, salt):
        """RSASSA-PSS-SIGN (RFC 8017 section 8.1.1) with SHA-256, MGF1-SHA256 and the caller's 32-byte
        ``salt`` (rsa_pss_rsae_sha256; the engine draws it from its rng)."""
        return self.sign_pkcs1_sha256(digest32, salt or b"")  # None: refused (never PKCS#1 by mistake)


def load_private_key_der(data):
    """An RsaPrivateKey from DER: PKCS#1 RSAPrivateKey or PKCS#8 PrivateKeyInfo with rsaEncryption."""
    from microticket.pk import pem  # (the parser: loaded by the loaders only)
    return from_fields(RsaPrivateKey, pem.rsa_private_key_fields(data))


def load_private_key_pem(text, in_place=False):
    """An RsaPrivateKey from PEM (str or bytes; in place in a bytearray with ``in_place``, see
    pem.rsa_private_key_pem_fields); an encrypted key is refused with DecodeError."""
    from microticket.pk import pem
    return from_fields(RsaPrivateKey, pem.rsa_private_key_pem_fields(text, in_place))
