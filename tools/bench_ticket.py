"""Ticket benchmark (not a timed test): ratios measured in one run.

    python tools/bench_ticket.py [--quick]

1. CPython: seal+open round trips/s of microticket (through ports/cpython) vs cryptography's Fernet
   (encrypt+decrypt) on the same 90-byte payload. Target: >= 1.5x Fernet.
2. MicroPython: ticket open time vs the raw crypto floor, i.e. what open cannot avoid doing on the same
   bytes: AES-128-CBC decrypt with a long-lived cipher object + HMAC-SHA256 with precomputed pads.
   Target: open <= 2x the floor. Plus allocation per open (mem_total delta).
"""

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "lib"), os.path.join(ROOT, "ports", "cpython"), os.path.join(ROOT, "tests")]

PAYLOAD = bytes(range(90))  # about the size of a TLS PSK session state
NOW = 1700000000

MP_SCRIPT = r"""
import time, micropython
from microticket import crypto
from microticket.ticket import KeyRing
N = %(n)d
NOW = 1700000000
ring = KeyRing.generate(NOW)
t = ring.seal(bytes(range(90)), NOW)
k = (len(t) - 34 - 32) // 16
for _ in range(20):
    ring.open(t, NOW)

def med(f):
    runs = []
    for _ in range(7):
        t0 = time.ticks_us()
        for _ in range(N):
            f()
        runs.append(time.ticks_diff(time.ticks_us(), t0))
    runs.sort()
    return runs[3] / N

def op_open():
    ring.open(t, NOW)

def op_open_into():
    ring.open_into(t, NOW)

key = ring.keys[0]
dec = crypto.aes_cbc_encryptor(key.aes_key)
buf_in = bytearray(16 + 16 * k)
buf_out = bytearray(16 + 16 * k)
mac_in = memoryview(bytearray(34 + 16 * k))
hm = key.hmac
def op_floor():
    hm.mac(mac_in)
    dec.decrypt(buf_in, buf_out)

def op_aes():
    dec.decrypt(buf_in, buf_out)

def op_hmac():
    hm.mac(mac_in)

def op_seal():
    ring.seal(bytes(90), NOW)

res = {"open": med(op_open), "open_into": med(op_open_into), "floor": med(op_floor), "aes": med(op_aes),
       "hmac": med(op_hmac), "seal": med(op_seal)}
a = micropython.mem_total(); ring.open_into(t, NOW); res["alloc_open_into"] = micropython.mem_total() - a
a = micropython.mem_total(); ring.open(t, NOW); res["alloc_open"] = micropython.mem_total() - a
for name in res:
    print(name, res[name])
"""


def bench(f, n, reps=7):
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        runs.append(time.perf_counter() - t0)
    runs.sort()
    return runs[reps // 2] / n


def cpython_vs_fernet(n):
    from cryptography.fernet import Fernet
    from microticket.ticket import KeyRing
    ring = KeyRing.generate(NOW)
    fernet = Fernet(Fernet.generate_key())

    def ours():
        ring.open(ring.seal(PAYLOAD, NOW), NOW)

    def theirs():
        fernet.decrypt(fernet.encrypt(PAYLOAD))

    ours(), theirs()
    return bench(ours, n), bench(theirs, n)


def micropython_floor(n):
    import mpharness
    exe = mpharness.micropython_bin()
    if exe is None:
        return None
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "lib"))
    out = subprocess.run([exe, "-c", MP_SCRIPT % {"n": n}], capture_output=True, text=True, env=env, timeout=300)
    if out.returncode:
        raise SystemExit(out.stderr)
    return {k: float(v) for k, v in (line.split() for line in out.stdout.split("\n") if line)}


def main(argv):
    n = 300 if "--quick" in argv else 3000
    ours, fernet = cpython_vs_fernet(n)
    print("microticket ticket benchmark (90-byte state, RFC 5077 profile)")
    print()
    print("CPython %s, seal+open round trip" % sys.version.split()[0])
    print("  %-34s %9.1f us  %8.0f /s" % ("microticket seal+open", ours * 1e6, 1 / ours))
    print("  %-34s %9.1f us  %8.0f /s" % ("cryptography Fernet encrypt+decrypt", fernet * 1e6, 1 / fernet))
    print("  %-34s %9.2fx   (target >= 1.5x)" % ("ratio: microticket / Fernet", fernet / ours))
    mp = micropython_floor(max(100, n // 3))
    if mp is None:
        print("\nmicropython not found: MicroPython part skipped")
        return
    print()
    print("MicroPython (unix port), ticket open vs the raw crypto floor")
    for name, label in (("open", "ring.open (returns bytes)"), ("open_into", "ring.open_into (zero-copy)"),
                        ("floor", "floor: AES-CBC + HMAC-SHA256"), ("aes", "  of which AES-CBC"),
                        ("hmac", "  of which HMAC-SHA256"), ("seal", "ring.seal")):
        print("  %-34s %9.1f us" % (label, mp[name]))
    print("  %-34s %9.2fx   (target <= 2x; the TLS server's path)" % ("ratio: open_into / floor",
                                                                      mp["open_into"] / mp["floor"]))
    print("  %-34s %9.2fx   (+ a copy of the state)" % ("ratio: open / floor", mp["open"] / mp["floor"]))
    print("  %-34s %9d B   (mem_total delta)" % ("allocation per open_into", mp["alloc_open_into"]))
    print("  %-34s %9d B   (incl. the returned state)" % ("allocation per open", mp["alloc_open"]))


if __name__ == "__main__":
    main(sys.argv[1:])
