"""SHA-384 and SHA-512 (FIPS 180-4) for what MicroPython's hashlib lacks: X.509 signatures with SHA-384 (Let's
Encrypt's ECDSA intermediates are P-384 with ecdsa-with-SHA384). Nothing imports this module at module level:
a caller that needs it (a certificate that says SHA-384) imports it then.

    new(data=None, out=64)   a hash object (.update(data), .digest()): hashlib's own where hashlib has the hash
                             (CPython; a MicroPython built with it), else a Sha512; out=48 is SHA-384
    sha384(data), sha512(data)   one-shot digests
    Sha512(data=None, out=64)    the pure implementation; digest() finalises it, as MicroPython's hashlib does

The compression function is viper over one 328-byte state buffer per object (no allocation per block:
update() runs under heap_lock, tests/core/test_sha512.py). Its layout, in bytes:

      0..63   H, the eight 64-bit chaining words, big-endian: the IV is copied in, the digest is read out
     64..71   the byte count, two 32-bit words (low, high), native order
     72..199  the message schedule: a ring of 16 64-bit words as 32-bit halves (high, low); it also holds
              H as words at the start and the end of a block
    200..327  the partial block

64-bit words are pairs of 32-bit halves: a board's viper ints are 32 bits, the unix port's 64, so every sum
and left shift is masked to 32 bits (M, built from small constants: a literal 0xFFFFFFFF would be a big int
on a board) and every right shift is of a uint (logical). The carry out of a low-half sum s = x + y is the
top bit of (x & y) | ((x | y) & ~s): no comparison, so no signed/unsigned question. The round constants
and the IVs are big-endian bytes constants (no list of big ints, no alignment or byte-order assumption),
read with ptr8.
"""

import micropython
from micropython import const
from microticket import crypto

_CNT = const(16)   # word offsets in the state (see the module docstring)
_W = const(18)
_B = const(200)    # byte offset of the partial block
_SIZE = const(328)

