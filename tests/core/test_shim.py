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


def test_viper_equivalents_match_their_bodies():
    """The shim's CPython equivalents of viper functions (ports/cpython/micropython.py) give what the Python
    bodies give, on the same inputs, results and in-place effects alike; and they are in use."""
    import os
    import random
    from microticket import crypto, ticket
    rnd = random.Random(15)
    for f in (crypto._flip, crypto._xor_diff, ticket._pad_diff):
        assert f.__wrapped__ is not f  # the equivalent, not the body
    for _ in range(300):
        p = bytearray(os.urandom(64))
        q = bytearray(p)
        n = rnd.choice((0x36, 0x6A, 0, 0xFF, rnd.randrange(256)))
        crypto._flip(p, n)
        crypto._flip.__wrapped__(q, n)
        assert p == q
        n = rnd.choice((0, 1, 16, 20, 32, rnd.randrange(70)))
        a = os.urandom(n)
        off = rnd.randrange(8)
        b = bytearray(os.urandom(off + n))
        if rnd.random() < 0.5:
            b[off:off + n] = a
            if n and rnd.random() < 0.5:
                b[off + rnd.randrange(n)] ^= 1 << rnd.randrange(8)
        for x, y in ((a, b), (memoryview(a), memoryview(b))):
            assert crypto._xor_diff(x, y, off, n) == crypto._xor_diff.__wrapped__(x, y, off, n)
        pad = rnd.randrange(0, 18)
        end = 20 + rnd.randrange(40)
        buf = bytearray(os.urandom(64))
        if rnd.random() < 0.6:
            buf[end - pad:end] = bytes((pad,)) * pad
            if pad and rnd.random() < 0.4:
                buf[end - 1 - rnd.randrange(pad)] ^= 1 << rnd.randrange(8)
        assert ticket._pad_diff(buf, end, pad) == ticket._pad_diff.__wrapped__(buf, end, pad)
    assert ticket._pad_diff(bytearray(600), 600, 300) == ticket._pad_diff.__wrapped__(bytearray(600), 600, 300)
    # and the HMAC built on _flip is still RFC 2104's, for keys shorter than, as long as and longer than a block
    import hashlib
    import hmac
    for n in (0, 16, 32, 64, 65, 100):
        key = os.urandom(n)
        assert crypto.Hmac(key).mac(b"abc", b"def") == hmac.new(key, b"abcdef", hashlib.sha256).digest()
        assert crypto.Hmac(key, "sha1").mac(b"x") == hmac.new(key, b"x", hashlib.sha1).digest()


# --- the port's own AEADs (cryptolib.AesGcm, AesCcm, ChaCha20Poly1305): microticket.aead's contract ---------

def _aeads():
    from microticket.aead.ccm import AesCcm
    from microticket.aead.chacha20_poly1305 import ChaCha20Poly1305
    from microticket.aead.gcm import AesGcm
    return [("gcm", cryptolib.AesGcm, AesGcm, 16, ()), ("chacha", cryptolib.ChaCha20Poly1305, ChaCha20Poly1305, 32, ()),
            ("ccm", cryptolib.AesCcm, AesCcm, 16, (16,)), ("ccm8", cryptolib.AesCcm, AesCcm, 16, (8,)),
            ("ccm256", cryptolib.AesCcm, AesCcm, 32, (16,))]


@pytest.mark.parametrize("name", ["gcm", "chacha", "ccm", "ccm8", "ccm256"])
def test_port_aead_matches_microticket_aead(name):
    """On random keys, nonces, additional data, lengths and offsets, the port's AEAD writes the same bytes
    as microticket.aead's (viper code run as Python) into the same buffer, opens what either sealed, and on
    a flipped bit anywhere (data, tag, nonce, additional data) returns False and leaves the buffer as
    microticket.aead's does: untouched."""
    import random
    rnd = random.Random(name)
    _, port, ours, klen, extra = [x for x in _aeads() if x[0] == name][0]
    for n in [0, 1, 15, 16, 17, 255, 256, 257, 600] + [rnd.randrange(1200) for _ in range(6)]:
        key = rnd.randbytes(klen)
        a, b = port(key, *extra), ours(key, *extra)
        tag = getattr(b, "TAG", 16)
        assert getattr(a, "TAG", 16) == tag
        iv, aad = rnd.randbytes(12), rnd.randbytes(rnd.choice([0, 5, 13, 40]))
        off = rnd.randrange(8)
        data = rnd.randbytes(n)
        head = rnd.randbytes(off)
        bufs = []
        for c in (a, b):
            buf = bytearray(head) + bytearray(data) + bytearray(tag + 3)
            c.seal(iv, aad, buf, off, n)
            bufs.append(buf)
        assert bufs[0] == bufs[1], (name, n)
        sealed = bytes(bufs[0])
        for c in (a, b):  # each opens what was sealed
            buf = bytearray(sealed)
            assert c.open(iv, aad, buf, off, n) is True
            assert buf[off:off + n] == data
        # a flipped bit: the same verdict, the same buffer afterwards
        where = rnd.choice(["data", "tag", "iv", "aad"] if n else ["tag", "iv"])
        bad_iv, bad_aad = bytearray(iv), bytearray(aad)
        bad = bytearray(sealed)
        if where == "data":
            bad[off + rnd.randrange(n)] ^= 1 << rnd.randrange(8)
        elif where == "tag":
            bad[off + n + rnd.randrange(tag)] ^= 0x80
        elif where == "iv":
            bad_iv[rnd.randrange(12)] ^= 1
        elif aad:
            bad_aad[rnd.randrange(len(aad))] ^= 1
        else:
            bad[off + n] ^= 1
        after = []
        for c in (a, b):
            buf = bytearray(bad)
            assert c.open(bytes(bad_iv), bytes(bad_aad), buf, off, n) is False, (name, where)
            after.append(buf)
        assert after[0] == after[1] == bad


