"""NIST P-256 (secp256r1, SEC 2 section 2.4.2; FIPS 186-4 D.1.2.3): ECDHE and ECDSA with SHA-256 for TLS.

Pure-Python short-Weierstrass arithmetic with plain Python ints, written to run unchanged on MicroPython and
CPython. Private keys are 32 bytes, big-endian (int2octets of SEC 1), a scalar in [1, n-1]; public keys are
the 65-byte uncompressed point 04 | X | Y (SEC 1 section 2.3.3).

    keypair(rng) -> (priv32, pub65)        rng(n) -> n random bytes; the scalar drawn by rejection
    shared(priv32, peer65) -> X (32 bytes) ECDH (RFC 8422 section 5.10); ValueError for a bad peer point
    sign(priv32, digest, extra=b"") -> DER ECDSA signature, k from RFC 6979 (hedged with ``extra``)
    verify(pub65, digest, sig_der) -> bool never raises: malformed input is False

How: Jacobian coordinates (x = X/Z^2, y = Y/Z^3), the a = -3 doubling, one inversion (Fermat) per result.
A variable point's scalar (shared) uses a regular signed window of 4 bits: the scalar is made odd (k or
k + n, the same point) and written as 65 odd digits in [-15, 15], so every window costs 4 doublings and one
addition whatever the key; the table holds the 8 odd multiples P..15P. The fixed base G (keypair, sign)
uses a comb (Lim-Lee, 4 teeth): 63 doublings and up to 64 additions of 15 precomputed points (a 960-byte
constant: no heap when the .mpy runs from ROMFS). Verification (public scalars) computes u1*G + u2*Q jointly
(Shamir's trick: one chain of doublings), u2 as a width-4 NAF (about one addition per 5 bits, Q's table
P..7P: 384 bytes; width 5 was 2% faster with twice the table, and the table's making is a verify's fullest
moment on the heap), u1 through G's comb table in the chain's last 64 steps.

Signatures: s is emitted as computed (no low-s normalisation: TLS does not need it) and both s and n - s
are accepted by verify.

Side channels: the regular window has a fixed sequence of doublings and additions, the comb one addition
fewer for each all-zero column of the scalar (1 in 16); table indexes and digit signs are data-dependent
look-ups and Python big-int arithmetic is not constant time;
do not use this where a local timing attacker is a concern (a board's threat model is the network).
"""

from micropython import const

from microticket.crypto import Hmac

_P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
_N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
_B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)

