"""AES-CCM (RFC 3610, NIST SP 800-38C) with a 12-byte nonce as TLS uses it (RFC 6655: AES_128_CCM with a
16-byte tag, AES_128_CCM_8 with an 8-byte one, the IoT profile's suite, RFC 7925).

The contract is microticket.aead's: ``AesCcm(key, tag=16)`` (tag 16 or 8); ``seal(nonce, aad, buf, off, n)``
encrypts buf[off:off+n] in place and writes the tag after it; ``open(nonce, aad, buf, off, n) -> bool``
checks the tag at buf[off+n:] in constant time and only then decrypts in place. CCM authenticates the
plaintext, so open decrypts each chunk into scratch for the MAC first and, once the tag matches, decrypts
the record again in place: the caller's buffer never holds unauthenticated plaintext.

With a 12-byte nonce the length field is 3 bytes (L = 3): B0 = flags | nonce | len(P), the counter blocks
A_i = 2 | nonce | i (24 bits), the tag's mask E(A0), the text's keystream E(A1), E(A2), ...

cryptolib has ECB and CBC only. CTR: 16 counter blocks written into one buffer, encrypted by one ECB call
into a keystream buffer, XORed into the data by viper. CBC-MAC: the blocks to authenticate are staged in
the counter buffer (free once its keystream is made) and encrypted by ONE long-lived CBC object, 256 bytes
(or 32 for a short header) a call. The object keeps its chaining value from call to call and a window may
end in stale blocks, so the first block of each window is XORed with (the object's chaining value) ^ (the
MAC's): the object then computes exactly the MAC's next block. Both values are read from the window after
each call; nothing is allocated per record.
"""

import micropython
from micropython import const
from microticket import crypto

_CHUNK = const(256)   # bytes of keystream per ECB call and of MAC input per CBC call: 16 blocks


@micropython.viper
def _ctr(c: ptr8, nonce: ptr8, flags: int, cnt: int, nb: int):
    # nb blocks flags | nonce | cnt + i (24 bits big-endian): counter blocks (flags 2), or B0 (nb 1)
    i = 0
    nb = nb << 4
    while i < nb:
        c[i] = flags
        j = 0
        while j < 12:
            c[i + 1 + j] = nonce[j]
            j += 1
        c[i + 13] = (cnt >> 16) & 255
        c[i + 14] = (cnt >> 8) & 255
        c[i + 15] = cnt & 255
        cnt += 1
        i += 16


@micropython.viper
def _mix(c: ptr8, co: int, d: ptr8, off: int, k: ptr8, m: int, mode: int):
    # stage m bytes of d[off:] into the MAC window c[co:] and zero-pad it to a block boundary.
    # mode 0: c = d ^ k (decrypt for the MAC, d untouched); 1: c = d, then d ^= k (encrypt); 2: c = d.
    i = 0
    while i < m:
        b = d[off + i]
        if mode == 0:
            c[co + i] = b ^ k[i]
        else:
            c[co + i] = b
            if mode == 1:
                d[off + i] = b ^ k[i]
        i += 1
    i = co + m
    while i & 15:
        c[i] = 0
        i += 1


@micropython.viper
def _xor(d: ptr8, k: ptr8, off: int, n: int):
    # d[off:off+n] ^= k[0:n]
    i = 0
    while i < n:
        d[off + i] ^= k[i]
        i += 1


@micropython.viper
def _chain(c: ptr8, p: ptr8, nb: int, y: int):
    # p[0:16]: the CBC object's chaining value; p[16:32]: the MAC's (X_i).
    # nb 0 (before a CBC call): c[0:16] ^= p[0:16] ^ p[16:32].
    # nb > 0 (after it): X = output block nb - 1, the object's value = output block y.
    i = 0
    if nb == 0:
        while i < 16:
            c[i] ^= p[i] ^ p[16 + i]
            i += 1
    else:
        nb = (nb - 1) << 4
        y = y << 4
        while i < 16:
            p[16 + i] = c[nb + i]
            p[i] = c[y + i]
            i += 1