# FIPS 180-4 4.2.3: the first 64 bits of the fractional parts of the cube roots of the first 80 primes
_K = const(b"\x42\x8a\x2f\x98\xd7\x28\xae\x22\x71\x37\x44\x91\x23\xef\x65\xcd\xb5\xc0\xfb\xcf\xec\x4d\x3b\x2f"
            b"\xe9\xb5\xdb\xa5\x81\x89\xdb\xbc\x39\x56\xc2\x5b\xf3\x48\xb5\x38\x59\xf1\x11\xf1\xb6\x05\xd0\x19"
            b"\x92\x3f\x82\xa4\xaf\x19\x4f\x9b\xab\x1c\x5e\xd5\xda\x6d\x81\x18\xd8\x07\xaa\x98\xa3\x03\x02\x42"
            b"\x12\x83\x5b\x01\x45\x70\x6f\xbe\x24\x31\x85\xbe\x4e\xe4\xb2\x8c\x55\x0c\x7d\xc3\xd5\xff\xb4\xe2"
            b"\x72\xbe\x5d\x74\xf2\x7b\x89\x6f\x80\xde\xb1\xfe\x3b\x16\x96\xb1\x9b\xdc\x06\xa7\x25\xc7\x12\x35"
            b"\xc1\x9b\xf1\x74\xcf\x69\x26\x94\xe4\x9b\x69\xc1\x9e\xf1\x4a\xd2\xef\xbe\x47\x86\x38\x4f\x25\xe3"
            b"\x0f\xc1\x9d\xc6\x8b\x8c\xd5\xb5\x24\x0c\xa1\xcc\x77\xac\x9c\x65\x2d\xe9\x2c\x6f\x59\x2b\x02\x75"
            b"\x4a\x74\x84\xaa\x6e\xa6\xe4\x83\x5c\xb0\xa9\xdc\xbd\x41\xfb\xd4\x76\xf9\x88\xda\x83\x11\x53\xb5"
            b"\x98\x3e\x51\x52\xee\x66\xdf\xab\xa8\x31\xc6\x6d\x2d\xb4\x32\x10\xb0\x03\x27\xc8\x98\xfb\x21\x3f"
            b"\xbf\x59\x7f\xc7\xbe\xef\x0e\xe4\xc6\xe0\x0b\xf3\x3d\xa8\x8f\xc2\xd5\xa7\x91\x47\x93\x0a\xa7\x25"
            b"\x06\xca\x63\x51\xe0\x03\x82\x6f\x14\x29\x29\x67\x0a\x0e\x6e\x70\x27\xb7\x0a\x85\x46\xd2\x2f\xfc"
            b"\x2e\x1b\x21\x38\x5c\x26\xc9\x26\x4d\x2c\x6d\xfc\x5a\xc4\x2a\xed\x53\x38\x0d\x13\x9d\x95\xb3\xdf"
            b"\x65\x0a\x73\x54\x8b\xaf\x63\xde\x76\x6a\x0a\xbb\x3c\x77\xb2\xa8\x81\xc2\xc9\x2e\x47\xed\xae\xe6"
            b"\x92\x72\x2c\x85\x14\x82\x35\x3b\xa2\xbf\xe8\xa1\x4c\xf1\x03\x64\xa8\x1a\x66\x4b\xbc\x42\x30\x01"
            b"\xc2\x4b\x8b\x70\xd0\xf8\x97\x91\xc7\x6c\x51\xa3\x06\x54\xbe\x30\xd1\x92\xe8\x19\xd6\xef\x52\x18"
            b"\xd6\x99\x06\x24\x55\x65\xa9\x10\xf4\x0e\x35\x85\x57\x71\x20\x2a\x10\x6a\xa0\x70\x32\xbb\xd1\xb8"
            b"\x19\xa4\xc1\x16\xb8\xd2\xd0\xc8\x1e\x37\x6c\x08\x51\x41\xab\x53\x27\x48\x77\x4c\xdf\x8e\xeb\x99"
            b"\x34\xb0\xbc\xb5\xe1\x9b\x48\xa8\x39\x1c\x0c\xb3\xc5\xc9\x5a\x63\x4e\xd8\xaa\x4a\xe3\x41\x8a\xcb"
            b"\x5b\x9c\xca\x4f\x77\x63\xe3\x73\x68\x2e\x6f\xf3\xd6\xb2\xb8\xa3\x74\x8f\x82\xee\x5d\xef\xb2\xfc"
            b"\x78\xa5\x63\x6f\x43\x17\x2f\x60\x84\xc8\x78\x14\xa1\xf0\xab\x72\x8c\xc7\x02\x08\x1a\x64\x39\xec"
            b"\x90\xbe\xff\xfa\x23\x63\x1e\x28\xa4\x50\x6c\xeb\xde\x82\xbd\xe9\xbe\xf9\xa3\xf7\xb2\xc6\x79\x15"
            b"\xc6\x71\x78\xf2\xe3\x72\x53\x2b\xca\x27\x3e\xce\xea\x26\x61\x9c\xd1\x86\xb8\xc7\x21\xc0\xc2\x07"
            b"\xea\xda\x7d\xd6\xcd\xe0\xeb\x1e\xf5\x7d\x4f\x7f\xee\x6e\xd1\x78\x06\xf0\x67\xaa\x72\x17\x6f\xba"
            b"\x0a\x63\x7d\xc5\xa2\xc8\x98\xa6\x11\x3f\x98\x04\xbe\xf9\x0d\xae\x1b\x71\x0b\x35\x13\x1c\x47\x1b"
            b"\x28\xdb\x77\xf5\x23\x04\x7d\x84\x32\xca\xab\x7b\x40\xc7\x24\x93\x3c\x9e\xbe\x0a\x15\xc9\xbe\xbc"
            b"\x43\x1d\x67\xc4\x9c\x10\x0d\x4c\x4c\xc5\xd4\xbe\xcb\x3e\x42\xb6\x59\x7f\x29\x9c\xfc\x65\x7e\x2a"
            b"\x5f\xcb\x6f\xab\x3a\xd6\xfa\xec\x6c\x44\x19\x8c\x4a\x47\x58\x17")
