"""AES-128-GCM (NIST SP 800-38D) with 96-bit nonces, as TLS uses it (RFC 5288; RFC 8446 too).

The contract is microticket.aead's: ``AesGcm(key)``; ``seal(nonce, aad, buf, off, n)`` encrypts buf[off:off+n]
in place and writes the 16-byte tag after it; ``open(nonce, aad, buf, off, n) -> bool`` checks the tag at
buf[off+n:off+n+16] in constant time and only then decrypts in place.

cryptolib has ECB and CBC only, so CTR is built here: 16 counter blocks are written into one buffer and
encrypted in place by one ECB call (the keystream), which viper XORs into the data. GHASH multiplies by H
with 4-bit tables made once per key: for each of the 8 nibble positions of a 32-bit word, the 16 multiples
i * H * x^(4b) (2 KB in all), so a word of X times H is the XOR of 8 table entries and Horner's rule runs over
4 words per block, Z * x^32 being a move of words plus a fold of the word pushed out. All viper arithmetic is
on 32-bit words: viper ints are 32-bit and signed on a board, 64-bit on the unix port, so every right shift is
masked (arithmetic or logical, same result) and every left shift stays inside 32 bits. On CPython the same
functions run as plain Python (ports/cpython makes the viper decorator a no-op).

One viper function does all of it (_gcm, a mode per job: counter blocks, tables, XOR, GHASH, tag): each def
and each name costs a board heap even from ROMFS (a def ~60 bytes, a name an interned string).

Heap: an object holds its key's ECB object and one buffer of 32-bit words (a bytearray): its 2 KB of tables, then the GHASH state
and E(J0) (8 words). The keystream buffer (16 counter blocks, encrypted in place) is module-level, made by the
first object and shared by all: seal and open run start to end without yielding (even under asyncio), and a
connection has two objects (one per direction), a server several. seal and open allocate nothing:
tests/core/test_aead_gcm_ccm.py runs them under micropython.heap_lock().
"""

import array
import micropython
from micropython import const
from microticket import crypto

_CHUNK = const(256)   # bytes of keystream per ECB call: 16 counter blocks
_S = const(512)       # the words after the tables: the GHASH state (4), E(J0) (4)
_WORDS = const(520)
# _gcm's modes
_HASH = const(0)      # GHASH over d[off:off+n]
_ENC = const(1)       # the same, each block first XORed with the keystream k[ko:...] (CTR encryption)
_START = const(2)     # the state zeroed and E(J0) kept (k[0:16]), then _HASH
_XOR = const(3)       # d[off:off+n] ^= k[ko:ko+n] (CTR decryption, once the tag is checked)
_CTR = const(4)       # k[0:256] = 16 counter blocks: the 12-byte nonce d | off + i (32 bits big-endian)
_TAB = const(5)       # the tables from H = d[0:16]
_TAG = const(6)       # the lengths block of off bytes of additional data and n of ciphertext hashed, then the
                      # tag S ^ E(J0) written at d[ko:ko+16]
_CHECK = const(7)     # the same, compared with d[ko:ko+16] instead: returns the OR of the differences (no
                      # early exit: constant time)

_k = None   # the shared keystream buffer (see the docstring)


