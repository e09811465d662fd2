"""ports/cpython/cryptolib behaves like MicroPython's cryptolib, byte for byte and error for error."""

import pytest

import cryptolib
import mpharness


def test_cryptolib_differential(mp):
    cpy, upy = mpharness.both("aes_shim_diff.py")
    assert cpy.splitlines() == upy.splitlines()
    # and the script really exercised errors and chaining, not only happy paths
    assert "cbc-dir ValueError can't encrypt & decrypt" in upy
    assert "blk ValueError blksize % 16" in upy
    assert upy.count(" True") >= 6


def test_shim_direction_binding():
    a = cryptolib.aes(bytes(16), 2, bytes(16))
    a.decrypt(bytes(16))
    with pytest.raises(ValueError):
        a.encrypt(bytes(16))


def test_shim_refuses_readonly_output():
    a = cryptolib.aes(bytes(16), 1)
    with pytest.raises(TypeError):
        a.encrypt(bytes(16), bytes(16))


def test_shim_matches_cryptography_cbc():
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    key, iv, data = bytes(range(16)), bytes(range(16, 32)), bytes(range(80))
    ref = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor().update(data)
    a = cryptolib.aes(key, 2, iv)
    assert a.encrypt(data[:32]) + a.encrypt(data[32:]) == ref


def test_viper_word_casts():
    """ptr32/ptr16 called in a viper body index the buffer in native words on CPython too (ptr8 and uint
    leave values as they are), and a store that does not fit the word raises instead of truncating."""
    import micropython  # noqa: F401  (the shim defines the casts as builtins)
    b = bytearray(8)
    w = ptr32(b)  # noqa: F821
    w[1] = 0x01020304
    assert len(w) == 2 and bytes(b) == bytes(4) + (0x01020304).to_bytes(4, "little")
    assert ptr16(b)[2] == 0x0304 and ptr8(b) is b and uint(5) == 5  # noqa: F821
    with pytest.raises((ValueError, TypeError)):
        w[0] = 1 << 32
