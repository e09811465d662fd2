"""IKEv2 initiator cost on MicroPython: full exchange (DH group 14, group 31) vs RFC 5723 resumption; the
gateway's resumptions per second (--rate).

    python tools/bench_ike.py [--rounds N] [--no-heap] [--json]
    python tools/bench_ike.py --rate [--seconds S] [--clients K] [--gateways [HOST:]PORT,... | --redis N]

Starts our gateway (CPython, ``ike-gateway``) on a free loopback port, then runs the initiator under the
MicroPython unix port over real UDP and reports, per kind of exchange:
  - initiator CPU: time spent inside the engine (start/receive/on_timer), not waiting on the network,
    median of N rounds (time.ticks_us);
  - bytes on the wire: IKE datagrams sent + received by the initiator (UDP payload, marker included);
  - datagrams exchanged.
Then the smallest ``-X heapsize`` with which a resumption still succeeds, binary-searched with lib/ compiled
to .mpy (tests/mpharness.mpy_dir()), for a minimal resumption program (run with ``-c``: the unix port's file
reader would keep ~1.8 KB of its own) and for the ``ike-initiate`` CLI (run from a script file, as
tests/ikepeers.py does). Success is not strictly monotonic in the heap size (fragmentation): a binary search
can land ~1 KB below the size from which every heap works (tests/ike/test_ike_micropython.py pins that one).
Every process it starts is stopped by PID.

--rate: resumptions per second that gateways serve. K CPython initiator processes (default 4) each make
one full exchange, then resume in a loop for S seconds (default 5), each resumption from the ticket the
previous one got (N(TICKET_REQUEST) in every IKE_AUTH, by value), the gateways taken in turn. Without
--gateways it starts one `ike-gateway` (CPython) and prints its CPU per resumption (/proc) as well; with
--redis N it starts a redis-server and N gateways sharing it (--keys redis://...); with
--gateways it drives gateways already running (e.g. three sharing their ticket state through Redis: a
ticket issued at one gateway is then resumed at the next). The initiators run on the same machine: their
CPU counts against the cores the gateways have. Failures (a resumption refused, a timeout) are counted
and printed, never retried.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.join(ROOT, "ports", "cpython"), os.path.join(ROOT, "lib")]

import ikepeers  # noqa: E402
import procs  # noqa: E402 (tools/)
import mpharness  # noqa: E402

PSK = "30313233343536373839616263646566"

_MP_BENCH = r"""
import sys, time, json
from microticket.ike import initiator as I, udp
PORT = int(sys.argv[1]); ROUNDS = int(sys.argv[2])
PSK = bytes.fromhex("%s")

def run(ini):
    st = {"us": 0, "out": 0, "in": 0, "n": 0}
    def timed(f):
        def g(*a):
            t = time.ticks_us()
            r = f(*a)
            st["us"] += time.ticks_diff(time.ticks_us(), t)
            return r
        return g
    dg = ini.datagrams
    def datagrams():
        out = dg()
        for d in out:
            st["out"] += len(d); st["n"] += 1
        return out
    rcv = timed(ini.receive)
    def receive(d, now):
        st["in"] += len(d); st["n"] += 1
        rcv(d, now)
    ini.start = timed(ini.start); ini.on_timer = timed(ini.on_timer)
    ini.receive = receive; ini.datagrams = datagrams
    ev = udp.run_initiator(ini, "127.0.0.1", PORT, timeout=30)
    assert ("established", "resumed" if ini.resumed else "full") in ev, ev
    return st

res = {"full14": [], "full31": [], "resume": []}
for i in range(ROUNDS):
    res["full14"].append(run(I.Initiator(PSK, "client.example", idr="gw.example", group=14, groups=(14,))))
    a = I.Initiator(PSK, "client.example", idr="gw.example", group=31, groups=(31,))
    res["full31"].append(run(a))
    b = I.Initiator(PSK, "client.example", ticket=a.new_ticket)
    res["resume"].append(run(b))
