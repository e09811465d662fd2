"""AES-128-GCM (NIST SP 800-38D) with 96-bit nonces, as TLS uses it (RFC 5288; RFC 8446 too).

The contract is microticket.aead's: ``AesGcm(key)``; ``seal(nonce, aad, buf, off, n)`` encrypts buf[off:off+n]
in place and writes the 16-byte tag after it; ``open(nonce, aad, buf, off, n) -> bool`` checks the tag at
buf[off+n:off+n+16] in constant time and only then decrypts in place.

cryptolib has ECB and CBC only, so CTR is built here: 16 counter blocks are written into one buffer and
encrypted by one ECB call into a keystream buffer, which viper XORs into the data. GHASH multiplies by H
with 4-bit tables made once per key: for each of the 8 nibble positions of a 32-bit word, the 16 multiples
i * H * x^(4b) (2 KB in all), so a word of X times H is the XOR of 8 table entries and Horner's rule runs over
4 words per block, Z * x^32 being a move of words plus a fold of the word pushed out. All viper arithmetic is
on 32-bit words: viper ints are 32-bit and signed on a board, 64-bit on the unix port, so every right shift is
masked (arithmetic or logical, same result) and every left shift stays inside 32 bits. On CPython the same
functions run as plain Python (ports/cpython makes the viper decorator a no-op).

seal and open allocate nothing (all scratch is made in __init__): tests/core/test_aead_gcm_ccm.py runs them
under micropython.heap_lock().
"""

import array
import micropython
from micropython import const
from microticket import crypto

_CHUNK = const(256)   # bytes of keystream per ECB call: 16 counter blocks
_TAG = const(16)


@micropython.viper
def _ghash(t: ptr32, d: ptr8, k: ptr8, s: ptr32, off: int, n: int, ko: int, enc: int):
    # For each 16-byte block of d[off:off+n] (the last one zero-padded): with enc, first XOR the keystream
    # k[ko:...] into it (CTR encryption); then s = (s ^ block) * H. s: the GHASH state, 4 big-endian words.
    # t[64*b + 4*i .. +3] = i * H * x^(4b): nibble i (its bit 8 the lowest power of x) at nibble position b
    # of a word (b = 0 the top nibble).
    # masks for right shifts; 2^31 - 1 is made at run time: as a literal (or a folded constant) it is no small
    # int on a 32-bit build and viper would take it for an object (mpy-cross refuses it even for x64)
    m30 = 0x3FFFFFFF
    m31 = (m30 << 1) | 1
    z0 = s[0]
    z1 = s[1]
    z2 = s[2]
    z3 = s[3]
    i = 0
    while i < n:
        p = off + i
        m = n - i
        if m >= 16:
            if enc:
                j = 0
                while j < 16:
                    d[p + j] ^= k[ko + j]
                    d[p + j + 1] ^= k[ko + j + 1]
                    d[p + j + 2] ^= k[ko + j + 2]
                    d[p + j + 3] ^= k[ko + j + 3]
                    j += 4
            z0 ^= (d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]
            z1 ^= (d[p + 4] << 24) | (d[p + 5] << 16) | (d[p + 6] << 8) | d[p + 7]
            z2 ^= (d[p + 8] << 24) | (d[p + 9] << 16) | (d[p + 10] << 8) | d[p + 11]
            z3 ^= (d[p + 12] << 24) | (d[p + 13] << 16) | (d[p + 14] << 8) | d[p + 15]
        else:
            # the partial last block, zero-padded
            j = 0
            while j < m:
                if enc:
                    d[p + j] ^= k[ko + j]
                b = d[p + j] << (24 - ((j & 3) << 3))
                if j < 4:
                    z0 ^= b
                elif j < 8:
                    z1 ^= b
                elif j < 12:
                    z2 ^= b
                else:
                    z3 ^= b
                j += 1
        # Z = X * H by Horner's rule over the 4 words of X, the highest powers of x (word 3) first:
        # Z = Z * x^32 ^ word * H, a word's product being the XOR of its 8 nibbles' table entries
        x0 = z0
        x1 = z1
        x2 = z2
        x = z3
        z0 = 0
        z1 = 0
        z2 = 0
        z3 = 0
        j = 0
        while j < 4:
            # Z * x^32: the words move down one place; the word pushed out (x^128..x^159) comes back as
            # w * (1 + x + x^2 + x^7) into the top two words
            w = z3
            z3 = z2
            z2 = z1
            z1 = z0 ^ ((w & 1) << 31) ^ ((w & 3) << 30) ^ ((w & 127) << 25)
            z0 = w ^ ((w >> 1) & m31) ^ ((w >> 2) & m30) ^ ((w >> 7) & 0x1FFFFFF)
            q = ((x >> 26) & 60)
            z0 ^= t[q]
            z1 ^= t[q + 1]
            z2 ^= t[q + 2]
            z3 ^= t[q + 3]
            q = ((x >> 22) & 60) + 64
            z0 ^= t[q]
            z1 ^= t[q + 1]
            z2 ^= t[q + 2]
            z3 ^= t[q + 3]
            q = ((x >> 18) & 60) + 128
            z0 ^= t[q]
            z1 ^= t[q + 1]
            z2 ^= t[q + 2]
            z3 ^= t[q + 3]
            q = ((x >> 14) & 60) + 192
            z0 ^= t[q]
            z1 ^= t[q + 1]
            z2 ^= t[q + 2]
            z3 ^= t[q + 3]
            q = ((x >> 10) & 60) + 256
            z0 ^= t[q]
            z1 ^= t[q + 1]
            z2 ^= t[q + 2]
            z3 ^= t[q + 3]
            q = ((x >> 6) & 60) + 320
            z0 ^= t[q]
            z1 ^= t[q + 1]
            z2 ^= t[q + 2]
            z3 ^= t[q + 3]
            q = ((x >> 2) & 60) + 384
            z0 ^= t[q]
            z1 ^= t[q + 1]
            z2 ^= t[q + 2]
            z3 ^= t[q + 3]
            q = ((x << 2) & 60) + 448
            z0 ^= t[q]
            z1 ^= t[q + 1]
            z2 ^= t[q + 2]
            z3 ^= t[q + 3]
            x = x2
            x2 = x1
            x1 = x0
            j += 1
        i += 16
        ko += 16
    s[0] = z0
    s[1] = z1
    s[2] = z2
    s[3] = z3


