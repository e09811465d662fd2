"""X25519 Diffie-Hellman (RFC 7748).

Pure-Python Montgomery ladder over Curve25519 using plain Python ints, written to run unchanged on
MicroPython and CPython. Nothing big is precomputed; one scalar multiplication costs 255 ladder steps of
10 multiplications each (RFC 7748 section 5) plus one modular inversion by Fermat's little theorem.

    x25519(scalar32, u32) -> bytes        the X25519 function of RFC 7748 section 5
    x25519_base(scalar32) -> bytes        X25519(k, 9): the public key of a private key
    x25519_shared(priv, peer_pub)         X25519(k, peer) that refuses the all-zero output (section 6.1)

Side channels: the ladder has a fixed structure (always 255 steps, the conditional swap is done with
masks rather than branches), but Python big-int arithmetic is not constant time; do not use this where
a local timing attacker is a concern.
"""

from micropython import const

X25519_KEY_LEN = const(32)

_P = const(0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFED)  # 2^255 - 19
_A24 = const(121665)  # (486662 - 2) / 4, RFC 7748 section 5
_BASE_U = b"\x09" + bytes(31)


def _decode_scalar(k):
    """decodeScalar25519 (RFC 7748 section 5): clamp and read little-endian."""
    if len(k) != 32:
        raise ValueError("X25519 scalar must be 32 bytes")
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return int.from_bytes(bytes(b), "little")


def _decode_u(u):
    """decodeUCoordinate (RFC 7748 section 5): mask the top bit; non-canonical values are reduced."""
    if len(u) != 32:
        raise ValueError("X25519 u-coordinate must be 32 bytes")
    b = bytearray(u)
    b[31] &= 127
    return int.from_bytes(bytes(b), "little") % _P


def _ladder(k, x1):
    """The Montgomery ladder of RFC 7748 section 5; returns x2 * z2^(p-2) mod p.

    Locals are used for the constants because global look-ups cost a dictionary probe on MicroPython.
    Intermediate sums and differences are left unreduced (they only feed multiplications that are
    reduced right after), which keeps the count of '%' operations at 10 per step.
    """
    p = _P
    a24 = _A24
    x2 = 1
    z2 = 0
    x3 = x1
    z3 = 1
    swap = 0
    for t in range(254, -1, -1):
        kt = (k >> t) & 1
        swap ^= kt
        # cswap(swap, x2, x3) and cswap(swap, z2, z3) with a mask: all values are in [0, p).
        mask = -swap
        d = mask & (x2 ^ x3)
        x2 ^= d
        x3 ^= d
        d = mask & (z2 ^ z3)
        z2 ^= d
        z3 ^= d
        swap = kt

        a = x2 + z2
        b = x2 - z2
        aa = a * a % p
        bb = b * b % p
        e = aa - bb
        da = (x3 - z3) * a % p
        cb = (x3 + z3) * b % p
        x3 = da + cb
        x3 = x3 * x3 % p
        z3 = da - cb
        z3 = x1 * (z3 * z3 % p) % p
        x2 = aa * bb % p
        z2 = e * (aa + a24 * e) % p
    mask = -swap
    x2 ^= mask & (x2 ^ x3)
    z2 ^= mask & (z2 ^ z3)
    # z2 == 0 (low-order input point) gives 0, as RFC 7748 requires: 0^(p-2) = 0.
    return x2 * pow(z2, p - 2, p) % p


def x25519(scalar32, u32):
    """X25519(k, u) of RFC 7748 section 5: 32-byte little-endian scalar and u-coordinate in, 32 bytes out."""
    return _ladder(_decode_scalar(scalar32), _decode_u(u32)).to_bytes(32, "little")


def x25519_base(scalar32):
    """The public key for a private key: X25519(k, 9) (RFC 7748 section 6.1)."""
    return x25519(scalar32, _BASE_U)


def x25519_shared(priv, peer_pub):
    """The shared secret X25519(priv, peer_pub); ValueError when it is all zeros (RFC 7748 section 6.1),
    i.e. when the peer sent a point of small order."""
    out = x25519(priv, peer_pub)
    acc = 0
    for c in out:
        acc |= c
    if acc == 0:
        raise ValueError("X25519 shared secret is all zeros")
    return out
