"""ChaCha20-Poly1305 (RFC 8439 section 2.8), the record protection of the TLS 1.2 suites of RFC 7905.

Needs neither cryptolib nor hashlib: it is the suite of MicroPython builds without AES. The contract is the
one of microticket.aead (in place on the caller's buffer, the tag checked before anything is decrypted).

One 280-byte scratch buffer per object, made in __init__, seen by the viper code as 32-bit words (ptr32,
aligned: it is the bytearray's own storage) or bytes (ptr8); the byte view of words assumes a
little-endian CPU, which every MicroPython port is (the RFC vectors fail otherwise):

    words  0..15   ChaCha20 input state: constants, key, block counter, nonce
    words 16..31   one keystream block; between blocks, Poly1305's product limbs (d)
    words 32..51   Poly1305's r as 13-bit limbs: 5*r0..5*r9, then r0..r9
    words 52..61   Poly1305's accumulator h, 13-bit limbs
    words 62..65   Poly1305's s (the second half of the one-time key)
    words 66..69   one 16-byte block: a padded tail, the lengths block

Poly1305 in 13-bit limbs, not big ints. Measured on the x86_64 unix port over a 1 KB record: limbs
16-30 us, allocating nothing (seal and open run under heap_lock: tests/core/test_aead_chacha.py); the
interpreter's big ints (acc = (acc + block) * r, reduced with 2^130 = 5) 72 us, allocating 37 KB of
short-lived ints. Every product of two 13-bit limbs fits 32 bits, so the same viper code is exact where
viper ints are 32 bits (boards: no 64-bit products, which 26-bit limbs would need) and where they are 64
(unix port). Bounds: h limbs < 2^14.1 once a block is added, 5*r limbs < 2^15.4, a product < 2^29.5; a
limb's ten products are summed in two halves of five with a carry between (each half < 2^31.8, plus a
carry < 2^20), so no sum reaches 2^32 and uint shifts are exact (a CPython test makes uint() refuse
anything larger).

The quarter rounds run in a loop over word indices, not unrolled: unrolled is about 2x faster for the
ChaCha20 half of a record but 2 KB more native code (armv6m), which a board without ROMFS holds in heap.

ChaCha20's additions and rotations are masked to 32 bits (M, built from small constants so that it is
0xFFFFFFFF on both word sizes): on 64-bit viper ints a sum or a left shift would otherwise keep high bits.
Values read through ptr8/ptr32 are ints; they are cast to uint before any right shift (logical shifts).
"""

import micropython
from micropython import const

_ST = const(0)    # word offsets in the scratch buffer (see the module docstring)
_KS = const(16)
_Q = const(32)
_H = const(52)
_S = const(62)
_BLK = const(264)  # byte offset of the 16-byte block
_SIZE = const(280)


@micropython.viper
def _chacha(b, buf, off: int, n: int):
    # XOR n bytes of keystream into buf[off:off+n], one block per 64 bytes from the counter in word 12
    # (advanced per block). The last block stays in words 16..31. Viper does no bounds checks: callers do.
    w = ptr32(b)
    k = ptr8(b)
    p = ptr8(buf)
    m = (uint(0xFFFF) << 16) | uint(0xFFFF)
    while n > 0:
        for i in range(16):
            w[_KS + i] = w[i]
        for r in range(80):  # 10 double rounds of 4 column then 4 diagonal quarter rounds
            i = r & 3
            s = (r >> 2) & 1
            ia = _KS + i
            ib = _KS + 4 + ((i + s) & 3)
            ic = _KS + 8 + ((i + s + s) & 3)
            id = _KS + 12 + ((i + s + s + s) & 3)
            xa = uint(w[ia])
            xb = uint(w[ib])
            xc = uint(w[ic])
            xd = uint(w[id])
            xa = (xa + xb) & m
            xd ^= xa
            xd = ((xd << 16) | (xd >> 16)) & m
            xc = (xc + xd) & m
            xb ^= xc
            xb = ((xb << 12) | (xb >> 20)) & m
            xa = (xa + xb) & m
            xd ^= xa
            xd = ((xd << 8) | (xd >> 24)) & m
            xc = (xc + xd) & m
            xb ^= xc
            xb = ((xb << 7) | (xb >> 25)) & m
            w[ia] = xa
            w[ib] = xb
            w[ic] = xc
            w[id] = xd
        for i in range(16):
            w[_KS + i] = (uint(w[_KS + i]) + uint(w[i])) & m
        w[12] = (uint(w[12]) + 1) & m
        j = n if n < 64 else 64
        for i in range(j):
            p[off + i] ^= k[64 + i]
        off += j
        n -= j