def test_port_aead_refuses_what_microticket_aead_refuses():
    for _, port, ours, klen, extra in _aeads():
        for k in (bytes(klen - 1), bytes(24)):
            with pytest.raises(ValueError) as e1:
                port(k, *extra)
            with pytest.raises(ValueError) as e2:
                ours(k, *extra)
            assert str(e1.value) == str(e2.value)
    with pytest.raises(ValueError):
        cryptolib.AesCcm(bytes(16), 12)


def test_tls_record_layer_takes_the_port_aead_on_cpython():
    """microticket.tls.record_aead (the one place mapping cipher numbers to algorithms, TLS 1.2 and 1.3)
    takes cryptolib's AEAD when the port has one: on CPython, OpenSSL's."""
    from microticket.tls import record_aead
    for w, cls in ((3, cryptolib.AesGcm), (4, cryptolib.ChaCha20Poly1305), (5, cryptolib.AesCcm),
                   (6, cryptolib.AesCcm)):
        a, tag = record_aead.aead(w, bytes(32 if w == 4 else 16))
        assert type(a) is cls and tag == (8 if w == 5 else 16) and getattr(a, "TAG", 16) == tag


def test_shim_fast_paths_match_cryptography():
    """cryptolib.aes's inline encrypt/decrypt (an object bound to its direction, a byte buffer of whole
    blocks) and its contexts made without Cipher's checks give cryptography's Cipher bytes: random keys of
    both sizes, IVs, both modes and directions, chunkings, input types and output buffers (none, a
    bytearray, a memoryview, in place); and the errors stay MicroPython's, in its order."""
    import random
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    rnd = random.Random(1515)
    for _ in range(400):
        key = rnd.randbytes(rnd.choice((16, 32)))
        mode = rnd.choice((1, 2))
        iv = rnd.randbytes(16)
        data = rnd.randbytes(16 * rnd.randint(1, 24))
        enc = rnd.random() < 0.5
        c = Cipher(algorithms.AES(key), modes.ECB() if mode == 1 else modes.CBC(iv))
        ref = (c.encryptor() if enc else c.decryptor()).update(data)
        a = cryptolib.aes(key, mode, iv if mode == 2 or rnd.random() < 0.5 else None)
        f = a.encrypt if enc else a.decrypt
        got = bytearray()
        pos = 0
        while pos < len(data):
            chunk = data[pos:pos + 16 * rnd.randint(1, 5)]
            pos += len(chunk)
            form = rnd.randrange(5)
            if form == 0:
                got += f(chunk)
            elif form == 1:
                got += f(bytearray(chunk))
            elif form == 2:  # into a larger bytearray: the input's length written, the rest left
                out = bytearray(b"\xee" * (len(chunk) + 7))
                assert f(memoryview(chunk), out) is out and out[len(chunk):] == b"\xee" * 7
                got += out[:len(chunk)]
            elif form == 3:  # in place through a memoryview of a bigger buffer
                buf = bytearray(b"\x11" * 3 + chunk + b"\x22" * 5)
                v = memoryview(buf)[3:3 + len(chunk)]
                assert f(v, v) is v and buf[:3] == b"\x11" * 3 and buf[-5:] == b"\x22" * 5
                got += v
            else:  # a memoryview of 4-byte items: taken as its bytes
                got += f(memoryview(bytearray(chunk)).cast("I"))
        assert bytes(got) == ref
        # errors on a bound object: MicroPython's, in its order (length, output size, then direction)
        with pytest.raises(ValueError, match="blksize"):
            f(bytes(15))
        with pytest.raises(ValueError, match="output too small"):
            f(bytes(32), bytearray(16))
        with pytest.raises(TypeError):
            f(bytes(16), bytes(16))
        with pytest.raises(ValueError, match="encrypt & decrypt"):
            (a.decrypt if enc else a.encrypt)(bytes(16))
