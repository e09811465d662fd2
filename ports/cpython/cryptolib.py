"""CPython stand-in for MicroPython's ``cryptolib`` built-in, backed by the ``cryptography`` package.

Behaves like MicroPython 1.2x ``cryptolib.aes`` (extmod/modcryptolib.c), errors included:
- ``aes(key, mode, IV=None)``: key of 16 or 32 bytes (no AES-192) else ValueError("key"); mode 1 (ECB) or 2 (CBC),
  anything else ValueError("mode"); CBC needs an IV; an IV, when given, must be 16 bytes (ECB ignores it);
  otherwise ValueError("IV").
- ``encrypt(in_buf, out_buf=None)`` / ``decrypt(...)``: input length a multiple of 16 else
  ValueError("blksize % 16"); with ``out_buf`` the result is written there (it must be at least as long as
  the input, else ValueError("output too small")) and ``out_buf`` is returned; otherwise new bytes.
- CBC chaining state is carried from one call to the next.
- An object is bound to the first direction used: the other one raises ValueError("can't encrypt & decrypt").

One difference: MicroPython lets ``out_buf`` be an immutable ``bytes`` object and writes into it; here it
must be a writable buffer (TypeError otherwise).
"""

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:  # what Cipher(...).encryptor() / .decryptor() return, made without Cipher's checks (done here already)
    from cryptography.hazmat.bindings._rust import openssl as _rust
    _NEW_CTX = (None, _rust.ciphers.create_encryption_ctx, _rust.ciphers.create_decryption_ctx)
except (ImportError, AttributeError):  # another cryptography: through Cipher
    _NEW_CTX = (None, lambda a, m: Cipher(a, m).encryptor(), lambda a, m: Cipher(a, m).decryptor())

_MODE_ECB = 1
_MODE_CBC = 2
_NONE, _ENC, _DEC = 0, 1, 2
_ECB = modes.ECB()  # (no state)


class aes:
    def __init__(self, key, mode, IV=None):
        key = bytes(key)
        if len(key) not in (16, 32):
            raise ValueError("key")
        if mode not in (_MODE_ECB, _MODE_CBC):
            raise ValueError("mode")
        if (IV is None and mode == _MODE_CBC) or (IV is not None and len(IV) != 16):
            raise ValueError("IV")
        self._key = key
        self._mode = mode
        self._iv = bytes(IV) if IV is not None else bytes(16)
        self._dir = _NONE
        self._update = None

    def _bind(self, direction):
        # the cipher context of the first direction used; the other one is refused from then on
        if self._dir != _NONE:
            raise ValueError("can't encrypt & decrypt")
        mode = _ECB if self._mode == _MODE_ECB else modes.CBC(self._iv)
        self._update = _NEW_CTX[direction](algorithms.AES(self._key), mode).update
        self._dir = direction

    def _process(self, direction, in_buf, out_buf):
        # the checks in MicroPython's order: input length, output size, then the direction
        t = type(in_buf)
        if t is str:  # MicroPython str objects expose their UTF-8 bytes as a buffer
            in_buf = in_buf.encode()
        elif t is memoryview and in_buf.itemsize != 1:
            in_buf = in_buf.cast("B")
        n = len(in_buf)
        if n % 16:
            raise ValueError("blksize % 16")
        if out_buf is not None and len(out_buf) < n:  # (a read-only out_buf fails below with TypeError)
            raise ValueError("output too small")
        if self._dir != direction:
            self._bind(direction)
        if out_buf is None:
            return self._update(in_buf)
        out_buf[:n] = self._update(in_buf)
        return out_buf

    def encrypt(self, in_buf, out_buf=None):
        # the common case inline (a byte buffer of whole blocks, the object bound to this direction): the
        # same checks and result as _process, one Python call fewer
        if self._dir == _ENC and type(in_buf) is not str and (type(in_buf) is not memoryview or in_buf.itemsize == 1):
            n = len(in_buf)
            if not n % 16:
                if out_buf is None:
                    return self._update(in_buf)
                if len(out_buf) >= n:
                    out_buf[:n] = self._update(in_buf)
                    return out_buf
        return self._process(_ENC, in_buf, out_buf)

    def decrypt(self, in_buf, out_buf=None):
        if self._dir == _DEC and type(in_buf) is not str and (type(in_buf) is not memoryview or in_buf.itemsize == 1):
            n = len(in_buf)
            if not n % 16:
                if out_buf is None:
                    return self._update(in_buf)
                if len(out_buf) >= n:
                    out_buf[:n] = self._update(in_buf)
                    return out_buf
        return self._process(_DEC, in_buf, out_buf)