# 5.3.4 and 5.3.5: the initial hash values of SHA-384 and SHA-512
_IV384 = const(b"\xcb\xbb\x9d\x5d\xc1\x05\x9e\xd8\x62\x9a\x29\x2a\x36\x7c\xd5\x07\x91\x59\x01\x5a\x30\x70\xdd\x17"
                b"\x15\x2f\xec\xd8\xf7\x0e\x59\x39\x67\x33\x26\x67\xff\xc0\x0b\x31\x8e\xb4\x4a\x87\x68\x58\x15\x11"
                b"\xdb\x0c\x2e\x0d\x64\xf9\x8f\xa7\x47\xb5\x48\x1d\xbe\xfa\x4f\xa4")
_IV512 = const(b"\x6a\x09\xe6\x67\xf3\xbc\xc9\x08\xbb\x67\xae\x85\x84\xca\xa7\x3b\x3c\x6e\xf3\x72\xfe\x94\xf8\x2b"
                b"\xa5\x4f\xf5\x3a\x5f\x1d\x36\xf1\x51\x0e\x52\x7f\xad\xe6\x82\xd1\x9b\x05\x68\x8c\x2b\x3e\x6c\x1f"
                b"\x1f\x83\xd9\xab\xfb\x41\xbd\x6b\x5b\xe0\xcd\x19\x13\x7e\x21\x79")