@micropython.viper
def _poly(b, src, off: int, n: int, rfc: int):
    # Poly1305: absorb src[off:off+n] into h. A tail shorter than 16 bytes is zero-padded as a full block
    # (the AEAD's padding, RFC 8439 2.8), or, with rfc=1, ended with 0x01 and taken without 2^128 (2.5).
    w = ptr32(b)
    p = ptr8(src)
    hib = uint(1)
    while n > 0:
        if n < 16:
            q = ptr8(b)
            for i in range(16):
                q[_BLK + i] = 0
            for i in range(n):
                q[_BLK + i] = p[off + i]
            if rfc:
                q[_BLK + n] = 1
                hib = uint(0)
            p = q
            off = _BLK
            n = 16
        t0 = uint(p[off]) | (uint(p[off + 1]) << 8)
        t1 = uint(p[off + 2]) | (uint(p[off + 3]) << 8)
        t2 = uint(p[off + 4]) | (uint(p[off + 5]) << 8)
        t3 = uint(p[off + 6]) | (uint(p[off + 7]) << 8)
        t4 = uint(p[off + 8]) | (uint(p[off + 9]) << 8)
        t5 = uint(p[off + 10]) | (uint(p[off + 11]) << 8)
        t6 = uint(p[off + 12]) | (uint(p[off + 13]) << 8)
        t7 = uint(p[off + 14]) | (uint(p[off + 15]) << 8)
        # limb k holds bits 13k..13k+12 of the block (and 2^128 = bit 11 of limb 9)
        w[_H] = uint(w[_H]) + (t0 & 0x1FFF)
        w[_H + 1] = uint(w[_H + 1]) + (((t0 >> 13) | (t1 << 3)) & 0x1FFF)
        w[_H + 2] = uint(w[_H + 2]) + (((t1 >> 10) | (t2 << 6)) & 0x1FFF)
        w[_H + 3] = uint(w[_H + 3]) + (((t2 >> 7) | (t3 << 9)) & 0x1FFF)
        w[_H + 4] = uint(w[_H + 4]) + (((t3 >> 4) | (t4 << 12)) & 0x1FFF)
        w[_H + 5] = uint(w[_H + 5]) + ((t4 >> 1) & 0x1FFF)
        w[_H + 6] = uint(w[_H + 6]) + (((t4 >> 14) | (t5 << 2)) & 0x1FFF)
        w[_H + 7] = uint(w[_H + 7]) + (((t5 >> 11) | (t6 << 5)) & 0x1FFF)
        w[_H + 8] = uint(w[_H + 8]) + (((t6 >> 8) | (t7 << 8)) & 0x1FFF)
        w[_H + 9] = uint(w[_H + 9]) + ((t7 >> 5) | (hib << 11))
        # d = h * r mod 2^130 - 5 (partly reduced): d_i = sum_j h_j * Q[10 + i - j], Q = 5r | r
        c = uint(0)
        for i in range(10):
            d = c
            for j in range(5):
                d = uint(d + uint(w[_H + j]) * uint(w[_Q + 10 + i - j]))
            c = d >> 13
            d &= 0x1FFF
            for j in range(5, 10):
                d = uint(d + uint(w[_H + j]) * uint(w[_Q + 10 + i - j]))
            c = uint(c + (d >> 13))
            w[_KS + i] = d & 0x1FFF
        c = uint(c * 5 + uint(w[_KS]))
        w[_H] = c & 0x1FFF
        w[_H + 1] = uint(w[_KS + 1]) + (c >> 13)
        for i in range(2, 10):
            w[_H + i] = w[_KS + i]
        off += 16
        n -= 16


