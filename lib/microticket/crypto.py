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

AES_ECB = const(1)
AES_CBC = const(2)
BLOCK = const(16)

_ZERO_IV = bytes(16)
_HASHES = {"sha256": (hashlib.sha256, 32), "sha1": (hashlib.sha1, 20), "md5": (hashlib.md5, 16)}
_CAN_COPY = hasattr(hashlib.sha256(), "copy")  # CPython's hashlib: yes; MicroPython's: no


def urandom(n):
    """Random bytes from the platform CSPRNG; the only source of randomness in microticket."""
    return os.urandom(n)


def hash_new(name, data=None):
    h = _HASHES[name][0]()
    if data is not None:
        h.update(data)
    return h


def sha256(data):
    h = hashlib.sha256()
    h.update(data)
    return h.digest()


def sha1(data):
    h = hashlib.sha1()
    h.update(data)
    return h.digest()


def md5(data):
    h = hashlib.md5()
    h.update(data)
    return h.digest()


class Hmac:
    """HMAC with precomputed inner and outer key blocks (RFC 2104 section 2).

    ``mac(a, b, c, d)`` is HMAC(key, a | b | c | d) for up to four byte strings, so callers need not join
    buffers. Each call makes two hash objects and two digests: the only allocations.
    """

    def __init__(self, key, name="sha256"):
        ctor, size = _HASHES[name]
        self._ctor = ctor
        self.digest_size = size
        if len(key) > 64:
            h = ctor()
            h.update(key)
            key = h.digest()
        ipad = bytearray(64)
        opad = bytearray(64)
        for i in range(64):
            k = key[i] if i < len(key) else 0
            ipad[i] = k ^ 0x36
            opad[i] = k ^ 0x5C
        self._ipad = ipad
        self._opad = opad
        # Where hash objects can be copied (CPython's hashlib; not MicroPython's), keep the states after
        # the pads and copy them per call instead of hashing the pads again.
        self._inner = self._outer = None
        if _CAN_COPY:
            h = ctor()
            h.update(ipad)
            self._inner = h
            h = ctor()
            h.update(opad)
            self._outer = h

    def _start(self, pad, state):
        if state is not None:
            return state.copy()
        h = self._ctor()
        h.update(pad)
        return h

    def mac(self, a, b=None, c=None, d=None):
        h = self._start(self._ipad, self._inner)
        h.update(a)
        if b is not None:
            h.update(b)
        if c is not None:
            h.update(c)
        if d is not None:
            h.update(d)
        inner = h.digest()
        h = self._start(self._opad, self._outer)
        h.update(inner)
        return h.digest()


def hmac_sha256(key, data):
    return Hmac(key, "sha256").mac(data)


def hmac_sha1(key, data):
    return Hmac(key, "sha1").mac(data)


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
    """A long-lived AES-CBC encrypt object (keeps CBC state across calls)."""
    return cryptolib.aes(key, AES_CBC, _ZERO_IV if iv is None else iv)


def aes_cbc_decryptor(key, iv=None):
    """A long-lived AES-CBC decrypt object. Decrypting ``iv | data`` and dropping the first output block
    gives the plaintext of ``data`` under ``iv`` whatever state the object was in."""
    return cryptolib.aes(key, AES_CBC, _ZERO_IV if iv is None else iv)


def aes_ecb(key):
    return cryptolib.aes(key, AES_ECB)


def aes_cbc_encrypt(key, iv, data):
    """One-shot AES-CBC encryption of block-aligned data (makes a new cipher object)."""
    return cryptolib.aes(key, AES_CBC, iv).encrypt(data)


def aes_cbc_decrypt(key, iv, data):
    return cryptolib.aes(key, AES_CBC, iv).decrypt(data)
