"""Benchmark the public-key math of microticket on CPython and on MicroPython.

    python3 tools/bench_pubkey.py [--runs N] [--micropython PATH] [--no-micropython]

Prints the median time of each operation: X25519 scalar multiplication, P-256 key pair, ECDH, ECDSA
sign and verify (with their ratio to one X25519: the issue's budget is verify <= 2x), RSA-2048 CRT signature
(PKCS#1 v1.5, including the s^e check), RSA-2048 public operation (verify), and a MODP group 14
exponentiation with a 256-bit and with a 2048-bit exponent. Run under CPython it benchmarks CPython
first, then runs itself under MicroPython (found on PATH, else /tmp/probe/bin/micropython) with
MICROPYPATH pointing at lib/. The RSA key is generated with the ``cryptography`` package when it is
installed; without it the RSA rows are skipped.

This file runs unchanged under both interpreters (MicroPython takes the "--child KEYFILE" path).
"""

import sys
import time

IS_MP = sys.implementation.name == "micropython"


def _now_us():
    if IS_MP:
        return time.ticks_us()
    return time.perf_counter_ns() // 1000


def _elapsed_us(t0):
    if IS_MP:
        return time.ticks_diff(time.ticks_us(), t0)
    return _now_us() - t0


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n % 2:
        return xs[n // 2]
    return (xs[n // 2 - 1] + xs[n // 2]) / 2


def _bench(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = _now_us()
        fn()
        times.append(_elapsed_us(t0))
    return _median(times)


def run_benchmarks(key_pem, runs):
    """Return a list of (name, median_us); key_pem may be None (RSA skipped)."""
    from microticket.ike import modp
    from microticket.pk.x25519 import x25519, x25519_base

    results = []
    k = bytes([(7 * i + 3) & 0xFF for i in range(32)])
    u = x25519_base(bytes([(5 * i + 1) & 0xFF for i in range(32)]))
    results.append(("X25519 scalar mult", _bench(lambda: x25519(k, u), runs)))

    from microticket.pk import p256

    seq = [0]

    def rng(n):  # deterministic bytes, a different draw each call
        seq[0] += 1
        return bytes([(seq[0] * 31 + 7 * i) & 0xFF for i in range(n)])

    priv, pub = p256.keypair(rng)
    peer = p256.keypair(rng)[1]
    digest = bytes(range(32))
    sig = p256.sign(priv, digest, rng(32))
    results.append(("P-256 keypair (d*G)", _bench(lambda: p256.keypair(rng), runs)))
    results.append(("P-256 ECDH shared (d*Q)", _bench(lambda: p256.shared(priv, peer), runs)))
    results.append(("P-256 ECDSA sign (hedged RFC 6979)", _bench(lambda: p256.sign(priv, digest, rng(32)), runs)))
    results.append(("P-256 ECDSA verify", _bench(lambda: p256.verify(pub, digest, sig), runs)))

    if key_pem is not None:
        from microticket.pk import rsa, rsa_sign

        key = rsa_sign.load_private_key_pem(key_pem)
        pub = key.public_key()
        digest = bytes(range(32))
        sig = key.sign_pkcs1_sha256(digest)
        results.append(("RSA-2048 CRT sign", _bench(lambda: key.sign_pkcs1_sha256(digest), runs)))
        results.append(("RSA-2048 public op (verify)", _bench(lambda: pub.verify_pkcs1_sha256(digest, sig), runs)))

    x32, _ = modp.dh14_keypair(bytes([(3 * i + 1) & 0xFF for i in range(32)]))
    x256, _ = modp.dh14_keypair(b"\x7f" + bytes([(3 * i + 1) & 0xFF for i in range(255)]))
    results.append(("MODP-2048 exp, 256-bit exponent", _bench(lambda: modp.dh14_keypair(x32.to_bytes(32, "big")), runs)))
    results.append(("MODP-2048 exp, 2048-bit exponent", _bench(lambda: modp.dh14_keypair(x256.to_bytes(256, "big")), max(3, runs // 4))))
    return results


def _print(title, results):
    print(title)
    x = dict(results).get("X25519 scalar mult")
    for name, us in results:
        ratio = (" %6.2fx X25519" % (us / x)) if x and name.startswith("P-256") else ""
        print("  %-36s %10.2f ms%s" % (name, us / 1000, ratio))


def _child(argv):
    # argv: --child KEYFILE|- RUNS
    key_pem = None
    if argv[0] != "-":
        f = open(argv[0], "rb")
        key_pem = f.read()
        f.close()
    runs = int(argv[1])
    res = run_benchmarks(key_pem, runs)
    for name, us in res:
        print("RESULT|%s|%d" % (name, us))


def _host_main():
    import os
    import shutil
    import subprocess
    import tempfile
    import types

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    lib = os.path.join(root, "lib")
    for p in (os.path.join(root, "ports", "cpython"), lib):
        if p not in sys.path:
            sys.path.insert(0, p)
    try:
        import micropython  # noqa: F401
    except ImportError:
        shim = types.ModuleType("micropython")
        shim.const = lambda x: x
        sys.modules["micropython"] = shim

    args = sys.argv[1:]
    runs = 15
    mp = shutil.which("micropython") or "/tmp/probe/bin/micropython"
    use_mp = True
    i = 0
    while i < len(args):
        if args[i] == "--runs":
            runs = int(args[i + 1])
            i += 1
        elif args[i] == "--micropython":
            mp = args[i + 1]
            i += 1
        elif args[i] == "--no-micropython":
            use_mp = False
        i += 1

    key_pem = None
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa as crsa

        ck = crsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_pem = ck.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    except ImportError:
        print("(cryptography not installed: RSA rows skipped)")

    _print("CPython %s (median of %d runs)" % (sys.version.split()[0], runs), run_benchmarks(key_pem, runs))

    if not use_mp or not os.path.exists(mp):
        print("MicroPython: not run")
        return
    with tempfile.TemporaryDirectory() as tmp:
        keyfile = "-"
        if key_pem is not None:
            keyfile = os.path.join(tmp, "key.pem")
            with open(keyfile, "wb") as f:
                f.write(key_pem)
        env = dict(os.environ)
        env["MICROPYPATH"] = lib + ":.frozen"
        proc = subprocess.run(
            [mp, os.path.abspath(__file__), "--child", keyfile, str(runs)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    if proc.returncode != 0:
        print("MicroPython run failed:\n" + proc.stderr + proc.stdout)
        return
    res = []
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT|"):
            _, name, us = line.split("|")
            res.append((name, int(us)))
    ver = subprocess.run([mp, "-c", "import sys; print(sys.implementation.version)"], capture_output=True, text=True)
    _print("MicroPython %s (median of %d runs)" % (ver.stdout.strip(), runs), res)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        _host_main()