@micropython.viper
def _tag(p: ptr8, s: ptr8, d: ptr8, off: int, n: int, check: int) -> int:
    # the tag X ^ E(A0) (its first n bytes): check 0 writes it at d[off:off+n] and returns 0; check 1 returns
    # the OR of its differences from d[off:off+n] (no early exit: constant time)
    diff = 0
    i = 0
    while i < n:
        b = p[16 + i] ^ s[i]
        if check:
            diff |= d[off + i] ^ b
        else:
            d[off + i] = b
        i += 1
    return diff


class AesCcm:
    """AES-CCM with 12-byte nonces: ``AesCcm(key, tag=16)`` or ``tag=8`` (CCM_8); ``TAG`` is the tag length."""

    def __init__(self, key, tag=16):
        if len(key) not in (16, 32):
            raise ValueError("AES-CCM key must be 16 or 32 bytes")
        if tag != 16 and tag != 8:
            raise ValueError("AES-CCM tag must be 16 or 8 bytes")
        self.TAG = tag
        self._e = crypto.aes_ecb(key)            # CTR
        self._m = crypto.aes_cbc_encryptor(key)  # CBC-MAC (zero IV; chaining value tracked in _p)
        c = bytearray(_CHUNK)
        self._c = c                              # counter blocks, then the MAC window
        self._c2 = memoryview(c)[0:32]           # a two-block window (a TLS header: B0 and the aad)
        self._k = bytearray(_CHUNK)              # keystream
        self._p = bytearray(32)                  # chaining values: the CBC object's, the MAC's
        self._s = bytearray(16)                  # A0, then E(A0): the tag's mask

    def _flush(self, nb):
        # CBC-MAC over the nb blocks staged at the start of the window
        c, p = self._c, self._p
        _chain(c, p, 0, 0)
        if nb <= 2:
            self._m.encrypt(self._c2, self._c2)
            _chain(c, p, nb, 1)
        else:
            self._m.encrypt(c, c)
            _chain(c, p, nb, 15)

    def _begin(self, nonce, aad, n):
        # E(A0) into _s; the MAC chain reset and run over B0 and the encoded additional data
        s, c, p = self._s, self._c, self._p
        _ctr(s, nonce, 2, 0, 1)
        self._e.encrypt(s, s)
        i = 16
        while i < 32:
            p[i] = 0
            i += 1
        a = len(aad)
        _ctr(c, nonce, (64 if a else 0) | ((self.TAG - 2) << 2) | 2, n, 1)
        i = 16
        if a:
            if a < 0xFF00:
                c[16] = a >> 8
                c[17] = a & 255
                i = 18
            else:
                c[16] = 0xFF
                c[17] = 0xFE
                c[18] = a >> 24
                c[19] = (a >> 16) & 255
                c[20] = (a >> 8) & 255
                c[21] = a & 255
                i = 22
        j = 0
        while j < a:
            m = a - j if a - j < _CHUNK - i else _CHUNK - i
            _mix(c, i, aad, j, c, m, 2)
            i += m
            j += m
            if i == _CHUNK:
                self._flush(16)
                i = 0
        if i:
            self._flush((i + 15) >> 4)

    def _run(self, nonce, buf, off, n, mode):
        # the text, 256 bytes a chunk: keystream, then staged for the MAC (mode 0, 1) or just decrypted (3)
        c, k, e = self._c, self._k, self._e
        pos = 0
        cnt = 1
        while pos < n:
            _ctr(c, nonce, 2, cnt, 16)
            e.encrypt(c, k)
            m = n - pos if n - pos < _CHUNK else _CHUNK
            if mode == 3:
                _xor(buf, k, off + pos, m)
            else:
                _mix(c, 0, buf, off + pos, k, m, mode)
                self._flush((m + 15) >> 4)
            pos += m
            cnt += 16

    def seal(self, nonce, aad, buf, off, n):
        self._begin(nonce, aad, n)
        self._run(nonce, buf, off, n, 1)
        _tag(self._p, self._s, buf, off + n, self.TAG, 0)

    def open(self, nonce, aad, buf, off, n):
        self._begin(nonce, aad, n)
        self._run(nonce, buf, off, n, 0)
        if _tag(self._p, self._s, buf, off + n, self.TAG, 1):
            return False
        self._run(nonce, buf, off, n, 3)
        return True
