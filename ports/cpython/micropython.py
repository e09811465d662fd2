"""CPython stand-in for MicroPython's ``micropython`` module (what microticket uses of it).

``heap_lock()`` cannot stop CPython from allocating; it only counts nesting so code paths run the same.
Allocation-freedom is proven under the real MicroPython interpreter (tests/test_memory.py).
"""

_lock_depth = 0


def const(x):
    return x


def native(f):
    return f


def viper(f):
    return f


def heap_lock():
    global _lock_depth
    _lock_depth += 1
    return _lock_depth - 1


def heap_unlock():
    global _lock_depth
    if _lock_depth:
        _lock_depth -= 1
    return _lock_depth


def heap_locked():
    return _lock_depth


def mem_total():
    import tracemalloc
    return tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0


def mem_info(*args):
    pass


def opt_level(*args):
    return 0
