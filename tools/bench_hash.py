"""Hash benchmark (not a test): microticket.sha512 (SHA-384, viper) against the firmware's hashlib.sha256.

    python tools/bench_hash.py [--quick]

Prints, on MicroPython (unix port, lib/ from source), the median microseconds per 1 KB: fed to a long-lived
object (update only), and one-shot (object, update, digest: what X.509 does per signed TBSCertificate), and
what each allocates (micropython.mem_total delta). On CPython (ports/cpython) the same for the pure path
(forced: the viper code as plain Python) next to hashlib.sha384.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "lib"), os.path.join(ROOT, "ports", "cpython"), os.path.join(ROOT, "tests")]

# Runs unchanged on both runtimes; N and PURE are set before it runs.
SCRIPT = r"""
import time
import hashlib
import micropython
from microticket import crypto
from microticket import sha512
if PURE:
    crypto.hash_new = lambda name, data=None: None
try:
    clock, diff, scale = time.ticks_us, time.ticks_diff, 1
except AttributeError:
    clock, diff, scale = time.perf_counter, (lambda a, b: a - b), 1e6

def med(f):
    runs = []
    for _ in range(7):
        t0 = clock()
        for _ in range(N):
            f()
        runs.append(diff(clock(), t0) * scale / N)
    runs.sort()
    return runs[3]

KB = memoryview(bytes(range(256)) * 4)
ours = sha512.new(None, 48)
ref = hashlib.sha256() if not PURE else hashlib.sha384()

def ours_update():
    ours.update(KB)

def ours_oneshot():
    sha512.sha384(KB)

def ref_update():
    ref.update(KB)

def ref_oneshot():
    (hashlib.sha256 if not PURE else hashlib.sha384)(KB).digest()

res = {}
a = 0   # (made before the loop: a new global's first store grows the module's dict, which mem_total would count)
for name, f in (("ours_update", ours_update), ("ours_oneshot", ours_oneshot), ("ref_update", ref_update),
                ("ref_oneshot", ref_oneshot)):
    res[name] = med(f)
    f()
    a = micropython.mem_total()
    f()
    res["alloc_" + name] = micropython.mem_total() - a
for name in res:
    print(name, res[name])
"""


def run(exe, n, pure, env):
    out = subprocess.run(exe + ["-c", "N = %d\nPURE = %d\n" % (n, pure) + SCRIPT], capture_output=True,
                         text=True, env=env, timeout=600)
    if out.returncode:
        raise SystemExit(out.stderr)
    return {k: float(v) for k, v in (line.split() for line in out.stdout.split("\n") if line)}


def show(title, r, ref, alloc):
    print(title)
    for op, what in (("update", "update(1 KB), long-lived object"), ("oneshot", "one-shot digest of 1 KB")):
        ours, other = r["ours_" + op], r["ref_" + op]
        line = "  %-32s SHA-384 (ours) %8.1f us   %s %8.1f us   ratio %6.1fx" % (what, ours, ref, other,
                                                                                  ours / other)
        if alloc:
            line += "   alloc %d B / %d B" % (r["alloc_ours_" + op], r["alloc_ref_" + op])
        print(line)


def main(argv):
    quick = "--quick" in argv
    import mpharness
    exe = mpharness.micropython_bin()
    print("1 KB of data, median of 7 runs")
    if exe is None:
        print("micropython not found: MicroPython part skipped")
    else:
        env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "lib"))
        show("MicroPython (unix port), sha384 in viper", run([exe], 100 if quick else 1000, 0, env),
             "hashlib.sha256", True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path[:2]))
    show("CPython %s, the pure path forced (viper code as plain Python)" % sys.version.split()[0],
         run([sys.executable], 3 if quick else 20, 1, env), "hashlib.sha384", False)


if __name__ == "__main__":
    main(sys.argv[1:])
