"""The IKEv2 engines under the real MicroPython interpreter (source and .mpy): a full exchange, two
resumptions, a reused ticket, bad input; nothing but microticket.errors ever escapes."""

import os

import pytest

pytestmark = [pytest.mark.micropython]

SCRIPT = r"""
from microticket.ike import initiator as I, gateway as G, message as M, consts as C
from microticket.ticket import KeyRing
PSK = b"0123456789abcdef"
T0 = 1800000000
seen = []
def pump(ini, gw, now):
    ini.start(now)
    for _ in range(20):
        ds = ini.datagrams()
        if not ds:
            break
        for d in ds:
            seen.append(d)
            for r in gw.handle(d, now, b"p"):
                seen.append(r)
                ini.receive(r, now)
    return ini.events()
for mode in ("value", "reference"):
    gw = G.Gateway(PSK, "gw.example", ring=KeyRing.generate(T0), tickets=mode, cookie=True, auth_mode="message")
    a = I.Initiator(PSK, "client.example", idr="gw.example", group=GROUP, groups=(GROUP,))
    ev = pump(a, gw, T0)
    assert ev[0] == ("established", "full") and ev[1][0] == "ticket", ev
    b = I.Initiator(PSK, "client.example", ticket=a.new_ticket, auth_mode="message")
    ev = pump(b, gw, T0 + 1)
    assert ev[0] == ("established", "resumed"), ev
    c = I.Initiator(PSK, "client.example", ticket=b.new_ticket, auth_mode="message")
    assert pump(c, gw, T0 + 2)[0] == ("established", "resumed")
    d = I.Initiator(PSK, "client.example", ticket=b.new_ticket, auth_mode="message")
    ev = pump(d, gw, T0 + 3)
    assert ev[0] == ("resume_rejected",) and ev[1] == ("established", "full"), ev
    print(mode, "ok")
# bad input: every truncation and a few bit flips of everything seen, to both engines
n = 0
for d in seen:
    for cut in range(0, len(d), 3):
        g = G.Gateway(PSK, "gw.example", ring=KeyRing.generate(T0))
        g.handle(d[:cut], T0, b"p")
        n += 1
    for i in range(0, len(d), 11):
        bad = bytearray(d)
        bad[i] ^= 0x41
        g = G.Gateway(PSK, "gw.example", ring=KeyRing.generate(T0))
        g.handle(bytes(bad), T0, b"p")
        x = I.Initiator(PSK, "client.example", group=31, groups=(31,))
        x.start(T0)
        x.receive(bytes(bad), T0)
        n += 1
print("bad inputs", n)
"""


@pytest.mark.parametrize("mpy", [False, True])
@pytest.mark.parametrize("group", [14, 31])
def test_engines_under_micropython(mp, mpy, group):
    r = mp.run_mp(SCRIPT.replace("GROUP", str(group)), mpy=mpy, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "value ok" in r.stdout and "reference ok" in r.stdout and "bad inputs" in r.stdout


# --- heap pin: the smallest -X heapsize for a resumption (.mpy modules) ------------------------------------
# Measured on the 64-bit unix port (MicroPython 1.29 preview), lib/ as .mpy, RESUME_PROGRAM run with -c (no
# file reader), every heap from 44800 to 50176 bytes tried in 128-byte steps: the smallest that works is ~45 KB
# (44928-45056 over runs), but 46080 (sometimes also 45952) fails again (fragmentation: success is not monotonic
# in the heap size), and from 46208 up every size works. Before the resumption-path split the same program needed ~73 KB (73088 by bench_ike's search).
# The pin is the monotonic value plus a small margin; the test fails if a change makes a resumption need more.
RESUME_HEAP_MEASURED = 46208
RESUME_HEAP_PIN = RESUME_HEAP_MEASURED + 1024

RESUME_PROGRAM = r"""
import sys, json
from microticket.ike import initiator as I, udp
rec = json.loads(open(sys.argv[2]).read())
ini = I.Initiator(bytes.fromhex("%s"), "client.example", ticket=rec)
ev = udp.run_initiator(ini, "127.0.0.1", int(sys.argv[1]), timeout=20)
print("resumed" if ("established", "resumed") in ev and "microticket.ike.dh" not in sys.modules else "failed")
"""


def _resume_with_heap(mp, gw, psk, work, heap):
    import json
    import subprocess
    from microticket.ike import initiator as I, udp
    ini = I.Initiator(bytes.fromhex(psk), "client.example", idr="gw.example", group=31, groups=(31,))
    udp.run_initiator(ini, "127.0.0.1", gw.port, timeout=20)
    rec = os.path.join(work, "rec.json")
    with open(rec, "w") as f:
        json.dump(ini.new_ticket, f)
    env = dict(os.environ)
    env["MICROPYPATH"] = mp.mpy_dir() + ":.frozen"
    return subprocess.run([mp.micropython_bin(), "-X", "heapsize=%d" % heap, "-c", RESUME_PROGRAM % psk,
                           str(gw.port), rec], capture_output=True, text=True, timeout=60, env=env)


def test_resumption_fits_the_pinned_heap_and_loads_no_full_exchange_code(mp, tmp_path):
    import ikepeers
    psk = "30313233343536373839616263646566"
    gw = ikepeers.GatewayProcess(["--psk", psk, "--id", "gw.example"])
    gw.start()
    try:
        r = _resume_with_heap(mp, gw, psk, str(tmp_path), RESUME_HEAP_PIN)
        assert r.stdout.strip() == "resumed", r.stdout + r.stderr
        # and the pin is tight: well below it (the pre-split need was ~73 KB) a resumption runs out of heap
        r = _resume_with_heap(mp, gw, psk, str(tmp_path), RESUME_HEAP_MEASURED - 4096)
        assert r.stdout.strip() != "resumed"
    finally:
        gw.stop()
