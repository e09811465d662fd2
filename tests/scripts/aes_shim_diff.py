# cryptolib behaviour, printed line by line: run under MicroPython and under CPython + ports/cpython/cryptolib,
# the outputs must be identical (tests/core/test_shim.py).
import cryptolib


def hx(b):
    return "".join("%02x" % x for x in b)


def attempt(name, f):
    try:
        r = f()
        print(name, "ok", hx(r) if isinstance(r, (bytes, bytearray)) else repr(r))
    except Exception as e:
        print(name, type(e).__name__, e.args[0] if e.args else "")


k = bytes(range(16))
iv = bytes(16)
a = cryptolib.aes(k, 2, iv)
attempt("cbc-1", lambda: a.encrypt(bytes(16)))
attempt("cbc-2-chained", lambda: a.encrypt(bytes(16)))
attempt("cbc-dir", lambda: a.decrypt(bytes(16)))
attempt("blk", lambda: a.encrypt(bytes(15)))
attempt("small-out", lambda: a.encrypt(bytes(16), bytearray(8)))
o = bytearray(32)
attempt("into-ret", lambda: a.encrypt(bytes(16), o) is o)
print("into-buf", hx(o))
b = bytearray(range(16))
attempt("inplace", lambda: a.encrypt(b, b) is b)
print("inplace-buf", hx(b))
attempt("mv-in", lambda: a.encrypt(memoryview(bytearray(32))[16:]))
attempt("empty", lambda: a.encrypt(b""))
attempt("key15", lambda: cryptolib.aes(bytes(15), 2, iv))
attempt("key24", lambda: cryptolib.aes(bytes(24), 2, iv).encrypt(bytes(16)))
attempt("key32", lambda: cryptolib.aes(bytes(32), 1).encrypt(bytes(32)))
attempt("mode3", lambda: cryptolib.aes(k, 3, iv))
attempt("mode6", lambda: cryptolib.aes(k, 6, iv))
attempt("iv8", lambda: cryptolib.aes(k, 2, bytes(8)))
attempt("cbc-noiv", lambda: cryptolib.aes(k, 2))
attempt("ecb-noiv", lambda: cryptolib.aes(k, 1).encrypt(bytes(32)))
attempt("ecb-iv3", lambda: cryptolib.aes(k, 1, bytes(3)))
attempt("ecb-iv16", lambda: cryptolib.aes(k, 1, bytes(16)).encrypt(bytes(16)))
d = cryptolib.aes(k, 2, iv)
attempt("dec-1", lambda: d.decrypt(bytes(16)))
attempt("dec-2-chained", lambda: d.decrypt(bytes(range(16))))
attempt("dec-then-enc", lambda: d.encrypt(bytes(16)))
attempt("str-in", lambda: cryptolib.aes(k, 2, iv).encrypt("0123456789abcdef"))
for n in (16, 32, 48, 64, 128, 256):
    e1 = cryptolib.aes(k, 2, iv)
    whole = e1.encrypt(bytes(range(n % 251)) + bytes(n - n % 251))
    e2 = cryptolib.aes(k, 2, iv)
    parts = bytearray()
    data = bytes(range(n % 251)) + bytes(n - n % 251)
    for i in range(0, n, 16):
        parts.extend(e2.encrypt(data[i:i + 16]))
    print("chain", n, hx(whole), whole == bytes(parts))
