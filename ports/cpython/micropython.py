"""CPython stand-in for MicroPython's ``micropython`` module (what microticket uses of it).

``native`` and ``viper`` leave functions as they are; importing this module also defines viper's type
names (ptr8, ...) as builtins so that viper-annotated code in lib/ can be defined on CPython.

``heap_lock()`` cannot stop CPython from allocating and is a no-op here; allocation-freedom is proven
under the real MicroPython interpreter (tests/core/test_memory.py).
"""

import builtins


def _cast(x):
    return x


# Viper's type names: on MicroPython the compiler knows them; CPython evaluates annotations when a function
# is defined, so they must exist as names. As casts they leave values as they are.
for _name in ("ptr", "ptr8", "ptr16", "ptr32", "uint"):
    if not hasattr(builtins, _name):
        setattr(builtins, _name, _cast)


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
