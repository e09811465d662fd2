"""NIST P-256 (secp256r1, SEC 2 section 2.4.2; FIPS 186-4 D.1.2.3): ECDHE and ECDSA with SHA-256 for TLS.

Pure-Python short-Weierstrass arithmetic with plain Python ints, written to run unchanged on MicroPython and
CPython. Private keys are 32 bytes, big-endian (int2octets of SEC 1), a scalar in [1, n-1]; public keys are
the 65-byte uncompressed point 04 | X | Y (SEC 1 section 2.3.3).

    keypair(rng) -> (priv32, pub65)        rng(n) -> n random bytes; the scalar drawn by rejection
    shared(priv32, peer65) -> X (32 bytes) ECDH (RFC 8422 section 5.10); ValueError for a bad peer point
    sign(priv32, digest, extra=b"") -> DER ECDSA signature, k from RFC 6979 (hedged with ``extra``)
    verify(pub65, digest, sig_der) -> bool never raises: malformed input is False

How: Jacobian coordinates (x = X/Z^2, y = Y/Z^3), the a = -3 doubling, one inversion (Fermat) per result.
Secret scalars (keypair, shared, sign) use a regular signed window of 4 bits: the scalar is made odd
(k or k + n, the same point) and written as 65 odd digits in [-15, 15], so every window costs 4 doublings
and one addition whatever the key; the table holds the 8 odd multiples P..15P. The fixed base G uses a
table of its odd multiples computed on first use and kept (8 affine points: about 1 KB of heap on
MicroPython). Verification (public scalars) computes u1*G + u2*Q jointly (Shamir's trick: one chain of
doublings) with width-5 NAFs of u1 and u2, which need about one addition per 6 bits.

Signatures: s is emitted as computed (no low-s normalisation: TLS does not need it) and both s and n - s
are accepted by verify.

Side channels: the secret-scalar path has a fixed sequence of doublings and additions, but the table index
and the sign of each digit are data-dependent look-ups and Python big-int arithmetic is not constant time;
do not use this where a local timing attacker is a concern (a board's threat model is the network).
"""

from micropython import const

from microticket.crypto import Hmac

_P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
_N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
_B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)
_GX = const(0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296)
_GY = const(0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

_G_TABLE = None  # [xs, ys, zs] of G, 3G, ..., 15G (affine: zs all 1), made on first use


def _dbl(x, y, z):
    """2(X, Y, Z) on a = -3 (dbl-2001-b); infinity (Z = 0) stays infinity."""
    p = _P
    zz = z * z % p
    yy = y * y % p
    m = 3 * (x - zz) * (x + zz) % p
    s = x * yy % p
    x3 = (m * m - (s << 3)) % p
    return x3, (m * ((s << 2) - x3) - ((yy * yy) << 3)) % p, (y * z << 1) % p


def _add(x1, y1, z1, x2, y2, z2):
    """(X1, Y1, Z1) + (X2, Y2, Z2) in Jacobian coordinates (add-1998-cmo-2; cheaper when Z2 == 1, a table
    point in affine form). Every case is handled: either point at infinity (Z = 0), P + P, P + (-P)."""
    p = _P
    if z1 == 0:
        return x2, y2 % p, z2
    if z2 == 0:
        return x1, y1, z1
    zz = z1 * z1 % p
    u2 = x2 * zz % p
    s2 = y2 * (zz * z1 % p) % p
    if z2 == 1:
        u1 = x1
        s1 = y1
    else:
        zz = z2 * z2 % p
        u1 = x1 * zz % p
        s1 = y1 * (zz * z2 % p) % p
        z1 = z1 * z2 % p
    h = u2 - u1
    r = s2 - s1
    if h == 0:
        if r == 0:
            return _dbl(x2, y2, z2)  # the same point
        return 1, 1, 0
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - (v << 1)) % p
    return x3, (r * (v - x3) - s1 * hhh) % p, z1 * h % p


def _affine(x, y, z):
    """(x, y) of a Jacobian point (one inversion by Fermat's little theorem); None for infinity."""
    p = _P
    if z == 0:
        return None
    zi = pow(z, p - 2, p)
    zz = zi * zi % p
    return x * zz % p, y * (zz * zi % p) % p