# --- a port's own AEADs ---------------------------------------------------------------------------------
#
# MicroPython's cryptolib has no AEAD; microticket.aead builds AES-GCM, AES-CCM and ChaCha20-Poly1305 in
# viper, which on CPython runs as plain Python (about 1.1 ms for a 1 KB GCM record, 4.8 ms for ChaCha20).
# A port may offer its own, in C, under these names with microticket.aead's contract (in place on the
# caller's buffer; the tag after the data; open checks the tag before it changes a byte, and returns False
# leaving the buffer as it was): microticket.tls.record_aead takes them where they exist. Here they are the
# cryptography package's (OpenSSL's) AEADs; tests/core/test_shim.py checks them against microticket.aead on
# random inputs.

from cryptography.exceptions import InvalidTag as _InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM as _AESCCM
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _AESGCM
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305 as _ChaCha


class _Aead:
    TAG = 16

    def seal(self, iv, a, buf, off, n):
        t = self.TAG
        if off < 0 or n < 0 or off + n + t > len(buf):
            raise ValueError("AEAD: buffer bounds")
        buf[off:off + n + t] = self._c.encrypt(bytes(iv), bytes(buf[off:off + n]), bytes(a))

    def open(self, iv, a, buf, off, n):
        t = self.TAG
        if off < 0 or n < 0 or off + n + t > len(buf):
            raise ValueError("AEAD: buffer bounds")
        try:
            p = self._c.decrypt(bytes(iv), bytes(buf[off:off + n + t]), bytes(a))
        except _InvalidTag:
            return False
        buf[off:off + n] = p
        return True


class AesGcm(_Aead):
    """microticket.aead.gcm.AesGcm's contract: AES-128-GCM, 12-byte nonces, 16-byte tags."""

    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("AES-128-GCM key must be 16 bytes")
        self._c = _AESGCM(bytes(key))


class ChaCha20Poly1305(_Aead):
    """microticket.aead.chacha20_poly1305.ChaCha20Poly1305's contract (RFC 8439), 12-byte nonces."""

    def __init__(self, key):
        if len(key) != 32:
            raise ValueError("ChaCha20-Poly1305 key must be 32 bytes")
        self._c = _ChaCha(bytes(key))

    def seal(self, iv, a, buf, off, n):
        if len(iv) != 12:
            raise ValueError("ChaCha20-Poly1305: nonce or buffer bounds")
        _Aead.seal(self, iv, a, buf, off, n)

    def open(self, iv, a, buf, off, n):
        if len(iv) != 12:
            raise ValueError("ChaCha20-Poly1305: nonce or buffer bounds")
        return _Aead.open(self, iv, a, buf, off, n)


class AesCcm(_Aead):
    """microticket.aead.ccm.AesCcm's contract: AES-CCM with 12-byte nonces, ``tag`` 16 or 8 (CCM_8)."""

    def __init__(self, key, tag=16):
        if len(key) not in (16, 32):
            raise ValueError("AES-CCM key must be 16 or 32 bytes")
        if tag != 16 and tag != 8:
            raise ValueError("AES-CCM tag must be 16 or 8 bytes")
        self.TAG = tag
        self._c = _AESCCM(bytes(key), tag)
