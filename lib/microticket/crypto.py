"""The only module of microticket that touches cryptolib, hashlib and os.urandom.

- AES-128-CBC (and ECB) into caller buffers, with long-lived cipher objects for explicit-IV formats.
- HMAC (RFC 2104) over SHA-256, SHA-1 and MD5 with the key's pads computed once per key.
- Constant-time comparison.
(The PRFs built on this HMAC live in microticket.prf, so a board that only opens tickets never loads them.)

MicroPython facts this module is built around: a cryptolib.aes object encrypts OR decrypts and carries CBC
state across calls; hash objects have no copy() and digest() finalises them; making any object allocates,
while aes.encrypt(src, dst) and hash.update(memoryview) on existing objects do not.
"""

import os
import hashlib
import cryptolib
import micropython
from micropython import const

_AES_ECB = const(1)  # cryptolib modes
_AES_CBC = const(2)

_ZERO_IV = const(b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")  # 16 bytes (const: no interned name)
_HASHES = {"sha256": (hashlib.sha256, 32), "sha1": (hashlib.sha1, 20)}
_CAN_COPY = hasattr(hashlib.sha256(), "copy")  # CPython's hashlib: yes; MicroPython's: no


def urandom(n):
    """Random bytes from the platform CSPRNG; the only source of randomness in microticket. (A function, not
    an alias of os.urandom: it reads os.urandom at each call, so a test can substitute it.)"""
    return os.urandom(n)


def hash_new(name, data=None):
    # hashlib's hash of that name with data hashed in, or None where this hashlib has none (SHA-384 and
    # SHA-512 on MicroPython: microticket.sha512 then uses its own; no new name, so no qstr on any path)
    h = getattr(hashlib, name, None)
    if h is not None:
        h = h()
        if data is not None:
            h.update(data)
    return h


def sha256(data):
    return hash_new("sha256", data).digest()


def sha1(data):
    return hash_new("sha1", data).digest()


@micropython.viper
def _flip(p: ptr8, n: int):
    # the 64-byte key block XOR n, in place: n = 0x36 makes the inner block from the key, then 0x6A turns it
    # into the outer one and back ((k ^ 0x36) ^ 0x6A == k ^ 0x5C, RFC 2104 ipad/opad)
    for i in range(64):
        p[i] ^= n


class Hmac:
    """HMAC with the key block computed once per key (RFC 2104 section 2).

    ``mac(a, b, c, d)`` is HMAC(key, a | b | c | d) for up to four byte strings, so callers need not join
    buffers. Each call makes two hash objects and two digests: the only allocations.

    Heap (MicroPython): one 64-byte key block (key XOR ipad), turned into key XOR opad in place for the
    outer hash and back (``_flip``, no allocation), and one instance attribute for SHA-256; the hash and
    its size are class attributes unless another hash is asked for. ~160 bytes per object instead of ~450
    (two pads and six attributes).
    """

    _ctor = hashlib.sha256
    digest_size = 32
    _inner = None   # CPython: hash states after the pads, copied per call

    def __init__(self, key, name="sha256"):
        if name != "sha256":
            self._ctor, self.digest_size = _HASHES[name]
        ctor = self._ctor
        if len(key) > 64:
            h = ctor()
            h.update(key)
            key = h.digest()
        pad = bytearray(64)
        pad[0:len(key)] = key
        _flip(pad, 0x36)
        self._pad = pad
        # Where hash objects can be copied (CPython's hashlib; not MicroPython's), keep the states after
        # the pads and copy them per call instead of hashing the pads again (the block is not used again:
        # left as the outer one)
        if _CAN_COPY:
            self._inner = ctor(pad)
            _flip(pad, 0x6A)
            self._outer = ctor(pad)

    def mac(self, a, b=None, c=None, d=None):
        i = self._inner
        pad = self._pad
        h = self._ctor(pad) if i is None else i.copy()
        h.update(a)
        if b is not None:
            h.update(b)
        if c is not None:
            h.update(c)
        if d is not None:
            h.update(d)
        a = h.digest()
        if i is None:
            _flip(pad, 0x6A)   # key XOR opad (nothing between the two flips can raise)
            h = self._ctor(pad)
            _flip(pad, 0x6A)
        else:
            h = self._outer.copy()
        h.update(a)
        return h.digest()


@micropython.viper
def _xor_diff(a: ptr8, b: ptr8, off: int, n: int) -> int:
    # OR of a[i] ^ b[off + i] over n bytes: no early exit, so the time depends on n only. Viper does no
    # bounds checks: callers check them.
    d = 0
    for i in range(n):
        d |= a[i] ^ b[off + i]
    return d


def ct_equal(a, b):
    """Constant-time equality of two byte strings (time depends on the length only)."""
    if len(a) != len(b):
        return False
    return _xor_diff(a, b, 0, len(a)) == 0


def ct_equal_at(a, b, b_off):
    """Constant-time ``a == b[b_off:b_off+len(a)]`` without slicing b (no allocation)."""
    n = len(a)
    if b_off < 0 or b_off + n > len(b):
        return False
    return _xor_diff(a, b, b_off, n) == 0


# --- AES -------------------------------------------------------------------------------------------

def aes_cbc_encryptor(key, iv=None):
    """A long-lived AES-CBC object (keeps CBC state across calls). It encrypts OR decrypts, whichever it is
    first used for (one constructor for both: each def costs a board ~60 bytes of heap even from ROMFS).
    Decrypting ``iv | data`` and dropping the first output block gives the plaintext of ``data`` under
    ``iv`` whatever state the object was in."""
    return cryptolib.aes(key, _AES_CBC, _ZERO_IV if iv is None else iv)


def aes_ecb(key):
    return cryptolib.aes(key, _AES_ECB)


def aes_cbc_encrypt(key, iv, data):
    """One-shot AES-CBC encryption of block-aligned data (makes a new cipher object)."""
    return cryptolib.aes(key, _AES_CBC, iv).encrypt(data)


def aes_cbc_decrypt(key, iv, data):
    return cryptolib.aes(key, _AES_CBC, iv).decrypt(data)