# The comb table of G (Lim-Lee, 4 teeth 64 bits apart): row i - 1 (i = 1..15) is the affine point
# sum(2^(64j) G for the bits j of i), x | y, 32 bytes each, big-endian. Precomputed (tests/core/test_p256.py
# recomputes it): a bytes constant stays in the .mpy (no heap from ROMFS, 960 bytes from a filesystem) where
# a table made at run time cost 1 KB of heap for good, about 3 ms and 7 KB more smallest heap for a verify
# (measured on the unix port, ROMFS: 21.7 KB then, 14.7 KB now). G itself is row 0. A const(): no global, no
# interned name.
_G_COMB = const(
    b"\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40\xf2"
    b"\x77\x03\x7d\x81\x2d\xeb\x33\xa0\xf4\xa1\x39\x45\xd8\x98\xc2\x96"
    b"\x4f\xe3\x42\xe2\xfe\x1a\x7f\x9b\x8e\xe7\xeb\x4a\x7c\x0f\x9e\x16"
    b"\x2b\xce\x33\x57\x6b\x31\x5e\xce\xcb\xb6\x40\x68\x37\xbf\x51\xf5"
    b"\x0f\xa8\x22\xbc\x28\x11\xaa\xa5\x84\x92\x59\x2e\x32\x6e\x25\xde"
    b"\x29\x49\x3b\xaa\xad\x65\x1f\x7e\x90\xe7\x5c\xb4\x8e\x14\xdb\x63"
    b"\xbf\xf4\x4a\xe8\xf5\xdb\xa8\x0d\x6f\x4a\xd4\xbc\xb3\xdf\x18\x8b"
    b"\x34\xb1\xa6\x50\x50\xfe\x82\xf5\xe4\x11\x24\x54\x5f\x46\x2e\xe7"
    b"\x30\x0a\x4b\xbc\x89\xd6\x72\x6f\xb2\x57\xc0\xde\x95\xe0\x27\x89"
    b"\xe9\x6c\x98\xfd\x0d\x35\xf1\xfa\x93\x39\x1c\xe2\x09\x79\x92\xaf"
    b"\x72\xaa\xc7\xe0\xd0\x9b\x46\x44\x7f\x1d\xdb\x25\xff\x1e\x3c\x6f"
    b"\x5b\xb1\xee\xad\xa9\xd8\x06\xa5\xaa\x54\xa2\x91\xc0\x81\x27\xa0"
    b"\x44\x7d\x73\x9b\xee\xdb\x5e\x67\xfb\x98\x2f\xd5\x88\xc6\x76\x6e"
    b"\xfc\x35\xff\x7d\xc2\x97\xea\xc3\x57\xc8\x4f\xc9\xd7\x89\xbd\x85"
    b"\x2d\x48\x25\xab\x83\x41\x31\xee\xe1\x2e\x9d\x95\x3a\x4a\xaf\xf7"
    b"\x3d\x34\x9b\x95\xa7\xfa\xe5\x00\x0c\x7e\x33\xc9\x72\xe2\x5b\x32"
    b"\xef\x95\x19\x32\x8a\x9c\x72\xff\xdd\xc6\x06\x8b\xb9\x1d\xfc\x60"
    b"\xef\x7f\xbd\x2b\x1a\x0a\x11\xb7\x13\x94\x9c\x93\x2a\x1d\x36\x7f"
    b"\x61\x1e\x9f\xc3\x7d\xbb\x2c\x9b\xc1\xee\x98\x07\x02\x2c\x21\x9c"
    b"\x23\x18\x3b\x08\x95\xca\x17\x40\x19\x60\x35\xa7\x73\x76\xd8\xa8"
    b"\x55\x06\x63\x79\x7b\x51\xf5\xd8\x7d\xea\x64\x82\xe1\x12\x38\xbf"
    b"\x29\x36\xdf\x5e\xc6\xc9\xbc\x36\xca\xe2\xb1\x92\x0b\x57\xf4\xbc"
    b"\x15\x71\x64\x84\x8a\xec\xb8\x51\x0a\xfa\x40\x01\x8d\x9d\x50\xe5"
    b"\x9f\xb3\xd5\x76\xdb\xde\xfb\xe1\x44\xff\xe2\x16\x34\x8a\x96\x4c"
    b"\xeb\x5d\x77\x45\xb2\x11\x41\xea\xa2\xe8\xf4\x83\xf4\x3e\x43\x91"
    b"\x7c\xcd\x84\xe7\x0d\x71\x5f\x26\xe4\x8e\xca\xff\xfc\x5c\xde\x01"
    b"\xea\xfd\x72\xeb\xdb\xec\xc1\x7b\x09\x90\xe6\xa1\x58\x00\x6c\xee"
    b"\x85\xf2\x2c\xfe\x28\x44\xb6\x45\xca\xc9\x17\xe2\x73\x1a\x34\x79"
    b"\xa6\xd3\x96\x77\xa7\x84\x92\x76\x27\x36\xff\x83\x44\x31\x5f\xc5"
    b"\x96\x43\x95\x91\xa3\xc6\xb9\x4a\x6c\xf2\x0f\xfb\x31\x37\x28\xbe"
    b"\x67\x4f\x84\x74\x9b\x0b\x88\x16\x66\xb8\xba\xbd\x2d\x27\xec\xdf"
    b"\x82\x4a\x92\x0c\x22\x84\x05\x9b\xf2\xba\xb8\x33\xc3\x57\xf5\xf4"
    b"\x4e\x76\x9e\x76\x72\xc9\xdd\xad\x31\x85\x5f\x7d\xb8\xc7\xfe\xdb"
    b"\x74\xe0\x2f\x08\x02\x03\xa5\x6b\x2d\xf4\x8c\x04\x67\x7c\x8a\x3e"
    b"\x42\xb9\x90\x82\xde\x83\x06\x63\x1e\xc0\x05\x72\x06\x94\x72\x81"
    b"\xfb\x9a\xe1\x6f\x3b\x91\x22\xa5\xa4\xc3\x61\x65\xb8\x24\xbb\xb0"
    b"\x78\x87\x8e\xf6\x1c\x6c\xe0\x4d\x7f\xdc\x1c\xa0\x08\xa1\xc4\x78"
    b"\xd1\xf8\x9e\x79\x9c\x0c\xe1\x31\x6e\xf9\x51\x50\xdd\xa8\x68\xb9"
    b"\xb6\xcb\x3f\x5d\x7b\x72\xc3\x21\xde\x53\x14\x2c\x12\x30\x9d\xef"
    b"\x6a\xce\x57\x0e\xbd\xe0\x8d\x4f\x9c\x62\xb9\x12\x1f\xe0\xd9\x76"
    b"\x0c\x88\xbc\x4d\x71\x6b\x12\x87\x59\x5c\x52\x20\x81\x2f\xfc\xae"
    b"\x5b\x82\xdd\x5b\xd5\x4f\xb4\x96\x7f\x99\x1e\xd2\xc3\x1a\x35\x73"
    b"\xdd\x5d\xde\xa3\xf3\x90\x1d\xc6\x18\xd1\xb5\xb3\x9c\x04\xe6\xaa"
    b"\x7c\x81\x81\xf4\xdf\x25\x64\xf3\x3a\x57\xbf\x63\x5f\x48\xac\xa8"
    b"\x68\xf3\x44\xaf\x6b\x31\x74\x66\xef\xe0\xa4\x23\x08\x3e\x49\xf3"
    b"\x43\xa0\xa2\x8c\x42\xba\x79\x2f\xe9\x6a\x79\xfb\x3e\x72\xad\x0c"
    b"\x31\xb9\xc4\x05\xf8\x54\x0a\x20\x60\x4e\xd9\x3c\x24\xd6\x7f\xf3"
    b"\x66\x8b\xfc\x22\x71\xf5\xc6\x26\xcd\xfe\x17\xdb\x3f\xb2\x4d\x4a"
    b"\x40\x52\xbf\x4b\x6f\x46\x1d\xb9\x66\x3c\x62\xc3\xed\xba\xd7\xa0"
    b"\x0d\x1a\x10\x14\x4e\xc3\x9c\x28\xd3\x6b\x47\x89\xa2\x58\x2e\x7f"
    b"\xfe\xcf\x4d\x51\x90\xb0\xfc\x61\x86\x2b\xe6\xbd\x71\xd7\x0c\xc8"
    b"\xe7\x24\xf3\x39\x99\xbf\xcc\x5b\x23\x5a\x27\xc3\x18\x8d\x25\xeb"
    b"\x1e\xdd\xba\xe2\xc8\x02\xe4\x1a\x12\x32\x02\xa8\xf6\x2b\xff\x7a"
    b"\xaf\xdf\x5c\xc0\x85\x26\xa7\xa4\x74\x34\x6c\x10\xa1\xd4\xcf\xac"
    b"\x43\x10\x4d\x86\x56\x0e\xbc\xfc\x0c\x45\xf4\x52\x73\xdb\x33\xa0"
    b"\x36\xe0\x6b\x7e\x4c\x70\x19\x17\x8f\xa0\xaf\x2d\xd6\x03\xf8\x44"
    b"\xb4\x8e\x26\xb4\x84\xf7\xa2\x1c\x0a\x4a\x46\xfb\x6a\xaf\x36\x3a"
    b"\x66\xb0\xde\x32\x25\xc4\x74\x4b\x96\x15\xb5\x11\x0d\x1d\x78\xe5"
    b"\xfa\xc0\x15\x40\x4d\x4d\x3d\xab\x64\x13\x1b\xcd\xfe\xd6\xf6\x68"
    b"\xc0\x04\xe4\x04\x8b\x7b\x0f\x98\x06\xeb\xb0\xf6\x21\xa0\x1b\x2d"
)