@micropython.viper
def _gcm(t: ptr32, d: ptr8, k: ptr8, off: int, n: int, ko: int, mode: int) -> int:
    # t[64*b + 4*i .. +3] = i * H * x^(4b): nibble i (its bit 8 the lowest power of x) at nibble position b
    # of a word (b = 0 the top nibble); then the state and E(J0), 4 big-endian words each.
    # (t, d and k first: viper keeps its first locals in registers)
    if mode == _XOR:
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
        return 0
    if mode == _CTR:
        i = 0
        while i < 256:
            k[i] = d[0]
            k[i + 1] = d[1]
            k[i + 2] = d[2]
            k[i + 3] = d[3]
            k[i + 4] = d[4]
            k[i + 5] = d[5]
            k[i + 6] = d[6]
            k[i + 7] = d[7]
            k[i + 8] = d[8]
            k[i + 9] = d[9]
            k[i + 10] = d[10]
            k[i + 11] = d[11]
            k[i + 12] = (off >> 24) & 255
            k[i + 13] = (off >> 16) & 255
            k[i + 14] = (off >> 8) & 255
            k[i + 15] = off & 255
            off += 1
            i += 16
        return 0
    # masks for right shifts; 2^31 - 1 is made at run time: as a literal (or a folded constant) it is no small
    # int on a 32-bit build and viper would take it for an object (mpy-cross refuses it even for x64)
    m30 = 0x3FFFFFFF
    m31 = (m30 << 1) | 1
    if mode == _TAB:
        # i * H * x^(4b) for every nibble i (bit 8 = x^0 ... bit 1 = x^3) and nibble position b = 0..7 (GCM's
        # bit order: x^0 is the top bit of byte 0; times x is a right shift of the 128 bits, x^128 folding back
        # as 0xE1 << 120)
        r = 0xE1
        r <<= 24   # (at run time, like m31)
        v0 = (d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]
        v1 = (d[4] << 24) | (d[5] << 16) | (d[6] << 8) | d[7]
        v2 = (d[8] << 24) | (d[9] << 16) | (d[10] << 8) | d[11]
        v3 = (d[12] << 24) | (d[13] << 16) | (d[14] << 8) | d[15]
        o = 0
        while o < _S:
            t[o] = 0   # nibble 0
            t[o + 1] = 0
            t[o + 2] = 0
            t[o + 3] = 0
            b = 8
            while b:  # the one-bit nibbles 8, 4, 2, 1: H * x^(4b), x^(4b+1), ...
                q = o + 4 * b
                t[q] = v0
                t[q + 1] = v1
                t[q + 2] = v2
                t[q + 3] = v3
                c = v3 & 1
                v3 = ((v3 >> 1) & m31) | ((v2 & 1) << 31)
                v2 = ((v2 >> 1) & m31) | ((v1 & 1) << 31)
                v1 = ((v1 >> 1) & m31) | ((v0 & 1) << 31)
                v0 = (v0 >> 1) & m31
                if c:
                    v0 ^= r
                b >>= 1
            i = 3
            while i < 16:  # the others: the XOR of their top bit's entry and the rest's
                b = 2
                if i >= 8:
                    b = 8
                elif i >= 4:
                    b = 4
                if i != b:
                    q = o + 4 * i
                    x = o + 4 * b
                    y = o + 4 * (i - b)
                    t[q] = t[x] ^ t[y]
                    t[q + 1] = t[x + 1] ^ t[y + 1]
                    t[q + 2] = t[x + 2] ^ t[y + 2]
                    t[q + 3] = t[x + 3] ^ t[y + 3]
                i += 1
            o += 64
        return 0
    if mode == _START:
        t[_S + 4] = (k[0] << 24) | (k[1] << 16) | (k[2] << 8) | k[3]
        t[_S + 5] = (k[4] << 24) | (k[5] << 16) | (k[6] << 8) | k[7]
        t[_S + 6] = (k[8] << 24) | (k[9] << 16) | (k[10] << 8) | k[11]
        t[_S + 7] = (k[12] << 24) | (k[13] << 16) | (k[14] << 8) | k[15]
        t[_S] = 0
        t[_S + 1] = 0
        t[_S + 2] = 0
        t[_S + 3] = 0
    z0 = t[_S]
    z1 = t[_S + 1]
    z2 = t[_S + 2]
    z3 = t[_S + 3]
    to = ko
    if mode >= _TAG:   # the lengths block: len(A) and len(C) in bits, 64-bit big-endian each (a record is far
        z1 ^= off << 3  # below 2^29 bytes); hashed as one block with no data
        z3 ^= n << 3
        n = 16
    # for each 16-byte block of d[off:off+n] (the last one zero-padded): s = (s ^ block) * H
    i = 0
    while i < n:
        p = off + i
        m = n - i
        if mode >= _TAG:
            pass
        elif m >= 16:
            if mode == _ENC:
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
                if mode == _ENC:
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
    t[_S] = z0
    t[_S + 1] = z1
    t[_S + 2] = z2
    t[_S + 3] = z3
    if mode < _TAG:
        return 0
    diff = 0
    i = 0
    while i < 16:
        b = ((t[_S + (i >> 2)] ^ t[_S + 4 + (i >> 2)]) >> (24 - ((i & 3) << 3))) & 255
        if mode == _CHECK:
            diff |= d[to + i] ^ b
        else:
            d[to + i] = b
        i += 1
    return diff


