"""Floods (issue 14, item 4): COOKIEs turn on by themselves when half-open SAs pass a threshold (RFC 7296
section 2.6), the half-open table is bounded and expires, a replayed IKE_SESSION_RESUME makes at most one
half-open SA per ticket; and over loopback, a flood of IKE_SA_INIT requests at ~1,600/s while real
initiators (ours, on both runtimes) establish."""

import os
import socket
import subprocess
import threading
import time

import pytest

import ikepeers
from ikepeers import pump
from microticket.ike import consts as C
from microticket.ike import gateway as G
from microticket.ike import initiator as I
from microticket.ike import message as M
from microticket.ticket import KeyRing

from consts import IKE_PSK as PSK, IKE_T0 as T0


def make_gw(mode="value", **kw):
    return G.Gateway(PSK, "gw.example", ring=KeyRing.generate(T0), tickets=mode, **kw)


def first_message(**kw):
    x = I.Initiator(PSK, "client.example", **kw)
    x.start(T0)
    return x.datagrams()[0]


def notify_types(resp):
    m = M.decode_header(resp)
    M.decode_payloads(m)
    return [t for t, crit, body in m.payloads if t == C.PT_NOTIFY] and [
        (body[2] << 8) | body[3] for t, crit, body in m.payloads if t == C.PT_NOTIFY]


def test_cookies_turn_on_at_the_threshold_and_off_when_half_open_sas_expire():
    gw = make_gw(cookie_threshold=3)
    for i in range(3):  # first messages that never continue: half-open SAs, no COOKIE asked for yet
        (r,) = gw.handle(first_message(), T0, b"flood%d" % i)
        assert C.COOKIE not in notify_types(r)
    assert gw.sa_count() == 3
    for i in range(3, 50):  # at the threshold: COOKIEs, and no more state
        (r,) = gw.handle(first_message(), T0, b"flood%d" % i)
        assert notify_types(r) == [C.COOKIE]
    assert gw.sa_count() == 3
    ev = gw.events()
    assert ("cookies", "on", 3) in ev and ("cookie_sent",) not in ev  # one event, not one per datagram
    # a real initiator answers the COOKIE and gets through
    ini = I.Initiator(PSK, "client.example", idr="gw.example")
    ev = pump(ini, gw, T0 + 1)
    assert ev[0] == ("established", "full") and ini._cookie_tries == 1  # (it answered one COOKIE)
    assert gw.sa_count() == 4
    # half-open SAs expire (30 s): COOKIEs go off again, the established SA stays
    (r,) = gw.handle(first_message(), T0 + 31, b"late")
    assert C.COOKIE not in notify_types(r)
    ev = gw.events()
    assert [e[0] for e in ev].count("half_open_expired") == 3 and ("cookies", "off", 0) in ev, ev
    assert gw.sa_count() == 2
    ini.request_ticket(T0 + 32)
    assert pump(ini, gw, T0 + 32, start=False)[0][0] == "ticket"


def test_half_open_table_is_bounded_without_cookies():
    gw = make_gw(cookie=False, max_half=5)
    ini, ev = None, None
    ini = I.Initiator(PSK, "client.example", idr="gw.example")
    assert pump(ini, gw, T0)[0] == ("established", "full")
    for i in range(40):
        gw.handle(first_message(), T0, b"flood%d" % i)
        assert len(gw._half) <= 5
    assert gw.sa_count() == 6  # 5 half-open (the newest) + the established SA
    ini.request_ticket(T0 + 1)
    assert pump(ini, gw, T0 + 1, start=False)[0][0] == "ticket"
    # and a real initiator still gets through: its half-open SA is the newest
    b = I.Initiator(PSK, "client.example", idr="gw.example")
    assert pump(b, gw, T0 + 2)[0] == ("established", "full")