def _table(x, y, z):
    """[xs, ys, zs] of the odd multiples P, 3P, ..., 15P of the point P = (x, y, z)."""
    xs = [x]
    ys = [y]
    zs = [z]
    dx, dy, dz = _dbl(x, y, z)
    for _ in range(7):
        x, y, z = _add(dx, dy, dz, x, y, z)
        xs.append(x)
        ys.append(y)
        zs.append(z)
    return [xs, ys, zs]


def _g():
    """The table of G (see _table), in affine form (one inversion for all: Montgomery's trick), kept."""
    global _G_TABLE
    if _G_TABLE is None:
        p = _P
        xs, ys, zs = _table(_GX, _GY, 1)
        acc = [1]
        for z in zs:
            acc.append(acc[-1] * z % p)
        inv = pow(acc[8], p - 2, p)
        for i in range(7, -1, -1):
            zi = inv * acc[i] % p  # 1 / zs[i]
            inv = inv * zs[i] % p
            zz = zi * zi % p
            xs[i] = xs[i] * zz % p
            ys[i] = ys[i] * (zz * zi % p) % p
            zs[i] = 1
        _G_TABLE = [xs, ys, zs]
    return _G_TABLE


def _mul(k, t):
    """k*P (Jacobian) for a secret scalar 1 <= k < n and the table ``t`` of P (see _table): the regular
    signed window described in the module's docstring (65 digits, each 4 doublings and one addition)."""
    p = _P
    k += _N * (1 - (k & 1))  # odd, the same point (nP = O)
    ds = []
    for _ in range(64):
        d = (k & 31) - 16  # odd, in [-15, 15]; k - d is 16 times an odd number
        ds.append(d)
        k = (k - d) >> 4
    xs, ys, zs = t
    x = xs[k >> 1]  # the top digit: 1 or 3
    y = ys[k >> 1]
    z = zs[k >> 1]
    for j in range(63, -1, -1):
        for _ in range(4):  # _dbl, inline
            zz = z * z % p
            yy = y * y % p
            m = 3 * (x - zz) * (x + zz) % p
            s = x * yy % p
            z = (y * z << 1) % p
            x = (m * m - (s << 3)) % p
            y = (m * ((s << 2) - x) - ((yy * yy) << 3)) % p
        d = ds[j]
        if d > 0:
            i = d >> 1
            x, y, z = _add(x, y, z, xs[i], ys[i], zs[i])
        else:
            i = (-d) >> 1
            x, y, z = _add(x, y, z, xs[i], p - ys[i], zs[i])
    return x, y, z


def _naf(k):
    """The width-5 NAF of 0 <= k < 2^256: a list of 257 digits, least significant first, each 0 or odd in
    [-15, 15], nonzero digits at least 5 positions apart. Bits are read from bytes (small ints only)."""
    b = k.to_bytes(34, "little")
    out = [0] * 257
    carry = 0
    i = 0
    while i < 257:
        if (b[i >> 3] >> (i & 7)) & 1 == carry:  # bit + carry is even: digit 0, carry unchanged
            i += 1
            continue
        j = i >> 3
        w = (((b[j] | (b[j + 1] << 8)) >> (i & 7)) & 31) + carry  # odd
        if w > 16:
            w -= 32
            carry = 1
        else:
            carry = 0
        out[i] = w
        i += 5
    return out


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


