"""Finite-field Diffie-Hellman over the 2048-bit MODP group 14 (RFC 3526 section 3), as IKEv2 uses it
(RFC 7296 section 3.4: the public value is sent as exactly 256 bytes, left-padded with zeros).

    dh14_keypair(priv_bytes) -> (priv_int, pub_bytes256)
    dh14_shared(priv_int, peer_pub_bytes) -> bytes256

The caller supplies the randomness (this module never reads os.urandom). A private exponent of at least
32 random bytes is required; 32 to 64 bytes is the usual choice (RFC 3526 section 8 estimates group 14 at
110 to 160 bits of strength, needing an exponent of twice that).
"""

# p = 2^2048 - 2^1984 - 1 + 2^64 * ( [2^1918 pi] + 124476 ), RFC 3526 section 3.
P14 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)
G = 2
DH14_LEN = 256  # bytes in a group-14 public value or shared secret
_MIN_PRIV_LEN = 32


def dh14_keypair(priv_bytes):
    """A key pair from caller-supplied random bytes (big-endian): ``(x, g^x mod p as 256 bytes)``.

    ValueError when ``priv_bytes`` is shorter than 32 or longer than 256 bytes, or when x is not in
    [2, p-2] (for 256 random bytes that happens with probability about 2^-64; draw again).
    """
    if len(priv_bytes) < _MIN_PRIV_LEN or len(priv_bytes) > DH14_LEN:
        raise ValueError("group 14 private value must be 32 to 256 bytes")
    x = int.from_bytes(bytes(priv_bytes), "big")
    if x <= 1 or x >= P14 - 1:
        raise ValueError("group 14 private value out of range")
    return x, pow(G, x, P14).to_bytes(DH14_LEN, "big")


def dh14_shared(priv_int, peer_pub_bytes):
    """The shared secret peer^x mod p as 256 bytes, left-padded (RFC 7296 section 2.14 uses it as g^ir).

    The peer value (1 to 256 bytes, big-endian) must lie in [2, p-2] (RFC 7296 section 5, NIST
    SP 800-56A section 5.6.2.3.1); ValueError otherwise, and when the result is 1 or p-1.
    """
    if not 0 < len(peer_pub_bytes) <= DH14_LEN:
        raise ValueError("group 14 public value must be 1 to 256 bytes")
    if priv_int <= 1 or priv_int >= P14 - 1:
        raise ValueError("group 14 private value out of range")
    y = int.from_bytes(bytes(peer_pub_bytes), "big")
    if y <= 1 or y >= P14 - 1:
        raise ValueError("group 14 peer public value out of range")
    z = pow(y, priv_int, P14)
    if z <= 1 or z >= P14 - 1:
        raise ValueError("group 14 shared secret is degenerate")
    return z.to_bytes(DH14_LEN, "big")