print(json.dumps(res))
""" % PSK

_MP_RESUME_MIN = r"""
import sys, json
from microticket.ike import initiator as I, udp
rec = json.loads(open(sys.argv[2]).read())
ini = I.Initiator(bytes.fromhex("%s"), "client.example", ticket=rec)
ev = udp.run_initiator(ini, "127.0.0.1", int(sys.argv[1]), timeout=20)
print("resumed" if ("established", "resumed") in ev else "failed %%r" %% (ev,))
""" % PSK


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def _fresh_ticket(port, path):
    """A new ticket record from a full exchange made on CPython (in this process)."""
    from microticket.ike import initiator as I, udp
    ini = I.Initiator(bytes.fromhex(PSK), "client.example", idr="gw.example", group=31, groups=(31,))
    udp.run_initiator(ini, "127.0.0.1", port, timeout=20)
    with open(path, "w") as f:
        json.dump(ini.new_ticket, f)
    return ini.new_ticket


def _heap_search(ok, lo=2048, hi=131072, step=256):
    """Smallest heap in [lo, hi] (multiple of step) for which ok(heap) holds, assuming monotonicity."""
    if not ok(hi):
        return None
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


_RATE_CLIENT = r"""
import json, sys, time
from microticket.ike import initiator as I, udp
PSK = bytes.fromhex("PSKHEX")
gws = [(h, int(p)) for h, p in (g.rsplit(":", 1) for g in sys.argv[1].split(","))]
seconds = float(sys.argv[2])
first = int(sys.argv[3])  # which gateway this client starts with (clients spread over the gateways)
# an identity of its own: a gateway replaces the IKE SA of an identity when another one is established
# with it (the other client's exchange in flight would be dropped: "unknown IKE SA")
idi = "client%d.example" % first
ok = nack = lost = 0
full = I.Initiator(PSK, idi, idr="gw.example", group=31, groups=(31,))
ev = udp.run_initiator(full, gws[first % len(gws)][0], gws[first % len(gws)][1], timeout=20)
ticket = full.new_ticket
if ticket is None:
    print(json.dumps({"ok": 0, "nack": 0, "lost": 1, "s": 0.0, "why": repr(ev)}))
    raise SystemExit(0)
t0 = time.time()
i = first + 1
why = None
while time.time() - t0 < seconds:
    h, p = gws[i % len(gws)]
    i += 1
    ini = I.Initiator(PSK, idi, ticket=ticket)
    ev = udp.run_initiator(ini, h, p, timeout=5)
    if ("established", "resumed") in ev and ini.new_ticket is not None:
        ok += 1
    elif [e for e in ev if e[0] == "resume_failed"]:
        nack += 1  # refused (TICKET_NACK): the initiator fell back to a full exchange, which got a ticket
        why = why or repr([e for e in ev if e[0] == "resume_failed"])
    else:
        lost += 1
        why = repr(ev)[-300:]
    ticket = ini.new_ticket
    if ticket is None:  # a new one from a full exchange (not counted)
        ini = I.Initiator(PSK, idi, idr="gw.example", group=31, groups=(31,))
        udp.run_initiator(ini, h, p, timeout=20)
        ticket = ini.new_ticket
        if ticket is None:
            break