def _encode(x, y):
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


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
    x, y = _affine(*_mul(_scalar(priv), _g()))
    return _encode(x, y)


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
    ``peer`` is not a 65-byte uncompressed point of the curve (see _point) or the result is infinity."""
    x, y = _point(peer)
    r = _affine(*_mul(_scalar(priv), _table(x, y, 1)))
    if r is None:
        raise ValueError("P-256 shared secret")
    return r[0].to_bytes(32, "big")


def _bits2int(digest):
    """bits2int of RFC 6979 section 2.3.2 for n of 256 bits: the leftmost 256 bits of a longer digest
    (SEC 1 section 4.1.3 step 5), the whole of a shorter one."""
    return int.from_bytes(digest[:32], "big")


def _der_int(v):
    b = v.to_bytes(33, "big")
    i = 0
    while i < 32 and b[i] == 0 and b[i + 1] < 0x80:  # minimal, one 0 before a high bit
        i += 1
    return b"\x02" + bytes((33 - i,)) + b[i:]


def sign(priv, digest, extra=b""):
    """The ECDSA signature (SEC 1 section 4.1.3) of ``digest`` (SHA-256 of the message; a longer digest
    is truncated, see _bits2int) as DER Ecdsa-Sig-Value: SEQUENCE { r INTEGER, s INTEGER }.

    The nonce k is RFC 6979's HMAC-DRBG with SHA-256 (section 3.2), with ``extra`` (the caller passes
    rng(32)) as the additional data k' of section 3.6: a broken rng cannot leak the key, and a fault cannot
    be replayed on the same k. With extra=b"" the result is RFC 6979's deterministic signature."""
    n = _N
    d = _scalar(priv)
    e = _bits2int(digest)
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
            r = _affine(*_mul(k, _g()))[0] % n
            if r:
                s = pow(k, n - 2, n) * (e + r * d) % n
                if s:
                    body = _der_int(r) + _der_int(s)
                    return b"\x30" + bytes((len(body),)) + body
        mac = Hmac(mac.mac(v, b"\x00"))
        v = mac.mac(v)


def _read_int(sig, off):
    """(value, next offset) of a strict DER INTEGER in [1, n-1] at ``off``; ValueError otherwise."""
    if off + 2 > len(sig) or sig[off] != 2:
        raise ValueError
    ln = sig[off + 1]
    off += 2
    end = off + ln
    if ln == 0 or ln > 33 or end > len(sig) or sig[off] & 0x80:
        raise ValueError
    if sig[off] == 0 and (ln == 1 or not sig[off + 1] & 0x80):  # non-minimal (or zero)
        raise ValueError
    v = int.from_bytes(sig[off:end], "big")
    if v >= _N:
        raise ValueError
    return v, end


def verify(pub, digest, sig):
    """True when ``sig`` (DER Ecdsa-Sig-Value) is a valid ECDSA signature of ``digest`` by the 65-byte
    point ``pub`` (SEC 1 section 4.1.4). Any malformed input (point, DER: non-minimal integers, long-form
    lengths, trailing bytes; r or s outside [1, n-1]) gives False, never an exception."""
    p = _P
    n = _N
    try:
        qx, qy = _point(pub)
        if len(sig) < 8 or len(sig) > 72 or sig[0] != 0x30 or sig[1] != len(sig) - 2:
            return False
        r, off = _read_int(sig, 2)
        s, off = _read_int(sig, off)
        if off != len(sig):
            return False
    except ValueError:
        return False
    w = pow(s, n - 2, n)
    a = _naf(_bits2int(digest) * w % n)
    b = _naf(r * w % n)
    gx, gy, _ = _g()
    qx, qy, qz = _table(qx, qy, 1)
    x = y = 1
    z = 0
    for i in range(256, -1, -1):
        if z:  # _dbl, inline
            zz = z * z % p
            yy = y * y % p
            m = 3 * (x - zz) * (x + zz) % p
            t = x * yy % p
            z = (y * z << 1) % p
            x = (m * m - (t << 3)) % p
            y = (m * ((t << 2) - x) - ((yy * yy) << 3)) % p
        d = a[i]
        if d:
            if d > 0:
                x, y, z = _add(x, y, z, gx[d >> 1], gy[d >> 1], 1)
            else:
                x, y, z = _add(x, y, z, gx[-d >> 1], p - gy[-d >> 1], 1)
        d = b[i]
        if d:
            if d > 0:
                x, y, z = _add(x, y, z, qx[d >> 1], qy[d >> 1], qz[d >> 1])
            else:
                x, y, z = _add(x, y, z, qx[-d >> 1], p - qy[-d >> 1], qz[-d >> 1])
    if z == 0:
        return False
    # x(R) mod n == r, compared without an inversion: X == r * Z^2 (mod p), or (r + n) * Z^2 when r + n < p
    zz = z * z % p
    return x == r * zz % p or (r + n < p and x == (r + n) * zz % p)