# On a board every argument name is an interned string on the heap for good (a local variable's is not): the
# private functions below take one-letter arguments, names other modules intern anyway, and name them inside.

def _add(a, b, c, d, e, f, p=_P):
    """(X1, Y1, Z1) + (X2, Y2, Z2) = (a, b, c) + (d, e, f) in Jacobian coordinates (add-1998-cmo-2; cheaper
    when Z2 == 1, a table point in affine form) on a curve with a = -3 over the prime ``p`` (P-256's by
    default; microticket.pk.p384 passes its own). Every case is handled: either point at infinity (Z = 0),
    P + P (the a = -3 doubling, dbl-2001-b, as inlined in the loops below), P + (-P)."""
    # (a, b, c) is (X1, Y1, Z1) and (d, e, f) is (X2, Y2, Z2); no copies under those names: a frame with
    # more slots is more heap per call. A value no longer needed is overwritten by the next one (u2 becomes
    # H, w S2 then R, hh HH then V, f HHH): an int of 256 bits is 100-130 bytes of heap on MicroPython, and a
    # local keeps its value until it is overwritten
    if c == 0:
        return d, e % p, f
    if f == 0:
        return a, b, c
    w = c * c % p
    u2 = d * w % p
    w = e * (w * c % p) % p  # S2
    if f == 1:
        u1 = a
        s1 = b
    else:
        u1 = f * f % p
        s1 = b * (u1 * f % p) % p
        u1 = a * u1 % p
        c = c * f % p
    u2 -= u1  # H
    w -= s1  # R
    if u2 == 0:
        if w == 0:  # the same point: 2(X2, Y2, Z2)
            w = f * f % p
            w = 3 * (d - w) * (d + w) % p  # M
            u2 = e * e % p  # YY
            u1 = d * u2 % p  # S
            d = (w * w - (u1 << 3)) % p
            return d, (w * ((u1 << 2) - d) - ((u2 * u2) << 3)) % p, (e * f << 1) % p
        return 1, 1, 0
    hh = u2 * u2 % p
    f = u2 * hh % p  # HHH
    hh = u1 * hh % p  # V
    u1 = (w * w - f - (hh << 1)) % p  # X3
    return u1, (w * (hh - u1) - s1 * f) % p, c * u2 % p


