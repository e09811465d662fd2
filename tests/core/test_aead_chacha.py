"""microticket.aead.chacha20_poly1305: RFC 8439 vectors, differential against `cryptography` on CPython and on
the real MicroPython interpreter, tampering, 32-bit bounds of the viper arithmetic, allocation-freedom."""

import builtins
import random

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305 as Ref

import mpharness
from microticket.aead import chacha20_poly1305 as cc
from microticket.aead.chacha20_poly1305 import ChaCha20Poly1305

H = bytes.fromhex
KEY_00_1F = bytes(range(32))
SUNSCREEN = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, "
             b"sunscreen would be it.")

# RFC 8439 section 2.3.2: the serialized block, key 00..1f, nonce 000000090000004a00000000, counter 1
BLOCK_232 = H("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
              "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e")
# 2.4.2: nonce 000000000000004a00000000, counter 1
CT_242 = H("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
           "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
           "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
           "5af90bbf74a35be6b40b8eedf2785e42874d")
# 2.5.2
POLY_KEY_252 = H("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
POLY_TAG_252 = H("a8061dc1305136c6c22b8baf0c0127a9")
# 2.8.2
AEAD_KEY_282 = bytes(range(0x80, 0xA0))
AEAD_NONCE_282 = H("070000004041424344454647")
AEAD_AAD_282 = H("50515253c0c1c2c3c4c5c6c7")
AEAD_CT_282 = H("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                "3ff4def08e4b7a9de576d26586cec64b6116")
AEAD_TAG_282 = H("1ae10b594f09e26a7e902ecbd0600691")
# Appendix A.5 (decryption)
A5_KEY = H("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0")
A5_NONCE = H("000000000102030405060708")
A5_AAD = H("f33388860000000000004e91")
A5_CT = H("64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
          "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
          "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
          "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
          "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
          "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
          "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
          "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
          "a6ad5cb4022b02709b")
A5_TAG = H("eead9d67890cbb22392336fea1851f38")
A5_PT = ("Internet-Drafts are draft documents valid for a maximum of six months and may be updated, replaced, "
         "or obsoleted by other documents at any time. It is inappropriate to use Internet-Drafts as reference "
         "material or to cite them other than as /\u201cwork in progress./\u201d").encode()

LENGTHS = [0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 257, 1024, 2100]


def keystream_xor(key, nonce, counter, data):
    w = ChaCha20Poly1305(key)._w
    cc._start(w, nonce, 1)
    w[48:52] = counter.to_bytes(4, "little")
    buf = bytearray(data)
    cc._chacha(w, buf, 0, len(buf))
    return bytes(buf)


def poly1305(key32, msg):
    w = ChaCha20Poly1305(bytes(32))._w
    w[64:96] = key32
    cc._start(w, b"", 0)
    cc._poly(w, msg, 0, len(msg), 1)
    out = bytearray(16)
    cc._tag(w, -1, 0, out, 0, 0)
    return bytes(out)


def test_rfc8439_block_232():
    assert keystream_xor(KEY_00_1F, H("000000090000004a00000000"), 1, bytes(64)) == BLOCK_232


def test_rfc8439_encryption_242():
    assert keystream_xor(KEY_00_1F, H("000000000000004a00000000"), 1, SUNSCREEN) == CT_242


def test_rfc8439_poly1305_252():
    assert poly1305(POLY_KEY_252, b"Cryptographic Forum Research Group") == POLY_TAG_252


def test_poly1305_worst_case_limbs_against_bigint():
    # all-ones r (as far as clamping allows) and all-ones blocks: the largest limb products; any tail length
    def ref(key, msg):
        r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
        acc, p = 0, (1 << 130) - 5
        for i in range(0, len(msg), 16):
            blk = msg[i:i + 16]
            acc = (acc + int.from_bytes(blk + b"\x01", "little")) * r % p
        return ((acc + int.from_bytes(key[16:], "little")) % (1 << 128)).to_bytes(16, "little")
    for key in (b"\xff" * 32, bytes(16) + b"\xff" * 16, b"\xff" * 16 + bytes(16)):
        for n in (0, 1, 15, 16, 17, 160, 161):
            msg = b"\xff" * n
            assert poly1305(key, msg) == ref(key, msg), (key.hex(), n)


def test_rfc8439_aead_282():
    a = ChaCha20Poly1305(AEAD_KEY_282)
    buf = bytearray(SUNSCREEN) + bytearray(16)
    a.seal(AEAD_NONCE_282, AEAD_AAD_282, buf, 0, len(SUNSCREEN))
    assert bytes(buf) == AEAD_CT_282 + AEAD_TAG_282
    assert a.open(AEAD_NONCE_282, AEAD_AAD_282, buf, 0, len(SUNSCREEN))
    assert bytes(buf[:len(SUNSCREEN)]) == SUNSCREEN


def test_rfc8439_a5_decryption():
    assert len(A5_PT) == len(A5_CT) == 265
    buf = bytearray(A5_CT + A5_TAG)
    assert ChaCha20Poly1305(A5_KEY).open(A5_NONCE, A5_AAD, buf, 0, 265)
    assert bytes(buf[:265]) == A5_PT


def test_contract():
    for bad in (b"", bytes(16), bytes(31), bytes(33)):
        with pytest.raises(ValueError):
            ChaCha20Poly1305(bad)
    a = ChaCha20Poly1305(bytes(32))
    with pytest.raises(ValueError):
        a.seal(bytes(11), b"", bytearray(32), 0, 16)   # nonce
    with pytest.raises(ValueError):
        a.seal(bytes(12), b"", bytearray(32), 1, 16)   # no room for the tag
    with pytest.raises(ValueError):
        a.open(bytes(12), b"", bytearray(32), -1, 16)


def cases(seed, count):
    """(key, nonce, aad, plaintext, off, tail) with every length of LENGTHS and random ones up to 2100."""
    rnd = random.Random(seed)
    lengths = LENGTHS + [rnd.randrange(0, 2101) for _ in range(count - len(LENGTHS))]
    out = []
    for i, n in enumerate(lengths):
        out.append((rnd.randbytes(32), rnd.randbytes(12), rnd.randbytes(i % 41 if i % 3 else rnd.choice((5, 13))),
                    rnd.randbytes(n), rnd.randrange(0, 40), rnd.randrange(0, 20)))
    return out


def framed(off, pt, tail):
    """A larger buffer: guard bytes, the plaintext at off, room for the tag, more guard bytes."""
    return bytearray(b"\xa5" * off) + bytearray(pt) + bytearray(b"\x5a" * (16 + tail))


def test_differential_against_cryptography():
    for key, nonce, aad, pt, off, tail in cases(1, 40):
        n = len(pt)
        want = Ref(key).encrypt(nonce, pt, aad)
        a = ChaCha20Poly1305(key)
        buf = framed(off, pt, tail)
        nb = bytearray(nonce)   # the record layer reuses one nonce buffer
        a.seal(nb, aad, buf, off, n)
        assert bytes(buf[off:off + n + 16]) == want, (n, len(aad))
        assert buf[:off] == b"\xa5" * off and buf[off + n + 16:] == b"\x5a" * tail
        assert a.open(nb, aad, buf, off, n)
        assert bytes(buf[off:off + n]) == pt
        assert buf[:off] == b"\xa5" * off and bytes(buf[off + n:off + n + 16]) == want[n:]
        assert buf[off + n + 16:] == b"\x5a" * tail


def flips(nonce, aad, ct_tag):
    """Each a (nonce, aad, ciphertext|tag) with one bit flipped in one of them."""
    out = []
    for pos in sorted(set([0, len(ct_tag) // 2, len(ct_tag) - 17, len(ct_tag) - 16, len(ct_tag) - 1])):
        if pos >= 0:
            b = bytearray(ct_tag)
            b[pos] ^= 1 << (pos % 8)
            out.append((nonce, aad, bytes(b)))
    for i in (0, 11):
        b = bytearray(nonce)
        b[i] ^= 0x80
        out.append((bytes(b), aad, ct_tag))
    if aad:
        b = bytearray(aad)
        b[-1] ^= 1
        out.append((nonce, bytes(b), ct_tag))
    out.append((nonce, aad + b"\x00", ct_tag))  # a longer aad with the same bytes
    return out


def test_tampering_refused_and_nothing_decrypted():
    for key, nonce, aad, pt, off, tail in cases(2, 16):
        n = len(pt)
        ct_tag = Ref(key).encrypt(nonce, pt, aad)
        a = ChaCha20Poly1305(key)
        for tn, ta, tct in flips(nonce, aad, ct_tag):
            buf = framed(off, tct[:n], tail)
            buf[off + n:off + n + 16] = tct[n:]
            before = bytes(buf)
            assert a.open(tn, ta, buf, off, n) is False
            assert bytes(buf) == before  # the tag is checked before anything is decrypted


def test_viper_arithmetic_fits_32_bits(monkeypatch):
    """Every value the viper code casts with uint() (limb sums and products included) stays below 2^32, so a
    board's 32-bit viper ints compute the same as CPython's: checked by making uint() refuse larger values."""
    def uint32(x):
        if not 0 <= x < 1 << 32:
            raise OverflowError(hex(x))
        return x
    monkeypatch.setattr(builtins, "uint", uint32)
    for key, nonce, aad, pt, off, tail in cases(3, 14)[:14] + [(b"\xff" * 32, b"\xff" * 12, b"\xff" * 40,
                                                                   b"\xff" * 300, 0, 0)]:
        a = ChaCha20Poly1305(key)
        buf = framed(off, pt, tail)
        a.seal(nonce, aad, buf, off, len(pt))
        assert bytes(buf[off:off + len(pt) + 16]) == Ref(key).encrypt(nonce, pt, aad)
        assert a.open(nonce, aad, buf, off, len(pt))
    for key in (b"\xff" * 32, bytes(16) + b"\xff" * 16):
        poly1305(key, b"\xff" * 161)


# --- the same on the real MicroPython interpreter ---------------------------------------------------------

MP_DIFF = r"""
import binascii
from microticket.aead.chacha20_poly1305 import ChaCha20Poly1305
U = binascii.unhexlify
X = lambda b: binascii.hexlify(b).decode()
for line in CASES.split():
    key, nonce, aad, pt, off, tail = line.split(",")
    key, nonce, aad, pt, off, tail = U(key), bytearray(U(nonce)), U(aad), U(pt), int(off), int(tail)
    n = len(pt)
    buf = bytearray(b"\xa5" * off) + bytearray(pt) + bytearray(b"\x5a" * (16 + tail))
    a = ChaCha20Poly1305(key)
    a.seal(nonce, aad, buf, off, n)
    sealed = bytes(buf)
    ok = a.open(nonce, aad, buf, off, n)
    restored = buf[off:off + n] == pt and buf[:off] == sealed[:off] and buf[off + n:] == sealed[off + n:]
    bad = 0
    for pos in (0, n + 15):
        b = bytearray(sealed)
        b[off + pos] ^= 4
        t = bytes(b)
        bad += a.open(nonce, aad, b, off, n) is False and b == t
    nonce[0] ^= 1
    bad += a.open(nonce, aad, bytearray(sealed), off, n) is False
    print(X(sealed), ok, restored, bad)
"""


def test_differential_on_micropython(mp):
    cs = cases(4, 30)
    lines = [",".join((k.hex(), nn.hex(), ad.hex(), pt.hex(), str(off), str(tail)))
             for k, nn, ad, pt, off, tail in cs]
    script = "CASES = %r\n" % " ".join(lines) + MP_DIFF
    proc = mp.run_mp(script, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.split("\n")
    assert len([x for x in out if x]) == len(cs)
    for (key, nonce, aad, pt, off, tail), line in zip(cs, out):
        sealed, ok, restored, bad = line.split()
        want = b"\xa5" * off + Ref(key).encrypt(nonce, pt, aad) + b"\x5a" * tail
        assert bytes.fromhex(sealed) == want, (len(pt), len(aad), off)
        assert (ok, restored, bad) == ("True", "True", "3")


def test_rfc_vectors_on_micropython(mp):
    script = r"""
import binascii
from microticket.aead import chacha20_poly1305 as cc
U = binascii.unhexlify
a = cc.ChaCha20Poly1305(U(%r))
buf = bytearray(%r) + bytearray(16)
a.seal(U(%r), U(%r), buf, 0, len(buf) - 16)
print(binascii.hexlify(buf).decode())
b = bytearray(U(%r))
print(cc.ChaCha20Poly1305(U(%r)).open(U(%r), U(%r), b, 0, len(b) - 16), binascii.hexlify(b[:-16]).decode())
w = bytearray(280)
w[64:96] = U(%r)
cc._start(w, b"", 0)
m = b"Cryptographic Forum Research Group"
cc._poly(w, m, 0, len(m), 1)
t = bytearray(16)
cc._tag(w, -1, 0, t, 0, 0)
print(binascii.hexlify(t).decode())
""" % (AEAD_KEY_282.hex(), SUNSCREEN, AEAD_NONCE_282.hex(), AEAD_AAD_282.hex(), (A5_CT + A5_TAG).hex(),
       A5_KEY.hex(), A5_NONCE.hex(), A5_AAD.hex(), POLY_KEY_252.hex())
    proc = mp.run_mp(script)
    assert proc.returncode == 0, proc.stderr
    l1, l2, l3 = proc.stdout.split("\n")[:3]
    assert l1 == (AEAD_CT_282 + AEAD_TAG_282).hex()
    assert l2 == "True " + A5_PT.hex()
    assert l3 == POLY_TAG_252.hex()


MP_LOCK = r"""
import gc, micropython
from microticket.aead.chacha20_poly1305 import ChaCha20Poly1305
a = ChaCha20Poly1305(bytes(range(32)))
nonce = bytearray(12)
aad = bytes(13)
buf = bytearray(16384 + 16)
a.seal(nonce, aad, buf, 0, 1024)
a.open(nonce, aad, buf, 0, 1024)
res = []
micropython.heap_lock()
try:
    a.seal(nonce, aad, buf, 0, 1024)
    res.append(a.open(nonce, aad, buf, 0, 1024))
    buf[3] ^= 1
    res.append(a.open(nonce, aad, buf, 0, 1024))
    buf[3] ^= 1
    a.seal(nonce, aad, buf, 0, 16384)
    res.append(a.open(nonce, aad, buf, 0, 16384))
    nonce[11] = 1
    a.seal(nonce, b"", buf, 7, 0)
    res.append(a.open(nonce, b"", buf, 7, 0))
finally:
    micropython.heap_unlock()
print("locked", res)
gc.collect()
gc.disable()
i = 0
m0 = gc.mem_alloc()
while i < 200:   # (a for loop's range iterator would be the one allocation)
    nonce[4] = i
    a.seal(nonce, aad, buf, 0, 1024)
    a.open(nonce, aad, buf, 0, 1024)
    i += 1
print("growth", gc.mem_alloc() - m0)
"""


def test_seal_and_open_allocate_nothing(mp):
    proc = mp.run_mp(MP_LOCK)
    assert proc.returncode == 0, proc.stderr
    out = mpharness_kv(proc.stdout)
    assert out["locked"] == "[True, False, True, True]"
    assert out["growth"] == "0"


MP_HEAP = r"""
import gc
import microticket.aead
gc.collect()
m0 = gc.mem_alloc()
from microticket.aead import chacha20_poly1305
gc.collect()
m1 = gc.mem_alloc()
a = chacha20_poly1305.ChaCha20Poly1305(bytes(32))
gc.collect()
m2 = gc.mem_alloc()
print("import", m1 - m0)
print("instance", m2 - m1)
"""

# measured (x86_64 unix port, .mpy, the packages already imported): module 2048 B, instance 512 B (the 280-byte
# scratch buffer, its bytearray and the object). The unix port keeps native code outside the heap; a board
# without executable-memory allocation also holds the viper code (about 4.5 KB for armv6m) unless frozen.
IMPORT_HEAP = 2304
INSTANCE_HEAP = 560


def test_heap_of_import_and_instance(mp):
    proc = mp.run_mp(MP_HEAP, mpy=True)
    assert proc.returncode == 0, proc.stderr
    out = mpharness_kv(proc.stdout)
    assert 0 < int(out["import"]) <= IMPORT_HEAP
    assert 280 < int(out["instance"]) <= INSTANCE_HEAP


def mpharness_kv(text):
    return dict(line.split(None, 1) for line in text.strip().split("\n"))
