"""TLS benchmarks, printed in one run.

    python tools/bench_tls.py [--time SECONDS] [--clients K] [--no-mp] [--no-heap] [--rounds N]
                              [--heap-only | --cpu-only [--tls13-only] | --profile [--top] | --reuse-port]

1. Resumed handshakes per second (ECDHE_RSA, TLS 1.2), driven by `openssl s_time -reuse -tls1_2 -www /`
   against our server (CPython), tlslite-ng's server (`tls.py server`, tickets on), `openssl s_server` and
   ours again with `--reissue renew` (s_server's policy: no new ticket when resuming from a current key);
   printed as rates and as ratios to ours, with each server's CPU per handshake (/proc); with --clients K
   also ours and s_server under K s_time processes at once.
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
5. --profile: where a resumed TLS 1.2 handshake's time goes in one CPython server process (engine, crypto,
   the handler, the driver, syscalls): a sans-IO replay of recorded s_time connections, and the live server
   under cProfile (see bench_profile); --top adds the profiles' top functions.
6. --reuse-port: N `tls-server --reuse-port` processes on one port and one key file against one, under
   --clients K (4) s_time processes at once (bench_reuse_port).

Every process is started on a free loopback port and stopped by PID.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
PORTS = os.path.join(ROOT, "ports", "cpython")
BIN = os.path.dirname(sys.executable)
PSK_HEX = "0123456789abcdef0123456789abcdef"
CIPHER = "ECDHE-RSA-AES128-SHA256"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import procs  # noqa: E402
from procs import Peer, cpu_seconds, empty_connection, start_on_free_port  # noqa: E402
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
    """Connections per second of `openssl s_time -reuse -tls1_2` against ``port``: its count over the wall time
    of its run as measured here (s_time prints whole seconds, which is up to 20% off in a 5 s run; the
    process start and its first, full, handshake are in the time measured: about 1%)."""
    t = time.perf_counter()
    r = subprocess.run(["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-www", "/", "-reuse", "-tls1_2",
                        "-time", str(seconds), "-cipher", CIPHER], capture_output=True, text=True,
                       timeout=seconds * 4 + 60)
    t = time.perf_counter() - t
    m = re.search(r"(\d+) connections in [\d.]+ real seconds", r.stdout)
    if not m or int(m.group(1)) == 0:
        return None
    return int(m.group(1)) / t


def s_time_cpu(peers, seconds):
    """(connections/s, server CPU in us per connection) of s_time against the processes ``peers`` (one port)."""
    before = [cpu_seconds(p.pid) for p in peers]
    t = time.perf_counter()
    rate = s_time(peers[0].port, seconds)
    t = time.perf_counter() - t
    after = [cpu_seconds(p.pid) for p in peers]
    if rate is None or None in before or None in after:
        return rate, None
    return rate, (sum(after) - sum(before)) / (rate * t) * 1e6


def bench_resumed_rate(d, seconds, clients=1):
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
                                               "-key", key, "-tls1_2", "-www", "-quiet"])),
            # ours with s_server's ticket policy: OpenSSL's TLS 1.2 server sends no NewSessionTicket when it
            # resumes from a ticket of its current key; ours sends one on every resumption by default
            # (--reissue always, RFC 5077 section 5.8), which costs both ends a ticket each time
            ("microticket --reissue renew", lambda: start_on_free_port(
                lambda port: [sys.executable, "-m", "microticket", "tls-server", "--port", str(port), "--cert", cert,
                              "--key", key, "--reissue", "renew"], env=env_py()))]
    results = []
    for name, start in rows:
        try:
            peer = start()
        except RuntimeError:
            peer = None
        try:
            rate, cpu = s_time_cpu([peer], seconds) if peer else (None, None)
        finally:
            if peer:
                peer.stop()
        results.append((name, rate, cpu))
    print("\n== resumed TLS 1.2 handshakes/s, openssl s_time -reuse -tls1_2 -www / (%s, %ds; %d cores) =="
          % (CIPHER, seconds, os.cpu_count()))
    base = results[0][1]
    for name, rate, cpu in results:
        if rate is None:
            print("  %-28s  failed" % name)
        else:
            ratio = (rate / base) if base else float("nan")
            print("  %-28s %9.1f /s   ratio to microticket: %6.2f   server CPU per handshake: %s"
                  % (name, rate, ratio, "%.0f us" % cpu if cpu else "?"))
    if results[0][1] and results[2][1]:
        print("  microticket / openssl s_server: %.2fx" % (results[0][1] / results[2][1]))
    if results[3][1] and results[2][1]:
        print("  microticket --reissue renew / openssl s_server (the same ticket policy): %.2fx"
              % (results[3][1] / results[2][1]))
    if clients > 1:  # the same two servers, loaded by several s_time processes at once
        rates = []
        for i in (0, 2, 3):
            peer = rows[i][1]()
            try:
                before = cpu_seconds(peer.pid)
                t = time.perf_counter()
                rate = s_time_many(peer.port, seconds, clients)
                t = time.perf_counter() - t
                cpu = cpu_seconds(peer.pid) - before
            finally:
                peer.stop()
            rates.append(rate)
            print("  %-28s %9.1f /s   with %d s_time clients at once; server CPU %.2f s in %.1f s"
                  % (rows[i][0], rate, clients, cpu, t))
        print("  microticket / openssl s_server, %d clients at once: %.2fx (--reissue renew: %.2fx)"
              % (clients, rates[0] / rates[1], rates[2] / rates[1]))
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


# --- N processes on one port (--reuse-port) --------------------------------------------------------------

def s_time_many(port, seconds, clients):
    """Connections per second of ``clients`` `openssl s_time -reuse` processes run at once against ``port``."""
    t = time.perf_counter()
    procs_ = [subprocess.Popen(["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-www", "/", "-reuse",
                                "-tls1_2", "-time", str(seconds), "-cipher", CIPHER], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True) for _ in range(clients)]
    total = 0
    for p in procs_:
        out_, _ = p.communicate(timeout=seconds * 4 + 60)
        m = re.search(r"(\d+) connections in [\d.]+ real seconds", out_)
        total += int(m.group(1)) if m else 0
    return total / (time.perf_counter() - t)


def start_fleet(n, cert, key, keys, reuse=True):
    """``n`` `tls-server` processes on one port (the first binds port 0, the others the port it got), one key
    file; stopped by the caller (each by its PID)."""
    extra = ["--cert", cert, "--key", key, "--keys", keys, "--max-version", "1.2"] + (["--reuse-port"] if reuse
                                                                                       else [])
    first = start_on_free_port(lambda port: [sys.executable, "-m", "microticket", "tls-server", "--port",
                                             str(port)] + extra, env=env_py())
    peers = [first]
    try:
        for _ in range(n - 1):
            peers.append(Peer([sys.executable, "-m", "microticket", "tls-server", "--port", str(first.port)]
                              + extra, first.port, env=env_py()))
    except Exception:
        for p in peers:
            p.stop()
        raise
    return peers


def bench_reuse_port(d, seconds, clients=4, counts=(1, 2)):
    """Resumed handshakes/s of N `tls-server --reuse-port` processes sharing one port and one key file, driven
    by ``clients`` s_time processes at once (on the same machine: the clients' CPU counts against the cores
    the servers have); the ratio N processes / one."""
    cert, key = make_cert(d)
    keys = os.path.join(d, "fleet-keys.json")
    print("\n== N tls-server --reuse-port processes on one port, one key file: %d s_time -reuse clients at once "
          "(%s, %ds; %d cores) ==" % (clients, CIPHER, seconds, os.cpu_count()))
    rates = {}
    for n in counts:
        peers = start_fleet(n, cert, key, keys)
        try:
            before = [cpu_seconds(p.pid) for p in peers]
            rate = s_time_many(peers[0].port, seconds, clients)
            after = [cpu_seconds(p.pid) for p in peers]
        finally:
            outs = [p.stop() for p in peers]
        served = [len(re.findall(r"^connection \d+: TLS 1\.2, .*resumed: from a ticket", o, re.M)) for o in outs]
        rates[n] = rate
        cpu = sum(a - b for a, b in zip(after, before))
        print("  %d process%s: %8.1f /s   resumed per process: %s   servers' CPU: %.2f s of %d s x %d cores"
              % (n, "es" if n > 1 else "  ", rate, "/".join(str(x) for x in served), cpu, seconds, os.cpu_count()))
    for n in counts[1:]:
        print("  %d processes / 1 process: %.2fx" % (n, rates[n] / rates[counts[0]]))
    return rates


# --- profile of one resumed handshake (--profile) ---------------------------------------------------------
# Where a resumed TLS 1.2 handshake's microseconds go in one CPython server process, in two parts:
# (a) sans-IO: the conversations of `openssl s_time -reuse` are recorded once (the bytes each read returned,
#     against our asyncio driver with a seeded rng and a fixed clock), then a resumed one is replayed into
#     fresh TlsServer engines with the same seeds (no sockets): the server answers identically, so the
#     client's recorded Finished verifies; timed without a profiler, then once under cProfile, split into
#     engine, crypto and the handler;
# (b) the live server (`tls-server` under cProfile in its own process) against `openssl s_time -reuse`:
#     the same split plus the syscalls and the driver (tls/serve.py, the asyncio loop).
# A built-in function's time goes to its category when it is one of hashing, ciphers or sockets, else to its
# callers' categories in proportion.

PROF_NOW = 1800000000

PROF_SERVER = r"""
import cProfile, signal, sys
from microticket.cli import tls_server
# stopped by SIGINT (the profile then written): a background job inherits SIGINT ignored, so it is set back
signal.signal(signal.SIGINT, signal.default_int_handler)
pr = cProfile.Profile()
pr.enable()
try:
    tls_server.main(sys.argv[2:])
