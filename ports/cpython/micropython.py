"""CPython stand-in for MicroPython's ``micropython`` module (what microticket uses of it).

``native`` and ``viper`` leave functions as they are; importing this module also defines viper's type
names (ptr8, ...) as builtins so that viper-annotated code in lib/ can be defined on CPython.

``heap_lock()`` cannot stop CPython from allocating and is a no-op here; allocation-freedom is proven
under the real MicroPython interpreter (tests/core/test_memory.py).
"""

import builtins


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


def native(f):
    return f


def viper(f):
    return f


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
