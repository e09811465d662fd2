"""Engine modules keep private copies of protocol numbers (`_NAME = const(n)`: MicroPython's compiler folds
them, so they cost no heap, where importing tls/const.py or ike/consts.py costs ~6 KB). The price is
duplication; this test keeps every private copy equal to the public table it mirrors."""

import glob
import os
import re

import pytest

import mpharness

PRIVATE = re.compile(r"^_([A-Z][A-Z0-9_]*)\s*=\s*const\((.+?)\)\s*(#.*)?$")


def public_table(path):
    ns = {}
    src = open(path).read().replace("from micropython import const", "const = lambda x: x")
    exec(compile(src, path, "exec"), ns)
    return {k: v for k, v in ns.items() if k.isupper() and isinstance(v, int)}


@pytest.mark.parametrize("pkg,table", [("tls", "const.py"), ("ike", "consts.py")])
def test_private_constants_match_the_public_table(pkg, table):
    d = os.path.join(mpharness.LIB, "microticket", pkg)
    public = public_table(os.path.join(d, table))
    checked = 0
    mismatches = []
    for path in sorted(glob.glob(os.path.join(d, "*.py"))):
        if os.path.basename(path) == table:
            continue
        for line in open(path):
            m = PRIVATE.match(line.strip())
            if not m or m.group(1) not in public:
                continue
            value = eval(m.group(2), {})
            checked += 1
            if value != public[m.group(1)]:
                mismatches.append("%s: _%s = %r, %s says %r" % (os.path.basename(path), m.group(1), value,
                                                                 table, public[m.group(1)]))
    assert not mismatches, "\n".join(mismatches)
    assert checked > 20  # the check really ran over the engine modules