def _affine(a, b, c, p=_P):
    """(x, y) of the Jacobian point (X, Y, Z) = (a, b, c) over the prime ``p`` (one inversion by Fermat's little
    theorem); None for infinity."""
    x, y, z = a, b, c
    if z == 0:
        return None
    zi = pow(z, p - 2, p)
    zz = zi * zi % p
    return x * zz % p, y * (zz * zi % p) % p


def _row(t, i, n, s=0):
    """Entry ``i`` of a packed table ``t`` whose rows are ``n`` (2: x | y, affine; 3: X | Y | Z) 32-byte
    big-endian coordinates, as (x, y, z); with ``s`` true its negative (x, p - y, z). Tables are kept as
    bytes, not lists of ints: an int of 256 bits costs 64 bytes of heap or more on MicroPython (twice that
    when it is a product's remainder), a row of bytes 32 per coordinate, and the conversion on each look-up
    costs little beside the addition it feeds. (Passed on as _add(x, y, z, *_row(...)): the caller's frame
    keeps no copy of the row after the addition.)"""
    o = i * n << 5
    y = int.from_bytes(t[o + 32:o + 64], "big")
    return (int.from_bytes(t[o:o + 32], "big"), _P - y if s else y,
            int.from_bytes(t[o + 64:o + 96], "big") if n == 3 else 1)