@micropython.viper
def _start(b, nonce, gen: int):
    # Per record (gen=1): the nonce into the state, block 0 -> Poly1305's one-time key (r clamped, s),
    # h = 0, and the counter left at 1 for the data. gen=0 (tests): the one-time key already in bytes 64..95.
    w = ptr32(b)
    k = ptr8(b)
    if gen:
        v = ptr8(nonce)
        w[12] = 0
        for i in range(3):
            w[13 + i] = uint(v[4 * i]) | (uint(v[4 * i + 1]) << 8) | (uint(v[4 * i + 2]) << 16) | (
                uint(v[4 * i + 3]) << 24)
        _chacha(b, b, _BLK, 16)  # one block; what lands in the scratch block is not used
    for i in range(4):  # clamp r (bytes 64..79): top 4 bits of bytes 3, 7, 11, 15; low 2 of 4, 8, 12
        k[67 + 4 * i] &= 15
        if i:
            k[64 + 4 * i] &= 252
    acc = uint(0)
    nb = 0
    j = 64
    for i in range(10):
        while nb < 13 and j < 80:
            acc |= uint(k[j]) << nb
            nb += 8
            j += 1
        r = acc & 0x1FFF
        acc >>= 13
        nb -= 13
        w[_Q + 10 + i] = r
        w[_Q + i] = r * 5
        w[_H + i] = 0
    for i in range(4):
        w[_S + i] = w[_KS + 4 + i]


@micropython.viper
def _tag(b, alen: int, clen: int, buf, off: int, check: int) -> int:
    # The lengths block (none when alen < 0: plain Poly1305, for tests), then h mod p + s mod 2^128:
    # written to buf[off:off+16] (check=0), or compared with it (check=1: returns 0 when equal; every byte is
    # looked at whatever the others are).
    w = ptr32(b)
    k = ptr8(b)
    p = ptr8(buf)
    if alen >= 0:
        w[_BLK // 4] = alen
        w[_BLK // 4 + 1] = 0
        w[_BLK // 4 + 2] = clen
        w[_BLK // 4 + 3] = 0
        _poly(b, b, _BLK, 16, 0)
    c = uint(0)
    for t in range(2):  # carry through; what passes 2^130 comes back times 5 (2^130 = 5 mod p)
        c = c * 5
        for i in range(10):
            x = uint(w[_H + i]) + c
            w[_H + i] = x & 0x1FFF
            c = x >> 13
    w[_H] = uint(w[_H]) + c * 5  # a second pass leaves h0 < 5 when it carries: no further carry
    c = uint(5)  # g = h + 5 - 2^130, used when h >= p, i.e. when h + 5 reaches 2^130; chosen by masks
    for i in range(10):
        x = uint(w[_H + i]) + c
        w[_KS + i] = x & 0x1FFF
        c = x >> 13
    m1 = 0x1FFF * c
    m0 = 0x1FFF ^ m1
    acc = uint(0)
    nb = 0
    j = 0
    cr = uint(0)
    d = 0
    for i in range(10):
        acc |= ((uint(w[_H + i]) & m0) | (uint(w[_KS + i]) & m1)) << nb
        nb += 13
        while nb >= 8 and j < 16:
            x = (acc & 0xFF) + uint(k[_S * 4 + j]) + cr
            cr = x >> 8
            x &= 0xFF
            if check:
                d |= int(x ^ uint(p[off + j]))
            else:
                p[off + j] = x
            acc >>= 8
            nb -= 8
            j += 1
    return d


class ChaCha20Poly1305:
    """AEAD_CHACHA20_POLY1305 with a 32-byte key; nonces of 12 bytes (the TLS record layer's); 16-byte tags."""

    def __init__(self, key):
        if len(key) != 32:
            raise ValueError("ChaCha20-Poly1305 key must be 32 bytes")
        w = bytearray(_SIZE)
        w[0:16] = b"expand 32-byte k"
        w[16:48] = key
        self._w = w

    # (iv: the nonce, a: the additional data: names a board interns anyway; the error texts are long enough
    # not to be interned: each name or short str constant is an interned string on a board's heap)
    def seal(self, iv, a, buf, off, n):
        if len(iv) != 12 or off < 0 or n < 0 or off + n + 16 > len(buf):
            raise ValueError("ChaCha20-Poly1305: nonce or buffer bounds")
        w = self._w
        _start(w, iv, 1)
        _poly(w, a, 0, len(a), 0)
        _chacha(w, buf, off, n)
        _poly(w, buf, off, n, 0)
        _tag(w, len(a), n, buf, off + n, 0)

    def open(self, iv, a, buf, off, n):
        if len(iv) != 12 or off < 0 or n < 0 or off + n + 16 > len(buf):
            raise ValueError("ChaCha20-Poly1305: nonce or buffer bounds")
        w = self._w
        _start(w, iv, 1)
        _poly(w, a, 0, len(a), 0)
        _poly(w, buf, off, n, 0)
        if _tag(w, len(a), n, buf, off + n, 1):
            return False
        _chacha(w, buf, off, n)
        return True