@micropython.viper
def _ctr(c: ptr8, nonce: ptr8, cnt: int, full: int):
    # the 16 counter blocks nonce | cnt + i (32 bits big-endian); the nonce only written when full
    i = 0
    while i < 256:
        if full:
            c[i] = nonce[0]
            c[i + 1] = nonce[1]
            c[i + 2] = nonce[2]
            c[i + 3] = nonce[3]
            c[i + 4] = nonce[4]
            c[i + 5] = nonce[5]
            c[i + 6] = nonce[6]
            c[i + 7] = nonce[7]
            c[i + 8] = nonce[8]
            c[i + 9] = nonce[9]
            c[i + 10] = nonce[10]
            c[i + 11] = nonce[11]
        c[i + 12] = (cnt >> 24) & 255
        c[i + 13] = (cnt >> 16) & 255
        c[i + 14] = (cnt >> 8) & 255
        c[i + 15] = cnt & 255
        cnt += 1
        i += 16


@micropython.viper
def _xor(d: ptr8, k: ptr8, off: int, ko: int, n: int):
    # d[off:off+n] ^= k[ko:ko+n]
    e = off + (n & ~3)
    while off < e:
        d[off] ^= k[ko]
        d[off + 1] ^= k[ko + 1]
        d[off + 2] ^= k[ko + 2]
        d[off + 3] ^= k[ko + 3]
        off += 4
        ko += 4
    e = off + (n & 3)
    while off < e:
        d[off] ^= k[ko]
        off += 1
        ko += 1


@micropython.viper
def _fin(s: ptr32, j: ptr8, d: ptr8, off: int, check: int) -> int:
    # the tag S ^ E(J0): check 0 writes it at d[off:off+16] and returns 0; check 1 returns the OR of its
    # differences from d[off:off+16] (no early exit: constant time)
    diff = 0
    i = 0
    while i < 16:
        b = ((s[i >> 2] >> (24 - ((i & 3) << 3))) & 255) ^ j[i]
        if check:
            diff |= d[off + i] ^ b
        else:
            d[off + i] = b
        i += 1
    return diff


