"""TLS benchmarks, printed in one run.

    python tools/bench_tls.py [--time SECONDS] [--no-mp] [--no-heap] [--rounds N]
                              [--heap-only | --cpu-only [--tls13-only]]

1. Resumed handshakes per second (ECDHE_RSA, TLS 1.2), driven by `openssl s_time -reuse -www /` against
   our server (CPython), tlslite-ng's server (`tls.py server`, tickets on) and `openssl s_server`;
   printed as rates and as ratios to ours.
2. MicroPython (unix port, .mpy): the server's CPU time for a full handshake and for a resumed one
   (in-process client/server pair, only the server's receive_data calls timed), ECDHE_RSA on CBC and GCM,
   ECDHE_ECDSA (P-256) on GCM and ChaCha20-Poly1305 (TLS 1.2: the client offers no TLS 1.3); the X.509-validating
   client's CPU (TLS 1.2).
3. MicroPython: the smallest `-X heapsize` at which (a) a resumed client handshake (our client CLI against
   our CPython server) and (b) a full ECDHE_RSA server handshake (our server CLI, `openssl s_client`)
   complete; binary search in 1 KB steps.
4. TLS 1.3 (TLS_AES_128_GCM_SHA256, X25519; P-256 and RSA-2048 certificates), MicroPython and CPython: the
   server's and the (pinning) client's CPU for a full handshake, a ticket resumption with psk_dhe_ke and one
   with psk_ke, beside a TLS 1.2 full handshake and ticket resumption on the same certificate (GCM); ratios
   full / resumed and TLS 1.3 resumed / TLS 1.2 resumed, bytes on the wire per resumed handshake. Median of
   --rounds (5) in-process handshakes of each kind per runtime. `--cpu-only` runs 2 and 4 (without the
   openssl peers); `--tls13-only` with it: 4 alone (about 6 s).

Every process is started on a free loopback port and stopped by PID.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
PORTS = os.path.join(ROOT, "ports", "cpython")
BIN = os.path.dirname(sys.executable)
PSK_HEX = "0123456789abcdef0123456789abcdef"
CIPHER = "ECDHE-RSA-AES128-SHA256"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procs  # noqa: E402
from procs import Peer, empty_connection, start_on_free_port  # noqa: E402
micropython = procs.micropython_bin


def env_py():
    return procs.env_cpython()


def env_mp(path):
    return procs.env_micropython(path)


def make_cert(d):
    cert = os.path.join(d, "cert.pem")
    key = os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)
    return cert, key


def s_time(port, seconds):
    r = subprocess.run(["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-www", "/", "-reuse",
                        "-time", str(seconds), "-cipher", CIPHER], capture_output=True, text=True,
                       timeout=seconds * 4 + 60)
    m = re.search(r"(\d+) connections in (\d+) real seconds", r.stdout)
    if not m or int(m.group(2)) == 0:
        return None
    return int(m.group(1)) / int(m.group(2))


def bench_resumed_rate(d, seconds):
    cert, key = make_cert(d)
    tls_py = os.path.join(BIN, "tls.py")
    # ours is told a port (started again on another if it was taken); the others bind port 0 and the port
    # is read back from the kernel (tools/procs.py)
    rows = [("microticket (CPython)", lambda: start_on_free_port(
                lambda port: [sys.executable, "-m", "microticket", "tls-server", "--port", str(port), "--cert", cert,
                              "--key", key], env=env_py())),
            ("tlslite-ng tls.py server", lambda: Peer([sys.executable, tls_py, "server", "-k", key, "-c", cert,
                                                       "--max-ver", "tls1.2", "127.0.0.1:0"], cwd=d)),
            ("openssl s_server", lambda: Peer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert,
                                               "-key", key, "-tls1_2", "-www", "-quiet"]))]
    results = []
    for name, start in rows:
        try:
            peer = start()
        except RuntimeError:
            peer = None
        try:
            rate = s_time(peer.port, seconds) if peer else None
        finally:
            if peer:
                peer.stop()
        results.append((name, rate))
    print("\n== resumed TLS 1.2 handshakes/s, openssl s_time -reuse -www / (%s, %ds) ==" % (CIPHER, seconds))
    base = results[0][1]
    for name, rate in results:
        if rate is None:
            print("  %-28s  failed" % name)
        else:
            ratio = (rate / base) if base else float("nan")
            print("  %-28s %9.1f /s   ratio to microticket: %6.2f" % (name, rate, ratio))
    return cert, key, results


MP_CPU = r"""
import time
from microticket.ticket import KeyRing
from microticket.pk import der, pem, keys
from microticket.tls.server import TlsServer, ServerConfig
from microticket.tls.client import Client
from microticket.tls.cache import TicketCache
from microticket.tls.driver import keep_tickets
from microticket import crypto

