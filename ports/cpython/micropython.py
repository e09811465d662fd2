"""CPython stand-in for MicroPython's ``micropython`` module (what microticket uses of it).

``native`` and ``viper`` leave functions as they are; importing this module also defines viper's type
names (ptr8, ...) as builtins so that viper-annotated code in lib/ can be defined on CPython.

``heap_lock()`` cannot stop CPython from allocating and is a no-op here; allocation-freedom is proven
under the real MicroPython interpreter (tests/core/test_memory.py).
"""

import builtins
from hmac import compare_digest as _compare_digest


def _cast(x):
    return x


def _words(fmt):
    # ptr16/ptr32(buf) in viper index buf in 2- or 4-byte native words: here a memoryview cast to them
    # (a stored value must fit the word: viper truncates, this raises, so code masks its values)
    return lambda x: memoryview(x).cast(fmt)


# Viper's type names: on MicroPython the compiler knows them; CPython evaluates annotations when a function
# is defined, so they must exist as names. As casts they leave values as they are, except ptr16 and ptr32
# called in a body (an annotation casts nothing on CPython).
for _name, _f in (("ptr", _cast), ("ptr8", _cast), ("ptr16", _words("H")), ("ptr32", _words("I")),
                  ("uint", _cast)):
    if not hasattr(builtins, _name):
        setattr(builtins, _name, _f)


def const(x):
    return x


# CPython equivalents of viper functions of lib/microticket, by module and name. On MicroPython these byte
# loops are machine code; here their bytecode bodies would be Python loops (a 64-iteration one per HMAC key,
# a 32-iteration one per MAC compared), so ``viper`` hands back these instead: the same results and the
# same effects on the buffers (tests/core/test_shim.py runs both on the same inputs). The body stays
# reachable as ``__wrapped__``. Other functions are left as they are.

def _fold_or(x, n):
    # the OR of the n low-order bytes of the integer x: halves ORed together, byte-aligned, until one byte
    s = n
    while s > 1:
        h = (s + 1) // 2
        x = (x & ((1 << (8 * h)) - 1)) | (x >> (8 * h))
        s = h
    return x & 0xFF


_XOR_TABLES = {}


def _flip(p, n):
    # microticket.crypto._flip: the 64 bytes of p XOR n, in place
    t = _XOR_TABLES.get(n)
    if t is None:
        t = _XOR_TABLES[n] = bytes(i ^ n for i in range(256))
    p[0:64] = p[0:64].translate(t)


def _xor_diff(a, b, off, n):
    # microticket.crypto._xor_diff: the OR of a[i] ^ b[off + i] over n bytes. Equal bytes (a MAC that
    # verifies): 0, from hmac.compare_digest (constant time); the OR itself only when they differ, which
    # compare_digest has said in constant time already
    if n <= 0:
        return 0
    x = a[0:n]
    y = b[off:off + n]
    if _compare_digest(x, y):
        return 0
    return _fold_or(int.from_bytes(x, "big") ^ int.from_bytes(y, "big"), n)


def _pad_diff(p, end, pad):
    # microticket.ticket._pad_diff: the OR of p[i] ^ pad over the `pad` bytes before `end`
    if pad <= 0:
        return 0
    if pad > 255:  # (callers pass 1..16) the loop itself
        d = 0
        for i in range(end - pad, end):
            d |= p[i] ^ pad
        return d
    x = p[end - pad:end]
    y = _PADS.get(pad) or _PADS.setdefault(pad, bytes((pad,)) * pad)
    if _compare_digest(x, y):
        return 0
    return _fold_or(int.from_bytes(x, "big") ^ int.from_bytes(y, "big"), pad)


_PADS = {}


_FAST = {"microticket.crypto._flip": _flip, "microticket.crypto._xor_diff": _xor_diff,
         "microticket.ticket._pad_diff": _pad_diff}


def native(f):
    return f


def viper(f):
    fast = _FAST.get("%s.%s" % (f.__module__, f.__qualname__))
    if fast is None:
        return f
    # a function object of its own (the body reachable as __wrapped__), as fast as the equivalent: no
    # wrapper frame
    g = type(fast)(fast.__code__, fast.__globals__, f.__name__, fast.__defaults__, fast.__closure__)
    g.__wrapped__ = f
    g.__qualname__ = f.__qualname__
    g.__module__ = f.__module__
    return g


def heap_lock():
    # CPython cannot stop allocation; the lock is proven on the real interpreter (tests/core/test_memory.py)
    return 0


def heap_unlock():
    return 0


def mem_total():
    import tracemalloc
    return tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0


def mem_info(*args):
    pass


def opt_level(*args):
    return 0