@micropython.viper
def _lens(k: ptr8, alen: int, clen: int):
    # the lengths block: len(A) and len(C) in bits, 64-bit big-endian each (a record is far below 2^29 bytes)
    i = 0
    while i < 4:
        k[i] = 0
        k[8 + i] = 0
        k[7 - i] = ((alen << 3) >> (i << 3)) & 255
        k[15 - i] = ((clen << 3) >> (i << 3)) & 255
        i += 1


def _table(h):
    # i * H * x^(4b) for every nibble i (bit 8 = x^0 ... bit 1 = x^3) and nibble position b = 0..7,
    # 4 big-endian words each (GCM's bit order: x^0 is the top bit of byte 0; times x is a right shift)
    v = int.from_bytes(h, "big")
    m = [0] * 4   # H * x^(4b + k), k = 0..3
    t = array.array("I", bytes(2048))
    for b in range(8):
        for k in range(4):
            m[k] = v
            v = (v >> 1) ^ (0xE1 << 120 if v & 1 else 0)
        for i in range(16):
            x = 0
            for k in range(4):
                if i & (8 >> k):
                    x ^= m[k]
            o = 64 * b + 4 * i
            for w in range(4):
                t[o + w] = (x >> (96 - 32 * w)) & 0xFFFFFFFF
    return t


class AesGcm:
    """AES-128-GCM: ``seal``/``open`` in place, 12-byte nonces, 16-byte tags (SP 800-38D, RFC 5288)."""

    TAG = _TAG

    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("AES-128-GCM key must be 16 bytes")
        e = crypto.aes_ecb(key)
        self._e = e
        h = bytearray(16)
        e.encrypt(h, h)                  # H = E(0^128)
        self._t = _table(h)
        self._s = array.array("I", bytes(16))
        self._c = bytearray(_CHUNK)      # counter blocks
        self._k = bytearray(_CHUNK)      # their encryption: the keystream
        self._j = h                      # E(J0), the tag's mask

    def _begin(self, nonce, aad):
        # the keystream of counters 1..16 into _k (J0 = nonce | 1: E(J0) copied to _j), the state zeroed and
        # the additional data hashed
        # (no tuple of four on the left: MicroPython builds it on the heap; three or fewer are free)
        c, k, j = self._c, self._k, self._j
        s = self._s
        _ctr(c, nonce, 1, 1)
        self._e.encrypt(c, k)
        _xor(j, j, 0, 0, 16)
        _xor(j, k, 0, 0, 16)
        s[0] = s[1] = s[2] = s[3] = 0
        _ghash(self._t, aad, k, s, 0, len(aad), 0, 0)
        return k

    def _end(self, alen, buf, off, n, check):
        # the lengths block hashed (in _k[0:16], E(J0)'s place), then the tag written or compared
        t, k, s = self._t, self._k, self._s
        _lens(k, alen, n)
        _ghash(t, k, k, s, 0, 16, 0, 0)
        return _fin(s, self._j, buf, off + n, check)

    def seal(self, nonce, aad, buf, off, n):
        k = self._begin(nonce, aad)
        t, s, c = self._t, self._s, self._c
        e = self._e
        m = n if n < _CHUNK - 16 else _CHUNK - 16
        _ghash(t, buf, k, s, off, m, 16, 1)       # counters 2..16: _begin's keystream
        cnt = 17
        while m < n:
            _ctr(c, nonce, cnt, 0)
            e.encrypt(c, k)
            b = n - m if n - m < _CHUNK else _CHUNK
            _ghash(t, buf, k, s, off + m, b, 0, 1)
            m += b
            cnt += 16
        self._end(len(aad), buf, off, n, 0)

    def open(self, nonce, aad, buf, off, n):
        k = self._begin(nonce, aad)
        _ghash(self._t, buf, k, self._s, off, n, 0, 0)
        if self._end(len(aad), buf, off, n, 1):
            return False
        c, e = self._c, self._e
        m = n if n < _CHUNK - 16 else _CHUNK - 16
        _xor(buf, k, off, 16, m)
        cnt = 17
        while m < n:
            _ctr(c, nonce, cnt, 0)
            e.encrypt(c, k)
            b = n - m if n - m < _CHUNK else _CHUNK
            _xor(buf, k, off + m, 0, b)
            m += b
            cnt += 16
        return True