finally:
    pr.disable()
    pr.dump_stats(sys.argv[1])
"""

CATEGORIES = ("engine", "crypto", "handler", "driver", "syscalls", "other", "wait")


def _category(filename, name):
    f = filename.replace(os.sep, "/")
    if filename == "~":
        n = name.lower()
        if any(w in n for w in ("hash", "sha", "hmac", "cipher", "aes", "encrypt", "decrypt", "cryptography",
                                "_rust", "update", "finalize", "digest", "randbytes", "urandom")):
            return "crypto"
        if "epoll" in n:
            return "wait"  # the loop waiting for the client (excluded from the shares)
        if any(w in n for w in ("_socket", "posix.read", "posix.write", "ssl")):
            return "syscalls"
        return None  # a plain built-in (len, bytes ops...): its callers'
    if "/ports/cpython/" in f or "/cryptography/" in f or f.endswith(("/microticket/crypto.py",
                                                                     "/microticket/prf.py", "/random.py",
                                                                     "/hmac.py", "/hashlib.py")) \
            or "/microticket/aead/" in f:
        return "crypto"
    if f.endswith(("/tls/serve.py", "/tls/aio.py", "/tls/driver.py", "/fleet/serve.py")) or "/asyncio/" in f \
            or f.endswith(("/selectors.py", "/socket.py")):
        return "driver"
    if "/microticket/cli/" in f:
        return "handler"
    if "/microticket/" in f:
        return "engine"
    return "other"


def profile_split(stats):
    """{category: seconds of own time} from a pstats.Stats (see CATEGORIES and _category)."""
    st = stats.stats
    cat = {}
    for fn in st:
        cat[fn] = _category(fn[0], fn[2])
    out = dict.fromkeys(CATEGORIES, 0.0)

    def owner(fn, depth=0):
        c = cat.get(fn)
        if c is not None or depth > 6:
            return c or "other"
        callers = st[fn][4]
        if not callers:
            return "other"
        best = max(callers, key=lambda k: callers[k][2] if isinstance(callers[k], tuple) else 0)
        return owner(best, depth + 1)

    for fn, (cc, nc, tt, ct, callers) in st.items():
        c = cat[fn]
        if c is not None:
            out[c] += tt
            continue
        shares = [(k, v[2]) for k, v in callers.items()] if callers else []
        total = sum(s for _, s in shares)
        if not total:
            out[owner(fn)] += tt
            continue
        for k, s in shares:
            out[owner(k)] += tt * s / total
    return out


def _print_split(label, split, per_hs, n):
    """Each category's share of the profiled time (waiting excluded) and that share of ``per_hs``, the cost
    per handshake measured without the profiler (the profiler inflates Python calls more than C ones: the
    shares are approximate)."""
    total = sum(v for c, v in split.items() if c != "wait") or 1.0
    print("  %s: %d handshakes; the profile's shares of %.1f us per handshake measured without it:"
          % (label, n, per_hs))
    for c in CATEGORIES:
        if split[c] and c != "wait":
            print("    %-9s %5.1f%%  %7.1f us   (profiled: %7.1f us)"
                  % (c, 100 * split[c] / total, per_hs * split[c] / total, split[c] / n * 1e6))
    if split["wait"]:
        print("    (waiting in epoll, not counted: %.1f us per handshake profiled)" % (split["wait"] / n * 1e6))


_POOL = bytes(range(256)) * 16  # the seeded rngs' bytes


def _rng(pos):
    at = [pos]

    def rng(n):
        p = at[0]
        at[0] = p + n
        return _POOL[p % 2048:p % 2048 + n]
    return rng


def _seeded(cfg):
    # what makes a connection's answer repeatable: the ring's rng and its encryptor's CBC state reset (the
    # encryptor made here, outside what is timed); the engine's rng
    from microticket import crypto
    ring = cfg.ring
    ring.rng = _rng(1000)
    for k in ring.keys:
        k.encryptor = crypto.aes_cbc_encryptor(k.aes_key, bytes(16))
    return _rng(0)


def record_s_time(cfg, seconds=1):
    """[(chunks read, resumed, handshake done)] of the connections `openssl s_time -reuse` makes against our
    asyncio driver (the CLI's handler, a fixed clock, seeded rngs: see _seeded)."""
    import asyncio
    from microticket.tls.server import TlsServer
    from microticket.tls import serve
    from microticket.cli.tls_server import http_or_echo
    conns = []

    class Recording:
        def __init__(self, reader, rec):
            self.reader, self.rec = reader, rec

        async def read(self, n):
            d = await self.reader.read(n)
            self.rec.append(bytes(d))
            return d

    async def handle(reader, writer):
        rec = []
        srv = TlsServer(cfg, rng=_seeded(cfg))
        await serve.aio_serve_connection(Recording(reader, rec), writer, srv, http_or_echo(srv),
                                         clock=lambda: PROF_NOW, handshake_s=10, idle_s=10)
        conns.append((rec, srv.resumed, srv.handshake_done and srv.alert_sent is None))

    async def run():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        p = await asyncio.create_subprocess_exec(
            "openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-www", "/", "-reuse", "-tls1_2", "-time",
            str(seconds), "-cipher", CIPHER, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await p.wait()
        server.close()
    asyncio.run(run())
    return conns


def replay(cfg, chunks, prev=None):
    """One recorded connection replayed into a TlsServer (sans-IO, the CLI's handler); returns the engine."""
    from microticket.tls.server import TlsServer
    from microticket.tls.serve import answer
    from microticket.cli.tls_server import http_or_echo
    srv = TlsServer(cfg, rng=_seeded(cfg), reuse=prev)
    h = http_or_echo(srv)
    for d in chunks:
        for e in srv.receive_data(d, PROF_NOW):
            if e[0] == "data" and not srv.closed:
                answer(srv, h, e[1])
        srv.data_to_send()
        if srv.closed:
            break
    return srv


def bench_profile(d, seconds, n=2000):
    import cProfile
    import pstats
    sys.path[:0] = [LIB, PORTS]
    from microticket.cli.tls_server_config import config as server_config
    cert, key = make_cert(d)
    o = {"cert": cert, "key": key, "max-version": "1.2"}
    cfg = server_config(o, None, 16384, "always")
    from microticket import ticket
    cfg.ring = ticket.KeyRing.generate(PROF_NOW - 10)
    print("\n== profile: one resumed TLS 1.2 handshake (%s) in one CPython server process ==" % CIPHER)
    conns = record_s_time(cfg)
    resumed = [c for c in conns if c[1] and c[2]]
    if not resumed:
        print("  recording failed: %d connections, none resumed" % len(conns))
        return
    chunks = resumed[-1][0]
    s = replay(cfg, chunks)
    if not (s.resumed and s.handshake_done and s.alert_sent is None):
        print("  replay failed: the recorded client's Finished did not verify (alert %s)" % s.alert_sent)
        return
    prev = s
    for _ in range(200):
        prev = replay(cfg, chunks, prev)
    runs = []
    for _ in range(5):  # the best of 5 (a shared machine)
        t = time.perf_counter()
        for _ in range(n // 5):
            prev = replay(cfg, chunks, prev)
        runs.append((time.perf_counter() - t) / (n // 5) * 1e6)
    per = min(runs)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n):
        prev = replay(cfg, chunks, prev)
    pr.disable()
    print("  (a) sans-IO replay of a recorded `s_time -reuse` connection: %d reads, %d bytes in; %.1f us per "
          "handshake, %.0f/s" % (len(chunks), sum(len(c) for c in chunks), per, 1e6 / per))
    _print_split("engine + crypto + handler", profile_split(pstats.Stats(pr)), per, n)
    if "--top" in sys.argv:
        pstats.Stats(pr).sort_stats("tottime").print_stats(25)

    # (b) the live server under cProfile, then the same server unprofiled, against s_time
    prof = os.path.join(d, "server.prof")
    script = os.path.join(d, "prof_server.py")
    with open(script, "w") as f:
        f.write(PROF_SERVER)
    args = ["--port", "0", "--cert", cert, "--key", key]
    rate = None
    peer = start_on_free_port(lambda port: [sys.executable, script, prof] + args, env=env_py())
    try:
        rate_p = s_time(peer.port, seconds)
    finally:
        import signal
        peer.proc.send_signal(signal.SIGINT)
        try:
            peer.proc.wait(20)
        finally:
            peer.stop()
    peer = start_on_free_port(lambda port: [sys.executable, "-m", "microticket", "tls-server"] + args, env=env_py())
    try:
        rate, cpu = s_time_cpu([peer], seconds)
    finally:
        peer.stop()
    if not (rate and cpu and rate_p and os.path.exists(prof)):
        print("  (b) live server: failed")
        return
    st = pstats.Stats(prof)
    hs = int(rate_p * seconds)
    print("  (b) live `tls-server` against s_time -reuse (%ds): %.0f/s, server CPU %.1f us per handshake "
          "(/proc; profiled: %.0f/s)" % (seconds, rate, cpu, rate_p))
    _print_split("whole process", profile_split(st), cpu, hs)
    if "--top" in sys.argv:
        st.sort_stats("tottime").print_stats(30)


def main(argv):
    seconds = 5
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 5
    if "--time" in argv:
        seconds = int(argv[argv.index("--time") + 1])
    if "--profile" in argv:
        d = tempfile.mkdtemp(prefix="mt-bench-")
        try:
            bench_profile(d, seconds)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        return 0
    if "--reuse-port" in argv:
        d = tempfile.mkdtemp(prefix="mt-bench-")
        try:
            clients = int(argv[argv.index("--clients") + 1]) if "--clients" in argv else 4
            bench_reuse_port(d, seconds, clients)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        return 0
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
        cert, key, _ = bench_resumed_rate(d, seconds, int(argv[argv.index("--clients") + 1]) if "--clients" in argv
                                          else 1)
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
