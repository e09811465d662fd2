"""ChaCha20-Poly1305 benchmark (not a test): one 1 KB TLS record with 13 bytes of additional data.

    python tools/bench_chacha.py [--quick]

Prints, on MicroPython (unix port, lib/ from source) and on CPython (through ports/cpython), the median
microseconds per seal and per open of microticket.aead.chacha20_poly1305, next to what the record layer
does today for the same record: AES-128-CBC (crypto.aes_cbc_encryptor, one long-lived object, in place over
random16 | data | mac | padding) + HMAC-SHA256 (crypto.Hmac over the 13-byte header and the data), and the
ratio. On MicroPython also the allocation per seal and per open (micropython.mem_total delta).
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "lib"), os.path.join(ROOT, "ports", "cpython"), os.path.join(ROOT, "tests")]

# Runs unchanged on both runtimes; N is set before it runs.
SCRIPT = r"""
import time
import micropython
from microticket import crypto
from microticket.aead.chacha20_poly1305 import ChaCha20Poly1305
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

L = 1024
aead = ChaCha20Poly1305(bytes(range(32)))
nonce = bytearray(12)
aad = bytes(13)
rec = bytearray(L + 16)
aead.seal(nonce, aad, rec, 0, L)
sealed = bytes(rec)

def ch_seal():
    aead.seal(nonce, aad, rec, 0, L)

def ch_open():
    rec[:] = sealed
    if not aead.open(nonce, aad, rec, 0, L):
        raise SystemExit("open failed")

def copy_only():
    rec[:] = sealed

enc = crypto.aes_cbc_encryptor(bytes(16))
dec = crypto.aes_cbc_encryptor(bytes(16))   # it decrypts: first used for that
hm = crypto.Hmac(bytes(32), "sha256")
cbc = bytearray(16 + L + 32 + 16)   # random16 | data | mac | padding
cv = memoryview(cbc)
data = cv[16:16 + L]

def cbc_seal():
    mac = hm.mac(aad, data)
    cbc[16 + L:16 + L + 32] = mac
    enc.encrypt(cv, cv)

def cbc_open():
    dec.decrypt(cv, cv)
    hm.mac(aad, data)

res = {}
for name, f in (("ch_seal", ch_seal), ("ch_open", ch_open), ("copy", copy_only), ("cbc_seal", cbc_seal),
                ("cbc_open", cbc_open)):
    res[name] = med(f)
res["ch_open"] -= res["copy"]   # the open benchmark restores the record each time
for name, f in (("alloc_seal", ch_seal), ("alloc_open", ch_open)):
    a = micropython.mem_total()
    f()
    res[name] = micropython.mem_total() - a
for name in res:
    print(name, res[name])
"""


def run_micropython(n):
    import mpharness
    exe = mpharness.micropython_bin()
    if exe is None:
        return None
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "lib"))
    out = subprocess.run([exe, "-c", "N = %d\n" % n + SCRIPT], capture_output=True, text=True, env=env,
                         timeout=600)
    if out.returncode:
        raise SystemExit(out.stderr)
    return parse(out.stdout)


def run_cpython(n):
    out = subprocess.run([sys.executable, "-c", "N = %d\n" % n + SCRIPT], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path[:2])), timeout=600)
    if out.returncode:
        raise SystemExit(out.stderr)
    return parse(out.stdout)


def parse(text):
    return {k: float(v) for k, v in (line.split() for line in text.split("\n") if line)}


def show(title, r, alloc):
    print(title)
    for op in ("seal", "open"):
        ch, cbc = r["ch_" + op], r["cbc_" + op]
        print("  %-5s ChaCha20-Poly1305 %9.1f us   AES-128-CBC + HMAC-SHA256 %9.1f us   ratio %5.2fx"
              % (op, ch, cbc, ch / cbc))
    if alloc:
        print("  allocation per seal %d B, per open %d B (mem_total delta)" % (r["alloc_seal"], r["alloc_open"]))


def main(argv):
    quick = "--quick" in argv
    print("1 KB record, 13-byte additional data (TLS 1.2), median of 7 runs")
    mp = run_micropython(200 if quick else 2000)
    if mp is None:
        print("micropython not found: MicroPython part skipped")
    else:
        show("MicroPython (unix port)", mp, True)
    show("CPython %s (ports/cpython shim: viper code runs as plain Python)" % sys.version.split()[0],
         run_cpython(3 if quick else 20), False)


if __name__ == "__main__":
    main(sys.argv[1:])
