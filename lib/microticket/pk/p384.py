"""NIST P-384 (secp384r1, SEC 2 section 2.5.1) ECDSA verification, for certificates only: Let's Encrypt's
ECDSA intermediates and roots are P-384 keys signing with SHA-384 (microticket.pk.x509 loads this module
only for such a certificate; TLS key exchange and signing stay on P-256 and X25519).

    verify(pub97, digest, sig_der) -> bool   SEC 1 section 4.1.4; never raises: malformed input is False

The point arithmetic is microticket.pk.p256's (Jacobian coordinates, a = -3, the same addition formula)
with this curve's prime; the scalar multiplication is u1*G + u2*Q with Shamir's trick over the bits of both
scalars and G + Q precomputed (verification has only public values: no side-channel care needed), about
384 doublings and 288 additions. A longer digest is truncated to its leftmost 384 bits (SEC 1 4.1.3 step 5).
"""

from micropython import const

from microticket.pk.p256 import _add, _affine, sig_rs

_P = const(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF)
_N = const(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973)
_B = const(0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF)
_GX = const(0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7)
_GY = const(0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F)


def verify(pub, digest, sig):
    """True when ``sig`` (DER Ecdsa-Sig-Value) is a valid ECDSA signature of ``digest`` (SHA-384 of the
    message) by the 97-byte uncompressed point ``pub``; False for anything malformed."""
    p = _P
    n = _N
    if len(pub) != 97 or pub[0] != 4:
        return False
    qx = int.from_bytes(pub[1:49], "big")
    qy = int.from_bytes(pub[49:97], "big")
    if qx >= p or qy >= p or (qy * qy - (qx * qx - 3) * qx - _B) % p:
        return False  # not a point of the curve (the partial validation of SP 800-56A 5.6.2.3.4)
    rs = sig_rs(sig, n, 48)
    if rs is None:
        return False
    r, s = rs
    w = pow(s, n - 2, n)
    u1 = int.from_bytes(digest[:48], "big") * w % n
    u2 = r * w % n
    gq = _add(_GX, _GY, 1, qx, qy, 1, p)  # G + Q (Jacobian)
    x = y = 1
    z = 0
    for i in range(383, -1, -1):
        if z:  # doubling (dbl-2001-b, a = -3), as in microticket.pk.p256
            zz = z * z % p
            yy = y * y % p
            m = 3 * (x - zz) * (x + zz) % p
            t = x * yy % p
            z = (y * z << 1) % p
            x = (m * m - (t << 3)) % p
            y = (m * ((t << 2) - x) - ((yy * yy) << 3)) % p
        b = ((u1 >> i) & 1) | (((u2 >> i) & 1) << 1)
        if b == 1:
            x, y, z = _add(x, y, z, _GX, _GY, 1, p)
        elif b == 2:
            x, y, z = _add(x, y, z, qx, qy, 1, p)
        elif b == 3:
            x, y, z = _add(x, y, z, gq[0], gq[1], gq[2], p)
    r2 = _affine(x, y, z, p)
    return r2 is not None and r2[0] % n == r