class AesGcm:
    """AES-128-GCM: ``seal``/``open`` in place, 12-byte nonces, 16-byte tags (SP 800-38D, RFC 5288)."""

    def __init__(self, key):
        global _k
        if len(key) != 16:
            raise ValueError("AES-128-GCM key must be 16 bytes")
        e = crypto.aes_ecb(key)
        self._e = e
        h = bytearray(16)
        e.encrypt(h, h)                  # H = E(0^128)
        # the words: where _gcm is machine code (not a bytecode function like crypto's), a bytearray, which
        # viper's ptr32 reads as words, made zeroed in 1.8 us where an array from a range takes 11 (of the
        # 13.5 this constructor took: TLS 1.3 makes four per handshake); bytecode (CPython, a --no-native
        # build) indexes an array of words (from a range: no 2 KB of zero bytes made first)
        t = bytearray(_WORDS * 4) if type(_gcm) is not type(crypto.sha1) else array.array("I", range(_WORDS))
        _gcm(t, h, h, 0, 0, 0, _TAB)
        self._t = t
        if _k is None:
            _k = bytearray(_CHUNK)

    # (iv: the nonce, a: the additional data; names a board interns anyway, where nonce and aad would be two
    # more interned strings)
    def seal(self, iv, a, buf, off, n):
        t, k, e = self._t, _k, self._e
        _gcm(t, iv, k, 1, 0, 0, _CTR)     # counters 1..16: E(J0), then the first 15 blocks' keystream
        e.encrypt(k, k)
        _gcm(t, a, k, 0, len(a), 0, _START)
        m = n if n < _CHUNK - 16 else _CHUNK - 16
        _gcm(t, buf, k, off, m, 16, _ENC)
        cnt = 17
        while m < n:
            _gcm(t, iv, k, cnt, 0, 0, _CTR)
            e.encrypt(k, k)
            b = n - m if n - m < _CHUNK else _CHUNK
            _gcm(t, buf, k, off + m, b, 0, _ENC)
            m += b
            cnt += 16
        _gcm(t, buf, k, len(a), n, off + n, _TAG)

    def open(self, iv, a, buf, off, n):
        t, k, e = self._t, _k, self._e
        _gcm(t, iv, k, 1, 0, 0, _CTR)
        e.encrypt(k, k)
        _gcm(t, a, k, 0, len(a), 0, _START)
        _gcm(t, buf, k, off, n, 0, _HASH)
        if _gcm(t, buf, k, len(a), n, off + n, _CHECK):
            return False
        m = n if n < _CHUNK - 16 else _CHUNK - 16
        _gcm(t, buf, k, off, m, 16, _XOR)    # the first chunk's keystream is still in k
        cnt = 17
        while m < n:
            _gcm(t, iv, k, cnt, 0, 0, _CTR)
            e.encrypt(k, k)
            b = n - m if n - m < _CHUNK else _CHUNK
            _gcm(t, buf, k, off + m, b, 0, _XOR)
            m += b
            cnt += 16
        return True
