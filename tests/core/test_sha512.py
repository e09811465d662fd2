"""microticket.sha512: FIPS 180-4 known answers, differential against CPython's hashlib around the block
boundaries (the pure path forced on CPython, and on the real MicroPython interpreter from source and .mpy),
incremental and memoryview input, 32-bit bounds of the viper arithmetic, allocation-freedom of update(), the
heap of an import and an object, and that nothing imports the module at module level."""

import builtins
import hashlib
import os
import random
import subprocess
import sys

import pytest

import mpharness
from microticket import crypto
from microticket import sha512 as S

sys.path.insert(0, os.path.join(mpharness.ROOT, "tools"))
import build  # noqa: E402
import memprof  # noqa: E402

# FIPS 180-4 examples (NIST CSRC "Examples with intermediate values", SHA-384 and SHA-512)
ABC = b"abc"
MSG896 = (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
          b"mnopqrstnopqrstu")
KAT = [
    (48, ABC, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
    (64, ABC, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
              "454d4423643ce80e2a9ac94fa54ca49f"),
    (48, MSG896, "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039"),
    (64, MSG896, "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433a"
                 "c7d329eeb6dd26545e96e55b874be909"),
    (48, b"", "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"),
    (64, b"", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f"
              "63b931bd47417a81a538327af927da3e"),
]
MILLION_A_512 = ("e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31b"
                 "eb009c5c2c49aa2e4eadb217ad8cc09b")
MILLION_A_384 = ("9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985")

# lengths at and around the block (128) and padding (112: no room for the length) boundaries
EDGES = [0, 1, 55, 56, 63, 64, 65, 110, 111, 112, 113, 119, 120, 126, 127, 128, 129, 200, 239, 240, 241, 255,
         256, 257, 367, 368, 383, 384, 385, 1000, 1024, 2049]


def ref(out, data):
    return (hashlib.sha384 if out == 48 else hashlib.sha512)(data).digest()


def lengths(seed, count):
    rnd = random.Random(seed)
    return EDGES + [rnd.randrange(0, 3000) for _ in range(count)]


@pytest.fixture
def pure(monkeypatch):
    """The fallback forced on CPython: crypto.hash_new answers as MicroPython's hashlib does for SHA-384/512."""
    monkeypatch.setattr(crypto, "hash_new", lambda name, data=None: None)


# --- CPython ---------------------------------------------------------------------------------------------

def test_known_answers_pure(pure):
    for out, msg, want in KAT:
        assert S.new(msg, out).digest().hex() == want
        assert Sha(out, msg).hex() == want
    assert S.sha384(ABC).hex() == KAT[0][2]
    assert S.sha512(MSG896).hex() == KAT[3][2]
    assert isinstance(S.new(out=48), S.Sha512)


def Sha(out, data):
    return S.Sha512(data, out).digest()


def test_hashlib_is_used_where_it_has_the_hash():
    # CPython's hashlib has sha384/sha512: new() hands out its objects, not ours; crypto's other hashes unchanged
    assert not isinstance(S.new(out=48), S.Sha512) and not isinstance(S.new(), S.Sha512)
    assert S.new(ABC, 48).digest().hex() == KAT[0][2]
    assert S.sha512(MSG896).hex() == KAT[3][2]
    assert crypto.hash_new("sha256", b"abc").digest() == hashlib.sha256(b"abc").digest()
    assert crypto.hash_new("sha384") is not None and crypto.hash_new("sha3_999") is None
    assert crypto.hash_new("no-such-hash") is None


def test_million_a_sha512_pure(pure):
    h = S.new()
    block = memoryview(b"a" * 10000)
    for _ in range(100):
        h.update(block)
    assert h.digest().hex() == MILLION_A_512


def test_differential_one_shot_pure(pure):
    rnd = random.Random(1)
    for n in lengths(2, 25):
        data = rnd.randbytes(n)
        assert S.sha384(data) == ref(48, data), n
        assert S.sha512(data) == ref(64, data), n


def test_incremental_odd_sizes_and_buffer_types():
    rnd = random.Random(3)
    for n in EDGES + [rnd.randrange(0, 1500) for _ in range(10)]:
        data = rnd.randbytes(n)
        for out in (48, 64):
            h = S.Sha512(None, out)
            i = 0
            k = 0
            while i < n:
                step = (1, 3, 7, 111, 112, 127, 128, 129, 255, 17)[k % 10]
                chunk = data[i:i + step]
                # bytes, bytearray, a memoryview, a memoryview slice (its own offset into a larger buffer)
                kind = k % 4
                if kind == 1:
                    chunk = bytearray(chunk)
                elif kind == 2:
                    chunk = memoryview(chunk)
                elif kind == 3:
                    chunk = memoryview(b"xx" + chunk + b"yy")[2:2 + len(chunk)]
                h.update(chunk)
                i += step
                k += 1
            assert h.digest() == ref(out, data), (n, out)


def test_finalised_and_bad_lengths():
    h = S.Sha512(b"x", 48)
    h.digest()
    with pytest.raises(ValueError):
        h.update(b"y")
    with pytest.raises(ValueError):
        h.digest()
    for bad in (0, 32, 63, 65):
        with pytest.raises(ValueError):
            S.Sha512(None, bad)
        with pytest.raises(ValueError):
            S.new(out=bad)


def test_viper_arithmetic_fits_32_bits(monkeypatch):
    """All-ones input (every carry taken): every ptr32 store fits 32 bits (the shim's word view refuses more:
    that holds in every CPython test) and so does every value cast with uint(). With all locals kept below
    2^32 by the masks, the 64-bit unix port and CPython compute what a board's wrapping 32-bit uint does (the
    masks are no-ops there); the one thing neither can show is a signed shift on a board, hence uint
    locals only and a carry taken from bit 31 with no comparison."""
    def uint32(x):
        if not 0 <= x < 1 << 32:
            raise OverflowError(hex(x))
        return x
    monkeypatch.setattr(builtins, "uint", uint32)
    for n in (0, 111, 112, 128, 129, 300):
        data = b"\xff" * n
        assert Sha(48, data) == ref(48, data) and Sha(64, data) == ref(64, data)


def test_no_module_imports_it_at_module_level():
    """X.509 imports it when a certificate asks for SHA-384/512; no path pays for it otherwise."""
    import test_layers as L
    found = []
    for m, path in L.module_files().items():
        with open(path) as f:
            src = f.read()
        for cands, line, top in L.imports(m, src, path.endswith("__init__.py")):
            if top and "microticket.sha512" in cands:
                found.append("%s:%d" % (m, line))
    assert not found
    # the check sees a module-level import when there is one
    assert L.imports("microticket.x", "from microticket import sha512\n")[0][2] is True


# --- the real MicroPython interpreter --------------------------------------------------------------------

MP_DIFF = r"""
import binascii
from microticket import sha512 as S
X = lambda b: binascii.hexlify(b).decode()
print(type(S.new()) is S.Sha512, type(S.new(out=48)) is S.Sha512)
for n in LENGTHS:
    data = bytes((i * 7 + n) & 255 for i in range(n))
    h = S.new(None, 48)
    i = 0
    k = 0
    mv = memoryview(data)
    while i < n:
        step = STEPS[k % len(STEPS)]
        h.update(mv[i:i + step] if k & 1 else data[i:i + step])
        i += step
        k += 1
    print(n, X(S.sha384(data)), X(S.sha512(bytearray(data))), X(h.digest()))
h = S.new()
a = b"a" * 1000
for i in range(1000):
    h.update(a)
print("million", X(h.digest()))
try:
    h.update(b"")
    print("final", "no")
except ValueError:
    print("final", "yes")
"""
STEPS = [1, 3, 7, 111, 112, 127, 128, 129, 255, 17]


@pytest.mark.parametrize("mpy", [False, True], ids=["py", "mpy"])
def test_differential_on_micropython(mp, mpy):
    ns = lengths(4, 20)
    proc = mp.run_mp("LENGTHS = %r\nSTEPS = %r\n" % (ns, STEPS) + MP_DIFF, mpy=mpy, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip().split("\n")
    assert out[0] == "True True"  # MicroPython's hashlib has neither: ours is used
    assert len(out) == len(ns) + 3
    for n, line in zip(ns, out[1:]):
        data = bytes((i * 7 + n) & 255 for i in range(n))
        got = line.split()
        assert got[0] == str(n)
        assert got[1] == ref(48, data).hex() and got[3] == got[1], n
        assert got[2] == ref(64, data).hex(), n
    assert out[-2] == "million " + MILLION_A_512
    assert out[-1] == "final yes"


def test_known_answers_on_micropython(mp):
    script = "import binascii\nfrom microticket import sha512 as S\n" + "".join(
        "print(binascii.hexlify(S.Sha512(%r, %d).digest()).decode())\n" % (msg, out) for out, msg, _ in KAT)
    proc = mp.run_mp(script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [want for _, _, want in KAT]


MP_LOCK = r"""
import gc, micropython
from microticket import sha512 as S
h = S.Sha512(None, 48)
big = bytearray(4096)
mv = memoryview(big)
small = b"abcdefg"
h.update(small)
res = []
micropython.heap_lock()
try:
    h.update(small)          # into the partial block
    h.update(big)            # whole blocks straight from the buffer
    h.update(mv)
    h.update(b"x" * 0)
    h.update(small)
finally:
    micropython.heap_unlock()
print("locked", "ok")
gc.collect()
gc.disable()
i = 0
m0 = gc.mem_alloc()
while i < 200:   # (a for loop's range iterator would be the one allocation)
    h.update(mv)
    h.update(small)
    i += 1
print("growth", gc.mem_alloc() - m0)
gc.enable()
print("digest", h.digest() == S.sha384(b"abcdefg" * 2 + bytes(8192) + b"abcdefg" + (bytes(4096) + b"abcdefg") * 200))
"""


def test_update_allocates_nothing(mp):
    proc = mp.run_mp(MP_LOCK)
    assert proc.returncode == 0, proc.stderr
    out = dict(line.split(None, 1) for line in proc.stdout.strip().split("\n"))
    assert out == {"locked": "ok", "growth": "0", "digest": "True"}


MP_HEAP = r"""
import gc
import microticket.crypto
gc.collect()
m0 = gc.mem_alloc()
from microticket import sha512
gc.collect()
m1 = gc.mem_alloc()
h = sha512.new(None, 48)
gc.collect()
m2 = gc.mem_alloc()
print("import", m1 - m0)
print("object", m2 - m1)
"""

# measured (x86_64 unix port, microticket.crypto already imported, 3 of 3 runs): import 2432 B from .mpy (the
# 640-byte round constants and the IVs are copied into the heap), 1088 B from ROMFS (function objects, the
# class, qstrs), 3552 B from source; an object 480 B (the 328-byte state in its bytearray, the instance). The
# unix port keeps viper code outside the heap; a board without executable-memory allocation holds it too
# (~5.3 KB for armv6m) unless frozen or in ROMFS.
IMPORT_HEAP_MPY = 2688
IMPORT_HEAP_ROMFS = 1280
OBJECT_HEAP = 544


def heap_kv(text):
    return {k: int(v) for k, v in (line.split() for line in text.strip().split("\n"))}


def test_heap_of_import_and_object_mpy(mp):
    proc = mp.run_mp(MP_HEAP, mpy=True)
    assert proc.returncode == 0, proc.stderr
    out = heap_kv(proc.stdout)
    assert 0 < out["import"] <= IMPORT_HEAP_MPY
    assert 328 < out["object"] <= OBJECT_HEAP


def test_heap_of_import_and_object_romfs(mp, tmp_path):
    tree = str(tmp_path / "mpy")
    build.compile_tree(mpharness.LIB, tree, only={"microticket/__init__.py", "microticket/crypto.py",
                                                  "microticket/sha512.py"})
    img = str(tmp_path / "lib.romfs")
    with open(img, "wb") as f:
        f.write(build.romfs_image(tree))
    os.mkdir(str(tmp_path / "empty"))
    cmd, env = memprof._mp_base(str(tmp_path / "empty"), None)
    code = build.ROMFS_MOUNT % (img, img) + MP_HEAP + "print(sha512.__file__)\n"
    proc = subprocess.run(cmd + ["-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rest, last = proc.stdout.strip().rsplit("\n", 1)
    assert last == "/rom/lib/microticket/sha512.mpy"
    out = heap_kv(rest)
    assert 0 < out["import"] <= IMPORT_HEAP_ROMFS
    assert 328 < out["object"] <= OBJECT_HEAP