def _table(a, b, c=768):
    """The odd multiples P, 3P, ..., 15P of the affine point P = (x, y) = (a, b), packed in rows X | Y | Z
    (``c``: the table's length, 96 bytes a row; 384 for P..7P)."""
    x, y = a, b
    t = bytearray(c)  # first, in one piece, before the arithmetic's garbage fragments the heap
    dx, dy, dz = _add(x, y, 1, x, y, 1)  # 2P
    z = 1
    for o in range(0, c, 96):
        t[o:o + 32] = x.to_bytes(32, "big")
        t[o + 32:o + 64] = y.to_bytes(32, "big")
        t[o + 64:o + 96] = z.to_bytes(32, "big")
        if o < c - 96:
            x, y, z = _add(dx, dy, dz, x, y, z)
    return t


def _mul_g(k):
    """k*G (Jacobian) for 1 <= k < n with the comb table (_G_COMB): 63 doublings and up to 64 additions of
    table points (an all-zero column, 1 in 16, adds nothing). Column t of the comb: bits t, t + 64, t + 128,
    t + 192 of the scalar, read from its 32 little-endian bytes (as in verify)."""
    p = _P
    kb = k.to_bytes(32, "little")
    x = y = 1
    z = 0
    for t in range(63, -1, -1):
        if z:  # doubling (dbl-2001-b), inline
            m = z * z % p
            m = 3 * (x - m) * (x + m) % p
            z = (y * z << 1) % p
            y = y * y % p
            s = x * y % p
            x = (m * m - (s << 3)) % p
            y = (m * ((s << 2) - x) - ((y * y) << 3)) % p
            m = s = None
        j = t >> 3
        b = t & 7
        i = ((kb[j] >> b) & 1) | (((kb[j + 8] >> b) & 1) << 1) | (((kb[j + 16] >> b) & 1) << 2) | \
            (((kb[j + 24] >> b) & 1) << 3)
        if i:
            x, y, z = _add(x, y, z, *_row(_G_COMB, i - 1, 2))
    return x, y, z


def _point(pub):
    """(x, y) of a 65-byte uncompressed point 04 | X | Y; ValueError unless it is a point of the curve
    (coordinates below p, y^2 = x^3 - 3x + b): the partial validation of SP 800-56A section 5.6.2.3.4
    (with a prime order and cofactor 1, every such point but infinity, which has no encoding, is valid)."""
    p = _P
    if len(pub) != 65 or pub[0] != 4:
        raise ValueError("P-256 point")
    x = int.from_bytes(pub[1:33], "big")
    y = int.from_bytes(pub[33:65], "big")
    if x >= p or y >= p or (y * y - (x * x - 3) * x - _B) % p:
        raise ValueError("P-256 point")
    return x, y


def _scalar(priv):
    """The private scalar of a 32-byte private key; ValueError unless 1 <= d < n."""
    if len(priv) != 32:
        raise ValueError("P-256 private key")
    d = int.from_bytes(priv, "big")
    if not 0 < d < _N:
        raise ValueError("P-256 private key")
    return d


def public_key(priv):
    """The 65-byte public point d*G of a 32-byte private key."""
    x, y = _affine(*_mul_g(_scalar(priv)))
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def keypair(rng):
    """(priv, pub): a private key d drawn uniformly in [1, n-1] by rejection from rng(32) (32 bytes,
    big-endian) and its 65-byte public point."""
    while True:
        priv = bytes(rng(32))
        d = int.from_bytes(priv, "big")
        if 0 < d < _N:
            return priv, public_key(priv)