print(json.dumps({"ok": ok, "nack": nack, "lost": lost, "s": time.time() - t0, "why": why}))
""".replace("PSKHEX", PSK)


def bench_rate(argv):
    """Resumptions per second served by one gateway we start, or by the gateways given (--gateways)."""
    seconds = float(argv[argv.index("--seconds") + 1]) if "--seconds" in argv else 5.0
    clients = int(argv[argv.index("--clients") + 1]) if "--clients" in argv else 4
    gw = None
    fleet = []  # --redis N: N gateways sharing a redis-server we start (keys, one-time-use list)
    rds = None
    work = tempfile.mkdtemp(prefix="mt-benchike-")
    if "--gateways" in argv:
        gws = [g if ":" in g else "127.0.0.1:" + g for g in argv[argv.index("--gateways") + 1].split(",")]
    elif "--redis" in argv:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        import redispeers
        rds = redispeers.start_redis(work)
        url = "redis://127.0.0.1:%d/0?prefix=bench:" % rds.port
        for _ in range(int(argv[argv.index("--redis") + 1])):
            fleet.append(ikepeers.GatewayProcess(["--psk", PSK, "--id", "gw.example", "--keys", url]).start())
        gws = ["127.0.0.1:%d" % g.port for g in fleet]
    else:
        gw = ikepeers.GatewayProcess(["--psk", PSK, "--id", "gw.example"])
        gw.start()
        gws = ["127.0.0.1:%d" % gw.port]
    try:
        fn = os.path.join(work, "rate.py")
        with open(fn, "w") as f:
            f.write(_RATE_CLIENT)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.join(ROOT, "lib") + os.pathsep + os.path.join(ROOT, "ports", "cpython")
        cpu0 = procs.cpu_seconds(gw.peer.pid) if gw else None
        t = time.time()
        ps = [subprocess.Popen([sys.executable, fn, ",".join(gws), str(seconds), str(k)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env) for k in range(clients)]
        res = []
        for p in ps:
            o, e = p.communicate(timeout=seconds * 4 + 120)
            try:
                res.append(json.loads(o.strip().splitlines()[-1]))
            except (ValueError, IndexError):
                res.append({"ok": 0, "nack": 0, "lost": 1, "s": 0.0, "why": (o + e)[-300:]})
        wall = time.time() - t
        cpu1 = procs.cpu_seconds(gw.peer.pid) if gw else None
    finally:
        if gw:
            gw.stop()
        for g in fleet:
            g.stop()
        if rds is not None:
            rds.stop()
        shutil.rmtree(work, ignore_errors=True)
    ok = sum(r["ok"] for r in res)
    nack = sum(r["nack"] for r in res)
    lost = sum(r["lost"] for r in res)
    rate = sum(r["ok"] / r["s"] for r in res if r["s"])  # each client's rate, summed
    print("IKEv2 resumptions/s (RFC 5723, ticket by value, a new ticket each time), %d CPython initiator "
          "processes, %.0f s, %d cores, gateway%s %s%s" % (clients, seconds, os.cpu_count(),
                                                  "s" if len(gws) > 1 else "", ",".join(gws),
                                                  " sharing a redis-server (each resumption at the next gateway)"
                                                  if fleet else ""))
    print("  %8.1f resumptions/s   (%d resumed; %d refused with TICKET_NACK, then a full exchange; %d failed "
          "otherwise: no answer in 5 s)" % (rate, ok, nack, lost))
    if cpu0 is not None and cpu1 is not None and ok:
        print("  the gateway's CPU: %.0f us per resumption (/proc; %.2f s in %.1f s)"
              % ((cpu1 - cpu0) / ok * 1e6, cpu1 - cpu0, wall))
    for r in res:
        if r.get("why"):
            print("  a failure: %s" % r["why"])
            break
    return rate


def main(argv):
    if "--rate" in argv:
        bench_rate(argv)
        return 0
    rounds = 5
    if "--rounds" in argv:
        rounds = int(argv[argv.index("--rounds") + 1])
    gw = ikepeers.GatewayProcess(["--psk", PSK, "--id", "gw.example"])
    gw.start()
    work = tempfile.mkdtemp(prefix="mt-benchike-")
    out = {}
    try:
        fn = os.path.join(work, "bench.py")
        with open(fn, "w") as f:
            f.write(_MP_BENCH)
        env = dict(os.environ)
        env["MICROPYPATH"] = mpharness.mpy_dir() + ":.frozen"
        r = subprocess.run([mpharness.micropython_bin(), fn, str(gw.port), str(rounds)], capture_output=True,
                           text=True, timeout=600, env=env)
        if r.returncode != 0:
            raise SystemExit("bench failed: " + r.stdout + r.stderr)
        res = json.loads(r.stdout.strip().splitlines()[-1])
        for kind in ("full14", "full31", "resume"):
            rs = res[kind]
            out[kind] = {"cpu_ms": round(_median([x["us"] for x in rs]) / 1000.0, 2),
                         "bytes_out": rs[0]["out"], "bytes_in": rs[0]["in"],
                         "bytes_total": rs[0]["out"] + rs[0]["in"], "datagrams": rs[0]["n"]}
        if "--no-heap" not in argv:
            rec = os.path.join(work, "rec.json")
            store = os.path.join(work, "store.json")

            def ok_min(heap):
                _fresh_ticket(gw.port, rec)
                p = subprocess.run([mpharness.micropython_bin(), "-X", "heapsize=%d" % heap, "-c", _MP_RESUME_MIN,
                                    str(gw.port), rec], capture_output=True, text=True, timeout=60, env=env)
                return p.stdout.strip() == "resumed"

            def ok_cli(heap):
                from microticket.ike.ticketstore import TicketStore
                TicketStore(store).put("127.0.0.1:%d" % gw.port, _fresh_ticket(gw.port, rec))
                p = ikepeers.run_initiator(["127.0.0.1", str(gw.port), "--psk", PSK, "--id", "client.example",
                                            "--remote-id", "gw.example", "--store", store],
                                           runtime="micropython", heapsize=heap, path=mpharness.mpy_dir())
                return p.stdout.startswith("established: resumed")

            out["min_heap_resume_program"] = _heap_search(ok_min)
            out["min_heap_resume_cli"] = _heap_search(ok_cli)
    finally:
        gw.stop()
    if "--json" in argv:
        print(json.dumps(out))
    else:
        print("IKEv2 initiator on MicroPython (%s), .mpy, median of %d rounds" % (mpharness.micropython_bin(), rounds))
        print("%-8s %10s %10s %10s %10s %5s" % ("exchange", "cpu ms", "bytes out", "bytes in", "total", "dgrams"))
        for kind in ("full14", "full31", "resume"):
            o = out[kind]
            print("%-8s %10.2f %10d %10d %10d %5d" % (kind, o["cpu_ms"], o["bytes_out"], o["bytes_in"],
                                                      o["bytes_total"], o["datagrams"]))
        if "min_heap_resume_program" in out:
            print("smallest -X heapsize for a resumption: minimal program %s bytes, ike-initiate CLI %s bytes"
                  % (out["min_heap_resume_program"], out["min_heap_resume_cli"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
