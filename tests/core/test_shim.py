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
