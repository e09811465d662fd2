"""AEAD benchmark (not a test): one 1 KB TLS record with 13 bytes of additional data, through AES-128-GCM,
AES-128-CCM and ChaCha20-Poly1305 (microticket.aead).

    python tools/bench_aead.py [--quick] [gcm|ccm|chacha ...]

Prints, on MicroPython (unix port, lib/ from source) and on CPython (through ports/cpython), the
microseconds per seal and per open of each algorithm (the best of 21 runs, interleaved with the others: the
machine is shared), next to what the record layer does for the same record on a CBC suite: AES-128-CBC
(crypto.aes_cbc_encryptor, one long-lived object, in place over random16 | data | mac | padding) + HMAC-SHA256 (crypto.Hmac over the 13-byte header and the data), and the
ratio (issue 11's budget for GCM: 2x). On MicroPython also the allocation per seal and per open
(micropython.mem_total delta: the call frames, short-lived; the heap itself is locked in the tests).
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "lib"), os.path.join(ROOT, "ports", "cpython"), os.path.join(ROOT, "tests")]

# Runs unchanged on both runtimes; N and ALG are set before it runs.
SCRIPT = r"""
import time
import micropython
from microticket import crypto
if PORT:  # what the TLS record layer takes: the port's own AEAD where it has one (microticket.tls.record_aead)
    from microticket.tls.record_aead import aead as _make
    aead = _make({"gcm": 3, "chacha": 4, "ccm": 6}[ALG], bytes(range(32 if ALG == "chacha" else 16)))[0]
elif ALG == "gcm":
    from microticket.aead.gcm import AesGcm
    aead = AesGcm(bytes(range(16)))
elif ALG == "ccm":
    from microticket.aead.ccm import AesCcm
    aead = AesCcm(bytes(range(16)), 16)
else:
    from microticket.aead.chacha20_poly1305 import ChaCha20Poly1305
    aead = ChaCha20Poly1305(bytes(range(32)))
try:
    clock, diff, scale = time.ticks_us, time.ticks_diff, 1
except AttributeError:
    clock, diff, scale = time.perf_counter, (lambda a, b: a - b), 1e6

def best(f):
    runs = []
    for _ in range(7):
        t0 = clock()
        for _ in range(N):
            f()
        runs.append(diff(clock(), t0) * scale / N)
    return min(runs)

L = 1024
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
for _ in range(3):  # interleaved rounds, the best of each: a shared machine's load hits both sides alike
    for name, f in (("ch_seal", ch_seal), ("ch_open", ch_open), ("copy", copy_only), ("cbc_seal", cbc_seal),
                    ("cbc_open", cbc_open)):
        res[name] = min(res.get(name, 1e9), best(f))
res["ch_open"] -= res["copy"]   # the open benchmark restores the record each time
for name, f in (("alloc_seal", ch_seal), ("alloc_open", ch_open)):
    a = micropython.mem_total()
    f()
    res[name] = micropython.mem_total() - a
for name in res:
    print(name, res[name])
"""


NAMES = {"gcm": "AES-128-GCM", "ccm": "AES-128-CCM", "chacha": "ChaCha20-Poly1305"}


def run_micropython(n, alg):
    import mpharness
    exe = mpharness.micropython_bin()
    if exe is None:
        return None
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "lib"))
    out = subprocess.run([exe, "-c", "N = %d\nALG = %r\nPORT = 0\n" % (n, alg) + SCRIPT], capture_output=True, text=True, env=env,
                         timeout=600)
    if out.returncode:
        raise SystemExit(out.stderr)
    return parse(out.stdout)


def run_cpython(n, alg, port=0):
    out = subprocess.run([sys.executable, "-c", "N = %d\nALG = %r\nPORT = %d\n" % (n, alg, port) + SCRIPT], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path[:2])), timeout=600)
    if out.returncode:
        raise SystemExit(out.stderr)
    return parse(out.stdout)


def parse(text):
    return {k: float(v) for k, v in (line.split() for line in text.split("\n") if line)}


def show(title, r, alloc, alg):
    print(title)
    for op in ("seal", "open"):
        ch, cbc = r["ch_" + op], r["cbc_" + op]
        print("  %-5s %-17s %9.1f us   AES-128-CBC + HMAC-SHA256 %9.1f us   ratio %5.2fx"
              % (op, NAMES[alg], ch, cbc, ch / cbc))
    if alloc:
        print("  allocation per seal %d B, per open %d B (mem_total delta)" % (r["alloc_seal"], r["alloc_open"]))


def main(argv):
    quick = "--quick" in argv
    algs = [a for a in argv if a in NAMES] or list(NAMES)
    print("1 KB record, 13-byte additional data (TLS 1.2), the best of 3 x 7 interleaved runs")
    for alg in algs:
        mp = run_micropython(200 if quick else 2000, alg)
        if mp is None:
            print("micropython not found: MicroPython part skipped")
        else:
            show("MicroPython (unix port)", mp, True, alg)
        v = sys.version.split()[0]
        show("CPython %s, microticket.aead (the viper code run as plain Python)" % v,
             run_cpython(3 if quick else 20, alg), False, alg)
        show("CPython %s, what the TLS record layer runs: the port's own AEAD (ports/cpython cryptolib: "
             "OpenSSL's through cryptography)" % v, run_cpython(200 if quick else 2000, alg, 1), False, alg)


if __name__ == "__main__":
    main(sys.argv[1:])