@pytest.mark.parametrize("mode", ["value", "reference"])
def test_replayed_resume_makes_one_half_open_sa_per_ticket(mode):
    gw = make_gw(mode)
    ini = I.Initiator(PSK, "client.example", idr="gw.example")
    assert pump(ini, gw, T0)[0] == ("established", "full")
    b = I.Initiator(PSK, "client.example", ticket=ini.new_ticket)
    b.start(T0 + 1)
    (resume,) = b.datagrams()
    gw.events()
    # the captured IKE_SESSION_RESUME replayed from many addresses, and with other SPIi values
    ev = []
    for i in range(100):
        d = bytearray(resume)
        if i % 2:
            d[0:8] = os.urandom(8)  # SPIi
        gw.handle(bytes(d), T0 + 1, b"replay%d" % i)
        assert len(gw._half) == 1 and len(gw._inflight) == 1
        ev += gw.events()
    assert gw.sa_count() == 2  # the established SA and ONE half-open SA
    assert [e[0] for e in ev].count("resume_replaced") == 99, ev
    # the ticket is not used up by replays: the latest resumption with it wins, here its owner's
    c = I.Initiator(PSK, "client.example", ticket=ini.new_ticket)
    ev = pump(c, gw, T0 + 2)
    assert ev[0] == ("established", "resumed"), ev
    assert gw._inflight == {} and len(gw._half) == 0
    # once used, a replay is refused with no state
    (r,) = gw.handle(resume, T0 + 3, b"replay-late")
    assert notify_types(r) == [C.TICKET_NACK] and len(gw._half) == 0


# --- over loopback: a flood of IKE_SA_INIT at ~1,600/s while real initiators establish ----------------------

FLOOD_RATE = 1600  # datagrams per second (the rate of the report)
FLOOD_MAX = 24000  # datagrams at most (15 s)


def _flood(port, stop, stats):
    """IKE_SA_INIT requests (a new SPIi each, one source) at FLOOD_RATE until stop is set or FLOOD_MAX."""
    tmpl = bytearray(first_message())
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    t0 = time.time()
    n = 0
    try:
        while n < FLOOD_MAX and not stop.is_set():
            for _ in range(16):
                tmpl[0:8] = os.urandom(8)
                try:
                    s.send(tmpl)
                except OSError:
                    pass
                n += 1
            ahead = t0 + n / FLOOD_RATE - time.time()
            if ahead > 0:
                time.sleep(ahead)
    finally:
        stats["sent"] = n
        stats["seconds"] = time.time() - t0
        s.close()


@pytest.mark.micropython
def test_flood_while_real_initiators_establish(tmp_path, mp):
    gw = ikepeers.GatewayProcess(["--psk", PSK.hex(), "--id", "gw.example"])
    gw.start()
    stop = threading.Event()
    stats = {}
    th = threading.Thread(target=_flood, args=(gw.port, stop, stats))
    th.start()
    try:
        time.sleep(1.0)  # the flood is on
        procs = []
        for i, runtime in enumerate(("cpython", "cpython", "micropython", "micropython")):
            cmd, env = ikepeers._cmd_env(runtime)
            args = ["127.0.0.1", str(gw.port), "--psk", PSK.hex(), "--id", "client%d.example" % i, "--remote-id",
                    "gw.example", "--store", str(tmp_path / ("s%d.json" % i)), "--timeout", "12"]
            procs.append(subprocess.Popen(cmd + [ikepeers.cli_script("ike_initiate")] + args, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outs = [p.communicate(timeout=60)[0] for p in procs]
        codes = [p.returncode for p in procs]
        flooding = not stop.is_set() and th.is_alive()  # still on when the last initiator finished
    finally:
        stop.set()
        th.join(30)
        events = gw.stop()
    rate = stats["sent"] / stats["seconds"]
    print("flood: %d IKE_SA_INIT in %.1f s (%.0f/s)" % (stats["sent"], stats["seconds"], rate))
    assert flooding and rate >= 0.8 * FLOOD_RATE, (stats, rate)
    assert codes == [0, 0, 0, 0] and all(o.startswith("established: full\n") for o in outs), outs
    assert any(l.startswith("event: cookies on") for l in events), events[:20]
    assert sum(1 for l in events if l.startswith("event: established full")) == 4