@micropython.viper
def _sha(st, src, off: int, n: int):
    # Absorb src[off:off+n] (whole blocks straight from src, the rest through the partial block), or with
    # n < 0 pad the message (0x80, zeros, the 128-bit bit length) and leave the digest in bytes 0..63.
    # Viper does no bounds checks: callers pass a whole buffer.
    s = ptr32(st)
    b = ptr8(st)
    k = ptr8(_K)
    p = ptr8(src)
    m = (uint(0xFFFF) << 16) | uint(0xFFFF)
    lo = uint(s[_CNT])
    hi = uint(s[_CNT + 1])
    pos = int(lo & 127)
    fin = 0
    if n < 0:
        fin = 1
    else:
        x = (lo + uint(n)) & m
        s[_CNT + 1] = (hi + (((lo & uint(n)) | ((lo | uint(n)) & (x ^ m))) >> 31)) & m
        s[_CNT] = x
    while True:
        q = b
        qo = _B
        if fin:
            i = pos + 1
            if fin == 1:
                b[_B + pos] = 0x80
            else:
                i = 0
            while i < 128:
                b[_B + i] = 0
                i += 1
            if fin == 1 and pos >= 112:
                fin = 2   # no room for the length: one more block
            else:
                fin = 3
                x = hi >> 29   # the bit length: the byte count times 8, big-endian in bytes 112..127
                b[_B + 119] = x
                x = ((hi << 3) | (lo >> 29)) & m
                b[_B + 120] = x >> 24
                b[_B + 121] = (x >> 16) & 255
                b[_B + 122] = (x >> 8) & 255
                b[_B + 123] = x & 255
                x = (lo << 3) & m
                b[_B + 124] = x >> 24
                b[_B + 125] = (x >> 16) & 255
                b[_B + 126] = (x >> 8) & 255
                b[_B + 127] = x & 255
        elif pos == 0 and n >= 128:
            q = p
            qo = off
            off += 128
            n -= 128
        else:
            i = 128 - pos
            if n < i:
                i = n
            n -= i
            while i > 0:
                b[_B + pos] = p[off]
                pos += 1
                off += 1
                i -= 1
            if pos < 128:
                break
            pos = 0
        # one block from q[qo:qo+128]: H into the ring as words, then into a..h
        for i in range(16):
            j = 4 * i
            s[_W + i] = (uint(b[j]) << 24) | (uint(b[j + 1]) << 16) | (uint(b[j + 2]) << 8) | uint(b[j + 3])
        ah = uint(s[_W])
        al = uint(s[_W + 1])
        bh = uint(s[_W + 2])
        bl = uint(s[_W + 3])
        ch = uint(s[_W + 4])
        cl = uint(s[_W + 5])
        dh = uint(s[_W + 6])
        dl = uint(s[_W + 7])
        eh = uint(s[_W + 8])
        el = uint(s[_W + 9])
        fh = uint(s[_W + 10])
        fl = uint(s[_W + 11])
        gh = uint(s[_W + 12])
        gl = uint(s[_W + 13])
        hh = uint(s[_W + 14])
        hl = uint(s[_W + 15])
        for t in range(80):
            r = _W + 2 * (t & 15)
            if t < 16:
                j = qo + 8 * t
                wh = (uint(q[j]) << 24) | (uint(q[j + 1]) << 16) | (uint(q[j + 2]) << 8) | uint(q[j + 3])
                wl = (uint(q[j + 4]) << 24) | (uint(q[j + 5]) << 16) | (uint(q[j + 6]) << 8) | uint(q[j + 7])
            else:
                # W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]; W[t-16] is the ring slot W[t] takes
                wh = uint(s[r])
                wl = uint(s[r + 1])
                j = _W + 2 * ((t - 15) & 15)
                yh = uint(s[j])
                yl = uint(s[j + 1])
                xh = (((yh >> 1) | (yl << 31)) ^ ((yh >> 8) | (yl << 24)) ^ (yh >> 7)) & m
                xl = (((yl >> 1) | (yh << 31)) ^ ((yl >> 8) | (yh << 24)) ^ ((yl >> 7) | (yh << 25))) & m
                y = (wl + xl) & m
                wh = (wh + xh + (((wl & xl) | ((wl | xl) & (y ^ m))) >> 31)) & m
                wl = y
                j = _W + 2 * ((t - 2) & 15)
                yh = uint(s[j])
                yl = uint(s[j + 1])
                xh = (((yh >> 19) | (yl << 13)) ^ ((yl >> 29) | (yh << 3)) ^ (yh >> 6)) & m
                xl = (((yl >> 19) | (yh << 13)) ^ ((yh >> 29) | (yl << 3)) ^ ((yl >> 6) | (yh << 26))) & m
                y = (wl + xl) & m
                wh = (wh + xh + (((wl & xl) | ((wl | xl) & (y ^ m))) >> 31)) & m
                wl = y
                j = _W + 2 * ((t - 7) & 15)
                xh = uint(s[j])
                xl = uint(s[j + 1])
                y = (wl + xl) & m
                wh = (wh + xh + (((wl & xl) | ((wl | xl) & (y ^ m))) >> 31)) & m
                wl = y
            s[r] = wh
            s[r + 1] = wl
            # T1 = h + S1(e) + Ch(e, f, g) + K[t] + W[t], into (wh, wl)
            xh = (((eh >> 14) | (el << 18)) ^ ((eh >> 18) | (el << 14)) ^ ((el >> 9) | (eh << 23))) & m
            xl = (((el >> 14) | (eh << 18)) ^ ((el >> 18) | (eh << 14)) ^ ((eh >> 9) | (el << 23))) & m
            y = (wl + xl) & m
            wh = (wh + xh + (((wl & xl) | ((wl | xl) & (y ^ m))) >> 31)) & m
            wl = y
            xh = gh ^ (eh & (fh ^ gh))
            xl = gl ^ (el & (fl ^ gl))
            y = (wl + xl) & m
            wh = (wh + xh + (((wl & xl) | ((wl | xl) & (y ^ m))) >> 31)) & m
            wl = y
            y = (wl + hl) & m
            wh = (wh + hh + (((wl & hl) | ((wl | hl) & (y ^ m))) >> 31)) & m
            wl = y
            j = 8 * t
            xh = (uint(k[j]) << 24) | (uint(k[j + 1]) << 16) | (uint(k[j + 2]) << 8) | uint(k[j + 3])
            xl = (uint(k[j + 4]) << 24) | (uint(k[j + 5]) << 16) | (uint(k[j + 6]) << 8) | uint(k[j + 7])
            y = (wl + xl) & m
            wh = (wh + xh + (((wl & xl) | ((wl | xl) & (y ^ m))) >> 31)) & m
            wl = y
            hh = gh
            hl = gl
            gh = fh
            gl = fl
            fh = eh
            fl = el
            # e = d + T1
            el = (dl + wl) & m
            eh = (dh + wh + (((dl & wl) | ((dl | wl) & (el ^ m))) >> 31)) & m
            dh = ch
            dl = cl
            ch = bh
            cl = bl
            bh = ah
            bl = al
            # a = T1 + S0(b) + Maj(b, c, d) (b, c, d being the old a, b, c)
            xh = (((bh >> 28) | (bl << 4)) ^ ((bl >> 2) | (bh << 30)) ^ ((bl >> 7) | (bh << 25))) & m
            xl = (((bl >> 28) | (bh << 4)) ^ ((bh >> 2) | (bl << 30)) ^ ((bh >> 7) | (bl << 25))) & m
            y = (wl + xl) & m
            wh = (wh + xh + (((wl & xl) | ((wl | xl) & (y ^ m))) >> 31)) & m
            wl = y
            xh = (bh & ch) | (dh & (bh | ch))
            xl = (bl & cl) | (dl & (bl | cl))
            al = (wl + xl) & m
            ah = (wh + xh + (((wl & xl) | ((wl | xl) & (al ^ m))) >> 31)) & m
        # H += a..h, back to big-endian bytes
        s[_W] = ah
        s[_W + 1] = al
        s[_W + 2] = bh
        s[_W + 3] = bl
        s[_W + 4] = ch
        s[_W + 5] = cl
        s[_W + 6] = dh
        s[_W + 7] = dl
        s[_W + 8] = eh
        s[_W + 9] = el
        s[_W + 10] = fh
        s[_W + 11] = fl
        s[_W + 12] = gh
        s[_W + 13] = gl
        s[_W + 14] = hh
        s[_W + 15] = hl
        for i in range(8):
            j = 8 * i
            xh = (uint(b[j]) << 24) | (uint(b[j + 1]) << 16) | (uint(b[j + 2]) << 8) | uint(b[j + 3])
            xl = (uint(b[j + 4]) << 24) | (uint(b[j + 5]) << 16) | (uint(b[j + 6]) << 8) | uint(b[j + 7])
            wh = uint(s[_W + 2 * i])
            wl = uint(s[_W + 2 * i + 1])
            y = (wl + xl) & m
            wh = (wh + xh + (((wl & xl) | ((wl | xl) & (y ^ m))) >> 31)) & m
            b[j] = wh >> 24
            b[j + 1] = (wh >> 16) & 255
            b[j + 2] = (wh >> 8) & 255
            b[j + 3] = wh & 255
            b[j + 4] = y >> 24
            b[j + 5] = (y >> 16) & 255
            b[j + 6] = (y >> 8) & 255
            b[j + 7] = y & 255
        if fin == 3:
            break


class Sha512:
    """SHA-512 (out=64) or SHA-384 (out=48), in pure Python/viper; update() takes bytes, bytearray or memoryview."""

    def __init__(self, data=None, out=64):
        if out != 64 and out != 48:
            raise ValueError("out")
        s = bytearray(_SIZE)
        s[0:64] = _IV512 if out == 64 else _IV384
        self._s = s
        self._out = out
        if data is not None:
            self.update(data)

    def update(self, data):
        if not self._out:
            raise ValueError("hash is final")
        _sha(self._s, data, 0, len(data))

    def digest(self):
        self.update(b"")   # refuses a finalised object
        s = self._s
        _sha(s, s, 0, -1)
        n = self._out
        self._out = 0
        return bytes(s[0:n])


def new(data=None, out=64):
    """A SHA-512 (out=64) or SHA-384 (out=48) hash object: hashlib's where it has one, else a Sha512."""
    h = None
    if out == 48 or out == 64:
        h = crypto.hash_new("sha384" if out == 48 else "sha512", data)
    return Sha512(data, out) if h is None else h


def sha384(data):
    return new(data, 48).digest()


def sha512(data):
    return new(data).digest()