def shared(priv, peer):
    """The ECDH shared secret (RFC 8422 section 5.10): the 32-byte X coordinate of d * peer. ValueError when
    ``peer`` is not a 65-byte uncompressed point of the curve (see _point) or the result is infinity.

    d * peer with the table ``t`` of the peer's point P (see _table): the regular signed window described in
    the module's docstring (65 digits, each 4 doublings and one addition)."""
    t = _table(*_point(peer))
    k = _scalar(priv)
    p = _P
    k += _N * (1 - (k & 1))  # odd, the same point (nP = O)
    ds = bytearray(64)
    for j in range(64):
        d = (k & 31) - 16  # odd, in [-15, 15]; k - d is 16 times an odd number
        ds[j] = d + 16
        k = (k - d) >> 4
    x, y, z = _row(t, k >> 1, 3)  # the top digit: 1 or 3
    for j in range(63, -1, -1):
        for _ in range(4):  # doubling (dbl-2001-b), inline
            m = z * z % p
            m = 3 * (x - m) * (x + m) % p
            z = (y * z << 1) % p
            y = y * y % p
            s = x * y % p
            x = (m * m - (s << 3)) % p
            y = (m * ((s << 2) - x) - ((y * y) << 3)) % p
            m = s = None
        d = ds[j] - 16
        x, y, z = _add(x, y, z, *_row(t, (d if d > 0 else -d) >> 1, 3, d < 0))
    r = _affine(x, y, z)
    if r is None:
        raise ValueError("P-256 shared secret")
    return r[0].to_bytes(32, "big")


def sign(priv, digest, extra=b""):
    """The ECDSA signature (SEC 1 section 4.1.3) of ``digest`` (SHA-256 of the message; a longer digest
    is truncated to its leftmost 256 bits) as DER Ecdsa-Sig-Value: SEQUENCE { r INTEGER, s INTEGER }.

    The nonce k is RFC 6979's HMAC-DRBG with SHA-256 (section 3.2), with ``extra`` (the caller passes
    rng(32)) as the additional data k' of section 3.6: a broken rng cannot leak the key, and a fault cannot
    be replayed on the same k. With extra=b"" the result is RFC 6979's deterministic signature."""
    n = _N
    d = _scalar(priv)
    # bits2int (RFC 6979 section 2.3.2; SEC 1 section 4.1.3 step 5): the leftmost 256 bits of a longer digest
    e = int.from_bytes(digest[:32], "big")
    seed = bytes(priv) + (e % n).to_bytes(32, "big") + bytes(extra)  # int2octets(x) | bits2octets(h1) | k'
    v = b"\x01" * 32
    mac = Hmac(bytes(32))
    mac = Hmac(mac.mac(v, b"\x00", seed))  # step d: K = HMAC_K(V | 0x00 | seed)
    v = mac.mac(v)
    mac = Hmac(mac.mac(v, b"\x01", seed))  # step f
    v = mac.mac(v)
    while True:
        v = mac.mac(v)  # step h: qlen = hlen = 256, one block
        k = int.from_bytes(v, "big")
        if 0 < k < n:
            r = _affine(*_mul_g(k))[0] % n
            if r:
                s = pow(k, n - 2, n) * (e + r * d) % n
                if s:
                    body = b""
                    for v in (r, s):  # minimal DER INTEGERs: one 0 byte before a high bit
                        b = v.to_bytes(33, "big")
                        i = 0
                        while i < 32 and b[i] == 0 and b[i + 1] < 0x80:
                            i += 1
                        body += b"\x02" + bytes((33 - i,)) + b[i:]
                    return b"\x30" + bytes((len(body),)) + body
        mac = Hmac(mac.mac(v, b"\x00"))
        v = mac.mac(v)