cert_pem = open(%r).read()
key_pem = open(%r).read()
chain = pem.read_pem_certs(cert_pem)
pin = crypto.sha256(chain[0])
cfg = ServerConfig(KeyRing.generate(1000), cert_chain=chain, key=keys.load_private_key(key_pem), suites=[%d])
cache = TicketCache()

def run(now):
    c = Client("srv", pin_sha256=pin, cache=cache, max_version=0x0303)  # TLS 1.2 (TLS 1.3: CPU13)
    s = TlsServer(cfg)
    c.start(now)
    spent = 0
    for i in range(10):
        d = c.data_to_send()
        if d:
            t = time.ticks_us()
            s.receive_data(d, now)
            spent += time.ticks_diff(time.ticks_us(), t)
        d = s.data_to_send()
        if d:
            keep_tickets(c, c.receive_data(d, now))  # the client's ticket events into its cache
        if c.handshake_done and s.handshake_done:
            break
    if not (c.handshake_done and s.handshake_done):
        raise SystemExit("handshake failed")
    return spent, c.resumed

full = []
res = []
for i in range(%d):
    cache.entries = {}
    us, r = run(1000)
    full.append(us)
    us, r = run(1001)
    if not r:
        raise SystemExit("not resumed")
    res.append(us)
full.sort()
res.sort()
print("FULL", full[len(full) // 2])
print("RESUMED", res[len(res) // 2])
"""


def mpy_dir():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import build
    out = tempfile.mkdtemp(prefix="mt-bench-mpy-")
    build.compile_tree(LIB, out)
    return out


# (key, suite) pairs measured by bench_mp_cpu: the historic ECDHE_RSA on CBC, and issue 11's suites
CPU_CASES = [("rsa", 0xC027, "ECDHE_RSA  AES_128_CBC_SHA256"), ("rsa", 0xC02F, "ECDHE_RSA  AES_128_GCM_SHA256"),
             ("ec", 0xC02B, "ECDHE_ECDSA AES_128_GCM_SHA256"),
             ("ec", 0xCCA9, "ECDHE_ECDSA CHACHA20_POLY1305_SHA256")]


def make_ec_cert(d):
    cert = os.path.join(d, "ec-cert.pem")
    key = os.path.join(d, "ec-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost"], check=True,
                   capture_output=True)
    return cert, key


def bench_mp_cpu(cert, key, mpy, rounds=5):
    """The server's CPU per full and per resumed handshake on MicroPython for each of CPU_CASES (X25519, the
    certificate's signature: RSA-2048 with PSS, or P-256 ECDSA), and the ratios the issue budgets: full /
    resumed (>= 100x), the P-256 full handshake / the RSA-2048 one (<= 1/3)."""
    ec = make_ec_cert(os.path.dirname(cert))
    print("\n== MicroPython TLS 1.2 server CPU per handshake (X25519; RSA-2048 or P-256; median of %d) ==" % rounds)
    fulls = {}
    for kind, suite, label in CPU_CASES:
        c, k = (cert, key) if kind == "rsa" else ec
        fd, script = tempfile.mkstemp(suffix=".py")
        with os.fdopen(fd, "w") as f:
            f.write(MP_CPU % (c, k, suite, rounds))
        try:
            r = subprocess.run([micropython(), script], capture_output=True, text=True, env=env_mp(mpy),
                               timeout=600)
        finally:
            os.unlink(script)
        full = re.search(r"FULL (\d+)", r.stdout)
        res = re.search(r"RESUMED (\d+)", r.stdout)
        if not (full and res):
            print("  %-38s failed: %s %s" % (label, r.stdout[-300:], r.stderr[-300:]))
            continue
        f = int(full.group(1)) / 1000.0
        s = int(res.group(1)) / 1000.0
        fulls[suite] = f
        print("  %-38s full %8.1f ms   resumed %6.2f ms   full / resumed = %6.1fx" % (label, f, s,
                                                                                     f / s if s else 0))
    if 0xC02B in fulls and 0xC02F in fulls:
        print("  P-256 full / RSA-2048 full (both GCM): %.2f" % (fulls[0xC02B] / fulls[0xC02F]))


# TLS 1.3 (issue 13): one script for both runtimes (MicroPython: time.ticks_us; CPython: perf_counter, through
# the shim in ports/cpython). Per round, in one process: a full TLS 1.3 handshake and a resumption from its
# ticket with psk_dhe_ke, another full one and a psk_ke resumption, a full TLS 1.2 handshake on the same
# certificate and its ticket resumption; the server's receive_data and the client's start + receive_data timed
# apart (the client pins the certificate). Bytes on the wire counted per resumed handshake (both ways, with the
# ticket the server issues on resumption).
CPU13 = r"""
import time
try:
    _us = time.ticks_us
    _diff = time.ticks_diff
except AttributeError:
    def _us():
        return time.perf_counter_ns() // 1000

    def _diff(a, b):
        return a - b
from microticket.ticket import KeyRing
from microticket.pk import pem, keys
from microticket.tls.server import TlsServer, ServerConfig
from microticket.tls.client import Client
from microticket.tls.cache import TicketCache
from microticket.tls.driver import keep_tickets
from microticket import crypto

chain = pem.read_pem_certs(open(%r).read())
key = keys.load_private_key(open(%r).read())
suite12 = %d
rounds = %d
pin = crypto.sha256(chain[0])
ring = KeyRing.generate(1000)
cfg13 = ServerConfig(ring, cert_chain=chain, key=key, suites=[0x1301], psk_ke=True)
cfg12 = ServerConfig(ring, cert_chain=chain, key=key, suites=[suite12])
cache = TicketCache()

def run(cfg, now, modes, v):
    if v == 13:
        c = Client("srv", pin_sha256=pin, cache=cache, psk_modes=modes)
    else:
        c = Client("srv", pin_sha256=pin, cache=cache, max_version=0x0303)
    s = TlsServer(cfg)
    t = _us()
    c.start(now)
    tc = _diff(_us(), t)
    ts = 0
    wire = 0
    for i in range(10):
        d = c.data_to_send()
        if d:
            wire += len(d)
            t = _us()
            s.receive_data(d, now)
            ts += _diff(_us(), t)
        d = s.data_to_send()
        if d:
            wire += len(d)
            t = _us()
            ev = c.receive_data(d, now)
            tc += _diff(_us(), t)
            keep_tickets(c, ev)  # the client's ticket events into its cache
        if c.handshake_done and s.handshake_done and not d:
            break
    if not (c.handshake_done and s.handshake_done):
        raise SystemExit("handshake failed %%s %%s" %% (c.error_message, s.error_message))
    if c.resumed != s.resumed:
        raise SystemExit("resumed: client %%s, server %%s" %% (c.resumed, s.resumed))
    if v == 13 and s.suite != 0x1301 or v == 12 and s.suite != suite12:
        raise SystemExit("suite %%04x" %% s.suite)
    if v == 13 and s.resumed and (s.group != 0) != (modes == b"\x01"):
        raise SystemExit("psk mode: group %%d" %% s.group)
    return ts, tc, wire, s.resumed

names = ("full13", "dhe", "ke", "full12", "res12")
res = {}
for n in names:
    res["S" + n] = []
    res["C" + n] = []
wire = {}

def note(n, r):
    res["S" + n].append(r[0])
    res["C" + n].append(r[1])
    wire[n] = r[2]

for i in range(rounds):
    for n, modes in (("dhe", b"\x01"), ("ke", b"\x00")):
        cache.entries = {}
        r = run(cfg13, 1000, modes, 13)
        if r[3]:
            raise SystemExit("full handshake resumed")
        note("full13", r)
        r = run(cfg13, 1001, modes, 13)
        if not r[3]:
            raise SystemExit("not resumed: " + n)
        note(n, r)
    cache.entries = {}
    note("full12", run(cfg12, 1000, None, 12))
    r = run(cfg12, 1001, None, 12)
    if not r[3]:
        raise SystemExit("TLS 1.2 not resumed")
    note("res12", r)
for k in res:
    v = sorted(res[k])
    print(k, v[len(v) // 2])
for n in names:
    print("W" + n, wire[n])
"""


def bench_cpu13(cert, key, mpy, rounds=5, mp=True):
    """TLS 1.3 CPU per handshake, server and client, on MicroPython and CPython (CPU13): the ratios the issue
    budgets (board server, full / psk_ke resumption >= 100x, full / psk_dhe_ke >= 5x), the client's, TLS 1.3
    resumptions / the TLS 1.2 ticket resumption on the same certificate and AES-128-GCM, and the bytes on the
    wire per resumed handshake."""
    ec = make_ec_cert(os.path.dirname(cert))
    runtimes = []
    if mp and micropython():
        runtimes.append(("MicroPython", [micropython()], env_mp(mpy)))
    runtimes.append(("CPython", [sys.executable], env_py()))
    for rt, cmd, env in runtimes:
        print("\n== %s TLS 1.3 CPU per handshake, TLS_AES_128_GCM_SHA256, X25519, in-process pair, pinned client "
              "(median of %d) ==" % (rt, rounds))
        for kind, suite12, label in (("ec", 0xC02B, "P-256 cert"), ("rsa", 0xC02F, "RSA-2048 cert")):
            c, k = (cert, key) if kind == "rsa" else ec
            fd, script = tempfile.mkstemp(suffix=".py")
            with os.fdopen(fd, "w") as f:
                f.write(CPU13 % (c, k, suite12, rounds))
            try:
                r = subprocess.run(cmd + [script], capture_output=True, text=True, env=env, timeout=900)
            finally:
                os.unlink(script)
            got = dict((m.group(1), int(m.group(2))) for m in re.finditer(r"^(\w+) (\d+)$", r.stdout, re.M))
            if len(got) != 15:
                print("  %s failed: %s %s" % (label, r.stdout[-300:], r.stderr[-300:]))
                continue
            ms = dict((n, v / 1000.0) for n, v in got.items() if n[0] in "SC")
            for side, who in (("S", "server"), ("C", "client")):
                f, d, e = ms[side + "full13"], ms[side + "dhe"], ms[side + "ke"]
                f12, r12 = ms[side + "full12"], ms[side + "res12"]
                print("  %-13s %s: full %7.2f ms   psk_dhe_ke %6.2f ms = %6.1fx   psk_ke %6.3f ms = %6.1fx   "
                      "(TLS 1.2: full %7.2f ms, ticket %6.3f ms = %6.1fx)"
                      % (label, who, f, d, f / d, e, f / e, f12, r12, f12 / r12))
                print("  %-13s %s: resumed TLS 1.3 / TLS 1.2 ticket (both GCM): psk_dhe_ke %.2f, psk_ke %.2f;"
                      " full TLS 1.3 / full TLS 1.2 %.2f" % (label, who, d / r12, e / r12, f / f12))
            print("  %-13s bytes on the wire per resumed handshake: TLS 1.3 psk_ke %d B, psk_dhe_ke %d B, "
                  "TLS 1.2 ticket %d B (full: TLS 1.3 %d B, TLS 1.2 %d B)"
                  % (label, got["Wke"], got["Wdhe"], got["Wres12"], got["Wfull13"], got["Wfull12"]))
        if rt == "MicroPython":
            print("  (budgets, board server: full / psk_ke >= 100x, full / psk_dhe_ke >= 5x)")


MP_X509 = r"""
import time
from microticket.pk import x509
from microticket.ticket import KeyRing
from microticket.tls.server import TlsServer, ServerConfig
from microticket.tls.client import Client
from microticket.tls.cache import TicketCache
from microticket.tls.driver import keep_tickets
from microticket.pk import pem, keys

chain = open(%r, "rb").read()
ca, name, at = %r, %r, %d
certs = pem.read_pem_certs(open(%r).read())
cfg = ServerConfig(KeyRing.generate(at), cert_chain=certs, key=keys.load_private_key(open(%r).read()))
cache = TicketCache()

def med(f, n=5):
    t = []
    for i in range(n):
        t0 = time.ticks_us()
        f()
        t.append(time.ticks_diff(time.ticks_us(), t0))
    t.sort()
    return t[n // 2] / 1000

def validate():
    x509.validate(memoryview(chain), ca, name, at)

def handshake(now):
    c = Client("srv", trust=lambda: open(ca, "rb"), server_name=name.encode(), cache=cache, max_version=0x0303)
    s = TlsServer(cfg)
    c.start(now)
    spent = 0
    for i in range(10):
        d = c.data_to_send()
        if d:
            s.receive_data(d, now)
        d = s.data_to_send()
        if d:
            t0 = time.ticks_us()
            ev = c.receive_data(d, now)
            spent += time.ticks_diff(time.ticks_us(), t0)
            keep_tickets(c, ev)
        if c.handshake_done and s.handshake_done:
            break
    if not c.handshake_done:
        raise SystemExit("handshake failed " + str(c.error_message))
    return spent, c.resumed

full = []
res = []
for i in range(5):
    cache.entries = {}
    us, r = handshake(at)
    full.append(us)
    us, r = handshake(at + 1)
    if not r:
        raise SystemExit("not resumed")
    res.append(us)
full.sort()
res.sort()
print("VALIDATE", med(validate))
print("FULL", full[2] / 1000)
print("RESUMED", res[2] / 1000)
"""


def bench_mp_x509(mpy, d):
    """MicroPython: validating a 3-certificate chain (tests/x509corpus.make_heap_case: leaf and two
    intermediates, the root the middle one of a 3-root CA file), and the validating client's CPU for a full
    TLS 1.2 ECDHE handshake (validation, X25519, the signature) and for a resumed one, timed in its receive_data
    (a Client offers TLS 1.3 by default, and the default ServerConfig takes it: pinned to TLS 1.2 here)."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import x509corpus
    print("\n== MicroPython TLS 1.2 client CPU with X.509 validation (3-certificate chain, 3-root CA file; "
          "median of 5) ==")
    for kind in ("ec", "rsa"):
        w = os.path.join(d, "x509-" + kind)
        chain, ca, name, at = x509corpus.make_heap_case(w, kind)
        full = os.path.join(w, "fullchain.pem")
        with open(full, "w") as out:
            for n in ("leaf", "int2", "int"):
                with open(os.path.join(w, n + ".pem")) as f:
                    out.write(f.read())
        fd, script = tempfile.mkstemp(suffix=".py")
        with os.fdopen(fd, "w") as f:
            f.write(MP_X509 % (chain, ca, name, at, full, os.path.join(w, "k1.key")))
        try:
            r = subprocess.run([micropython(), script], capture_output=True, text=True, env=env_mp(mpy), timeout=600)
        finally:
            os.unlink(script)
        v = re.search(r"VALIDATE ([\d.]+)", r.stdout)
        f_ = re.search(r"FULL ([\d.]+)", r.stdout)
        s_ = re.search(r"RESUMED ([\d.]+)", r.stdout)
        label = "P-256 chain, ECDHE_ECDSA" if kind == "ec" else "RSA-2048 chain, ECDHE_RSA"
        if not (v and f_ and s_):
            print("  %-28s failed: %s %s" % (label, r.stdout[-300:], r.stderr[-300:]))
            continue
        v, f_, s_ = float(v.group(1)), float(f_.group(1)), float(s_.group(1))
        print("  %-28s validation %7.1f ms   full handshake %7.1f ms (the rest: key exchange, signature)   "
              "resumed %5.2f ms   full / resumed = %.0fx" % (label, v, f_, s_, f_ / s_ if s_ else 0))


def smallest_heap(ok, lo=8, hi=512):
    """Smallest heap in KB for which ok(kb) is True (assumes monotonic); None if even hi fails."""
    if not ok(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def bench_mp_heap(cert, key, mpy, d):
    mp = micropython()
    # (a) resumed client handshake: our CPython server (PSK), a cache made by one full handshake
    srv = start_on_free_port(lambda port: [sys.executable, "-m", "microticket", "tls-server", "--port", str(port),
                                           "--psk-identity", "id", "--psk", PSK_HEX], env=env_py())
    port = srv.port
    pristine = os.path.join(d, "cache0.json")
    work = os.path.join(d, "cache.json")
    client_args = ["-m", "microticket", "tls-client", "127.0.0.1", str(port), "--psk-identity", "id", "--psk",
                   PSK_HEX, "--mfl", "3"]
    try:
        subprocess.run([mp] + client_args + ["--cache", pristine], capture_output=True, env=env_mp(mpy),
                       timeout=60)

        def client_ok(kb):
            shutil.copyfile(pristine, work)
            r = subprocess.run([mp, "-X", "heapsize=%dk" % kb] + client_args + ["--cache", work],
                               capture_output=True, text=True, env=env_mp(mpy), timeout=60)
            return "resumed: yes" in r.stdout
        a = smallest_heap(client_ok)
    finally:
        srv.stop()

    # (b) full ECDHE_RSA server handshake under MicroPython, driven by openssl s_client
    def server_ok(kb):
        try:
            proc = start_on_free_port(lambda port: [mp, "-X", "heapsize=%dk" % kb, "-m", "microticket", "tls-server",
                                                    "--port", str(port), "--cert", cert, "--key", key, "--max-record",
                                                    "2048"], env=env_mp(mpy))
        except RuntimeError:  # it never listened (too small a heap to load the key)
            return False
        try:
            empty_connection(proc.port)  # served first, as the readiness probe did when the figures were measured
            r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % proc.port, "-tls1_2", "-cipher",
                                CIPHER, "-maxfraglen", "2048"], input=b"", capture_output=True, timeout=60)
            return b"New, " in r.stdout and b"Master-Key" in r.stdout and b"Cipher is " + CIPHER.encode() in r.stdout
        except subprocess.TimeoutExpired:
            return False
        finally:
            proc.stop()
    b = smallest_heap(server_ok)
    print("\n== MicroPython smallest -X heapsize (unix port, lib as .mpy, 1 KB resolution) ==")
    print("  resumed client handshake (PSK, max_fragment_length 2048): %s" % ("%d KB" % a if a else "failed"))
    print("  full server handshake (ECDHE_RSA, RSA-2048 cert, --max-record 2048): %s"
          % ("%d KB" % b if b else "failed"))
    print("  (the unix port loads .mpy bytecode and its qstrs into the heap: measured with gc.mem_alloc, the"
          " client path's imports take about 52 KB and the server path's about 73 KB of these figures;"
          " frozen into a board's firmware they live in flash)")


def main(argv):
    seconds = 5
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 5
    if "--heap-only" in argv:
        d = tempfile.mkdtemp(prefix="mt-bench-")
        cert, key = make_cert(d)
        bench_mp_heap(cert, key, mpy_dir(), d)
        return 0
    if "--cpu-only" in argv:
        d = tempfile.mkdtemp(prefix="mt-bench-")
        cert, key = make_cert(d)
        mpy = mpy_dir()
        if "--tls13-only" not in argv:
            bench_mp_cpu(cert, key, mpy)
            bench_mp_x509(mpy, d)
        bench_cpu13(cert, key, mpy, rounds)
        return 0
    if "--time" in argv:
        seconds = int(argv[argv.index("--time") + 1])
    d = tempfile.mkdtemp(prefix="mt-bench-")
    try:
        cert, key, _ = bench_resumed_rate(d, seconds)
        if "--no-mp" not in argv and micropython():
            mpy = mpy_dir()
            bench_mp_cpu(cert, key, mpy)
            bench_mp_x509(mpy, d)
            bench_cpu13(cert, key, mpy, rounds)
            if "--no-heap" not in argv:
                bench_mp_heap(cert, key, mpy, d)
        else:
            bench_cpu13(cert, key, None, rounds, mp=False)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
