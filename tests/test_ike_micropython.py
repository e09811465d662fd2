"""The IKEv2 engines under the real MicroPython interpreter (source and .mpy): a full exchange, two
resumptions, a reused ticket, bad input; nothing but microticket.errors ever escapes."""

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