def sig_rs(sig, n, k=32):
    """(r, s) of a DER Ecdsa-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }, strict DER: minimal integers,
    short-form lengths, no trailing bytes), each in [1, n-1] for a group order ``n`` of ``k`` bytes; None
    for anything else. (microticket.pk.p384 shares it.)"""
    end = len(sig)
    m = k + 1  # an integer's longest minimal encoding
    if end < 8 or end > 2 * (m + 2) + 2 or sig[0] != 0x30 or sig[1] != end - 2:
        return None
    rs = []
    off = 2
    for _ in range(2):
        if off + 2 > end or sig[off] != 2:
            return None
        ln = sig[off + 1]
        off += 2
        if ln == 0 or ln > m or off + ln > end or sig[off] & 0x80:
            return None
        if sig[off] == 0 and (ln == 1 or not sig[off + 1] & 0x80):  # non-minimal (or zero)
            return None
        v = int.from_bytes(sig[off:off + ln], "big")
        if v >= n:
            return None
        rs.append(v)
        off += ln
    return rs if off == end else None


def verify(pub, digest, sig):
    """True when ``sig`` (DER Ecdsa-Sig-Value) is a valid ECDSA signature of ``digest`` by the 65-byte
    point ``pub`` (SEC 1 section 4.1.4). Any malformed input (point, DER: non-minimal integers, long-form
    lengths, trailing bytes; r or s outside [1, n-1]) gives False, never an exception."""
    p = _P
    n = _N
    try:
        qx, qy = _point(pub)
    except ValueError:
        return False
    rs = sig_rs(sig, n)
    if rs is None:
        return False
    # Q's table first, while little else is held (its construction is verify's fullest moment on the heap)
    q = _table(qx, qy, 384)
    qx = qy = None
    r, s = rs
    rs = None
    w = pow(s, n - 2, n)
    a = (int.from_bytes(digest[:32], "big") * w % n).to_bytes(32, "little")  # bits2int, as in sign
    # u2 = r * w as a width-4 NAF: 257 digits, least significant first, each 0 or odd in [-7, 7], nonzero
    # digits at least 4 positions apart; a bytearray holding each nonzero digit plus 16 (so 0 is no digit),
    # the bits read from bytes (small ints only)
    u = (r * w % n).to_bytes(34, "little")
    s = w = None  # (a local keeps its int until overwritten: see _add)
    b = bytearray(257)
    c = 0  # the carry
    i = 0
    while i < 257:
        if (u[i >> 3] >> (i & 7)) & 1 == c:  # bit + carry is even: digit 0, carry unchanged
            i += 1
            continue
        j = i >> 3
        k = (((u[j] | (u[j + 1] << 8)) >> (i & 7)) & 15) + c  # odd
        c = 1 if k > 8 else 0
        b[i] = k - 16 * c + 16
        i += 4
    u = None
    x = y = 1
    z = 0
    for i in range(256, -1, -1):
        if z:  # doubling (dbl-2001-b), inline
            m = z * z % p
            m = 3 * (x - m) * (x + m) % p
            z = (y * z << 1) % p
            y = y * y % p
            t = x * y % p
            x = (m * m - (t << 3)) % p
            y = (m * ((t << 2) - x) - ((y * y) << 3)) % p
            m = t = None
        if i < 64:  # G's comb column i (see _mul_g)
            j = i >> 3
            k = i & 7
            d = ((a[j] >> k) & 1) | (((a[j + 8] >> k) & 1) << 1) | (((a[j + 16] >> k) & 1) << 2) | \
                (((a[j + 24] >> k) & 1) << 3)
            if d:
                x, y, z = _add(x, y, z, *_row(_G_COMB, d - 1, 2))
        d = b[i]
        if d:
            d -= 16
            x, y, z = _add(x, y, z, *_row(q, (d if d > 0 else -d) >> 1, 3, d < 0))
    if z == 0:
        return False
    # x(R) mod n == r, compared without an inversion: X == r * Z^2 (mod p), or (r + n) * Z^2 when r + n < p
    zz = z * z % p
    return x == r * zz % p or (r + n < p and x == (r + n) * zz % p)
