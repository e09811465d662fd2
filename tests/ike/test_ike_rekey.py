"""IKE SA rekeying (RFC 7296 sections 1.3.2, 2.18) and what it does to tickets (RFC 5723 sections 4.1, 6.2):
our initiator rekeying against our gateway, a responder-initiated rekey played by a scripted peer holding the
gateway's keys, and both directions against a real strongSwan charon (keys compared with its ike=4 log)."""

import os
import subprocess
import time

import pytest

import ikepeers
from ikepeers import pump
from microticket.ike import consts as C
from microticket.ike import payloads as P
from microticket.ike import rekey as R
from microticket.ike import dh
from microticket.ike import gateway as G
from microticket.ike import initiator as I
from microticket.ike import keys as K
from microticket.ike import message as M
from microticket.ike import udp
from microticket.ticket import KeyRing

from consts import IKE_PSK as PSK, IKE_T0 as T0, LOOPBACK_PEER as PEER


def kinds(ev):
    return [e[0] for e in ev]


def established(mode="value", **kw):
    gw = G.Gateway(PSK, "gw.example", ring=KeyRing.generate(T0), tickets=mode)
    ini = I.Initiator(PSK, "client.example", idr="gw.example", **kw)
    ev = pump(ini, gw, T0)
    assert ("established", "full") in ev and (ini.new_ticket is not None) == ini.want_ticket, ev
    gw.events()
    return gw, ini


# --- 2 + 3: our initiator rekeys, our gateway answers ------------------------------------------------

@pytest.mark.parametrize("mode", ["value", "reference"])
@pytest.mark.parametrize("group", [31, 14])
def test_initiator_rekey_against_gateway(mode, group):
    gw, ini = established(mode, group=group, groups=(group,))
    t_old = ini.new_ticket
    old_spis = (ini.spi_i, ini.spi_r)
    old_keys = ini.keys
    ini.rekey(T0 + 10)
    ev = pump(ini, gw, T0 + 10, start=False)
    assert kinds(ev) == ["rekeyed", "ticket_invalidated", "ticket", "old_sa_deleted"], ev
    assert ev[1] == ("ticket_invalidated", "rekeyed")
    assert ini.state == I.ESTABLISHED and ini.orig and ini._old is None
    assert ini.spi_i != old_spis[0] and ini.spi_r != old_spis[1]
    assert ini.keys.sk_d != old_keys.sk_d and ini.msg_id == 0
    gev = gw.events()
    assert ("rekeyed", old_spis[1].hex(), ini.spi_r.hex()) in gev and ("deleted", old_spis[1].hex()) in gev
    assert gw.sa_count() == 1
    # both ends hold the same new keys
    gsa = gw._sas[ini.spi_r]
    assert gsa.spi_i == ini.spi_i and gsa.keys.sk_d == ini.keys.sk_d and gsa.keys.sk_ei == ini.keys.sk_ei
    # the ticket came for the NEW SA
    t_new = ev[2][2]
    assert t_new["sk_d"] == ini.keys.sk_d.hex() and t_new is ini.new_ticket
    # the next INFORMATIONAL round trip works on the new SA
    ini.request_ticket(T0 + 20)
    ev = pump(ini, gw, T0 + 20, start=False)
    assert kinds(ev) == ["ticket"], ev
    # the old ticket is refused (revoked at the rekey), the new one resumes
    ini2 = I.Initiator(PSK, "client.example", ticket=t_old, group=group, groups=(group,))
    ev = pump(ini2, gw, T0 + 30)
    assert ev[0] == ("resume_failed", "TICKET_NACK") and ("established", "full") in ev, ev
    ini3 = I.Initiator(PSK, "client.example", ticket=t_new)
    ev = pump(ini3, gw, T0 + 40)
    assert ev[0] == ("established", "resumed"), ev


def test_initiator_rekey_without_ticket_request_and_twice():
    gw, ini = established(request_ticket=False)
    for i in range(2):
        ini.rekey(T0 + 10 + i)
        ev = pump(ini, gw, T0 + 10 + i, start=False)
        assert kinds(ev) == ["rekeyed", "ticket_invalidated", "old_sa_deleted"], ev
    ini.delete(T0 + 20)
    ev = pump(ini, gw, T0 + 20, start=False)
    assert ("closed", "deleted") in ev and gw.sa_count() == 0


def test_rekey_request_lost_and_retransmitted():
    gw, ini = established()
    ini.rekey(T0 + 10)
    ini.datagrams()  # lost
    ini.on_timer(ini.deadline())
    ev = pump(ini, gw, T0 + 12, start=False)
    assert kinds(ev) == ["rekeyed", "ticket_invalidated", "ticket", "old_sa_deleted"], ev


def test_rekey_needs_an_established_sa():
    ini = I.Initiator(PSK, "client.example")
    with pytest.raises(ValueError):
        ini.rekey(T0)


def test_gateway_refuses_child_sa_and_bad_rekey_proposals():
    gw, ini = established()
    child = P.sa_body([P.child_proposal(b"\x01\x02\x03\x04")])
    ke = P.ke_body(31, bytes(range(1, 33)))
    for inner, want in (
            ([(C.PT_SA, child), (C.PT_NONCE, bytes(32)), (C.PT_KE, ke)], C.NO_ADDITIONAL_SAS),
            ([(C.PT_SA, P.sa_body([P.ike_proposal((31,), b"")])), (C.PT_NONCE, bytes(32)), (C.PT_KE, ke)],
             C.NO_PROPOSAL_CHOSEN),  # an IKE proposal without an SPI
            ([(C.PT_SA, P.sa_body([P.ike_proposal((14,), bytes(8))])), (C.PT_NONCE, bytes(32)), (C.PT_KE, ke)],
             C.INVALID_KE_PAYLOAD)):
        raw = K.protect(ini.keys, True, ini.spi_i, ini.spi_r, C.CREATE_CHILD_SA, C.FLAG_I, ini.msg_id, inner,
                        ini.rng)
        (r,) = gw.handle(raw, T0 + 5, PEER)
        m = P.decode(r)
        m.payloads = K.unprotect(ini.keys, m, False)
        assert m.error_notify() == want
        ini.msg_id += 1
    assert gw.sa_count() == 1
    # and the SA still works
    ini.request_ticket(T0 + 6)
    assert kinds(pump(ini, gw, T0 + 6, start=False)) == ["ticket"]


# --- 1: the responder rekeys; a scripted peer with the gateway's keys plays it -------------------------

class RekeyingPeer:
    """The responder side of ``ini``'s IKE SA (keys taken from our gateway) initiating an IKE SA rekey."""

    def __init__(self, gw, ini, group=31):
        sa = gw._sas[ini.spi_r]
        self.spi_i, self.spi_r, self.keys = sa.spi_i, sa.spi_r, sa.keys
        self.group = group
        self.new_spi = os.urandom(8)
        self.ni = os.urandom(32)
        self.priv, self.pub = dh.keypair(group, os.urandom)
        self.next_id = 0  # our requests on the old SA

    def request(self, proposals=None, ke_group=None):
        props = proposals or [P.ike_proposal((self.group,), self.new_spi)]
        inner = [(C.PT_SA, P.sa_body(props)), (C.PT_NONCE, self.ni),
                 (C.PT_KE, P.ke_body(ke_group or self.group, self.pub))]
        raw = K.protect(self.keys, False, self.spi_i, self.spi_r, C.CREATE_CHILD_SA, 0, self.next_id, inner,
                        os.urandom)
        self.next_id += 1
        return raw

    def response(self, raw, old=True):
        m = P.decode(raw)
        m.payloads = K.unprotect(self.keys, m, True)
        assert m.is_response() and m.is_initiator() and (m.spi_i, m.spi_r) == (self.spi_i, self.spi_r)
        return m

    def derive(self, m):
        (num, proto, spi, trs), = P.parse_sa(m.get(C.PT_SA))
        g, kdata = P.parse_ke(m.get(C.PT_KE))
        nr = m.get(C.PT_NONCE)
        shared = dh.shared(g, self.priv, kdata)
        self.new = K.IkeSaKeys(R.skeyseed_rekey(self.keys.sk_d, shared, self.ni, nr), self.ni, nr,
                               self.new_spi, spi)
        self.new_spi_r = spi
        return self.new

    def delete_old(self):
        raw = K.protect(self.keys, False, self.spi_i, self.spi_r, C.INFORMATIONAL, 0, self.next_id,
                        [(C.PT_DELETE, P.delete_body(C.PROTO_IKE))], os.urandom)
        self.next_id += 1
        return raw


@pytest.mark.parametrize("group", [31, 14])
def test_responder_initiated_rekey(group):
    gw, ini = established(group=group, groups=(group,), debug_keys=True)
    ini.events()
    p = RekeyingPeer(gw, ini, group)
    req = p.request()
    ini.receive(req, T0 + 10)
    out = ini.datagrams()
    assert len(out) == 2, out  # the CREATE_CHILD_SA response (old SA), then our TICKET_REQUEST (new SA)
    m = p.response(out[0])
    assert m.exch == C.CREATE_CHILD_SA and m.error_notify() is None
    new = p.derive(m)
    ev = ini.events()
    assert kinds(ev) == ["keys", "rekeyed", "ticket_invalidated"], ev
    assert ev[1] == ("rekeyed", "peer") and ev[2] == ("ticket_invalidated", "rekeyed")
    assert ini.new_ticket is None
    # the new SA: the peer is its original initiator; keys agree with what the peer derived (SPIi = the peer's)
    assert (ini.spi_i, ini.spi_r, ini.orig) == (p.new_spi, p.new_spi_r, False)
    for name in ("sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr"):
        assert getattr(ini.keys, name) == getattr(new, name), name
    assert ev[0][1]["SK_d"] == new.sk_d.hex() and ev[0][1]["SPIi"] == p.new_spi.hex()
    # our ticket request on the NEW SA: Message ID 0, no I flag, protected with SK_er / SK_ar
    tm = P.decode(out[1])
    assert (tm.spi_i, tm.spi_r, tm.msg_id, tm.exch) == (p.new_spi, p.new_spi_r, 0, C.INFORMATIONAL)
    assert not tm.is_initiator() and not tm.is_response()
    tm.payloads = K.unprotect(new, tm, False)
    assert tm.notify(C.TICKET_REQUEST) is not None
    # a retransmission of the rekey request on the old SA gets the same answer, no second rekey
    ini.receive(req, T0 + 11)
    assert ini.datagrams() == [out[0]] and ini.events() == []
    # the peer answers the ticket request (no ticket: like strongSwan)
    resp = K.protect(new, True, p.new_spi, p.new_spi_r, C.INFORMATIONAL, C.FLAG_I | C.FLAG_R, 0, [], os.urandom)
    ini.receive(resp, T0 + 12)
    assert ini.events() == [("ticket_none",)] and ini.state == I.ESTABLISHED
    # the peer deletes the OLD SA: answered there, and NOT the end of our session
    ini.receive(p.delete_old(), T0 + 13)
    (d,) = ini.datagrams()
    dm = p.response(d)
    assert dm.exch == C.INFORMATIONAL and dm.payloads == []
    assert ini.events() == [("old_sa_deleted",)] and ini.state == I.ESTABLISHED
    # liveness from the peer on the new SA, and our own request on it
    live = K.protect(new, True, p.new_spi, p.new_spi_r, C.INFORMATIONAL, C.FLAG_I, 0, [], os.urandom)
    ini.receive(live, T0 + 14)
    (r,) = ini.datagrams()
    rm = P.decode(r)
    rm.payloads = K.unprotect(new, rm, False)
    assert rm.is_response() and not rm.is_initiator() and rm.msg_id == 0
    ini.delete(T0 + 15)
    (d,) = ini.datagrams()
    dm = P.decode(d)
    dm.payloads = K.unprotect(new, dm, False)
    assert dm.msg_id == 1 and dm.get(C.PT_DELETE) is not None
    ini.receive(K.protect(new, True, p.new_spi, p.new_spi_r, C.INFORMATIONAL, C.FLAG_I | C.FLAG_R, 1, [],
                          os.urandom), T0 + 16)
    assert ("closed", "deleted") in ini.events() and ini.state == I.CLOSED


def test_responder_rekey_then_our_rekey():
    """After the peer rekeyed (we are the new SA's responder) our own rekey runs on that SA."""
    gw, ini = established(request_ticket=False)
    p = RekeyingPeer(gw, ini)
    ini.receive(p.request(), T0 + 10)
    (r,) = ini.datagrams()  # no ticket request: request_ticket=False
    new = p.derive(p.response(r))
    ini.events()
    ini.rekey(T0 + 11)
    (q,) = ini.datagrams()
    qm = P.decode(q)
    qm.payloads = K.unprotect(new, qm, False)
    assert qm.exch == C.CREATE_CHILD_SA and not qm.is_initiator() and qm.msg_id == 0
    (num, proto, spi, trs), = P.parse_sa(qm.get(C.PT_SA))
    assert proto == C.PROTO_IKE and len(spi) == 8


def test_child_sa_request_from_responder_still_refused():
    gw, ini = established()
    p = RekeyingPeer(gw, ini)
    ini.receive(p.request([P.child_proposal(b"\x01\x02\x03\x04")]), T0 + 10)
    (r,) = ini.datagrams()
    m = p.response(r)
    assert m.error_notify() == C.NO_ADDITIONAL_SAS
    assert ini.events() == [] and ini.spi_r == p.spi_r and ini.orig


def test_responder_rekey_with_another_group_gets_invalid_ke():
    gw, ini = established(group=31, groups=(31,))
    p = RekeyingPeer(gw, ini, group=14)
    ini.receive(p.request([P.ike_proposal((14, 31), p.new_spi)]), T0 + 10)
    (r,) = ini.datagrams()
    m = p.response(r)
    assert m.error_notify() == C.INVALID_KE_PAYLOAD and m.notify(C.INVALID_KE_PAYLOAD) == b"\x00\x1f"
    # only a group we do not use: NO_PROPOSAL_CHOSEN
    ini.receive(p.request(), T0 + 11)
    (r,) = ini.datagrams()
    assert p.response(r).error_notify() == C.NO_PROPOSAL_CHOSEN
    assert ini.events() == [] and ini.orig


def test_responder_rekey_while_our_request_is_out_is_refused():
    gw, ini = established()
    ini.request_ticket(T0 + 5)
    ini.datagrams()
    p = RekeyingPeer(gw, ini)
    ini.receive(p.request(), T0 + 10)
    (r,) = ini.datagrams()
    assert p.response(r).error_notify() == C.TEMPORARY_FAILURE
    assert ini.orig and ini.state == I.INFO_SENT


def test_malformed_rekey_requests_are_dropped_not_fatal():
    gw, ini = established()
    p = RekeyingPeer(gw, ini)
    bad_sa = [(C.PT_SA, b"\x00\x00\x00\x03"), (C.PT_NONCE, bytes(32)), (C.PT_KE, P.ke_body(31, bytes(32)))]
    short_ke = [(C.PT_SA, P.sa_body([P.ike_proposal((31,), bytes(8))])), (C.PT_NONCE, bytes(32)),
                (C.PT_KE, P.ke_body(31, bytes(5)))]
    for inner in (bad_sa, short_ke):
        raw = K.protect(p.keys, False, p.spi_i, p.spi_r, C.CREATE_CHILD_SA, 0, 0, inner, os.urandom)
        ini.receive(raw, T0 + 10)
    assert ini.dropped == 2 and ini.datagrams() == [] and ini.state == I.ESTABLISHED and ini.orig
    # the SA is unharmed
    ini.request_ticket(T0 + 20)
    assert kinds(pump(ini, gw, T0 + 20, start=False)) == ["ticket"]


# --- against strongSwan charon -----------------------------------------------------------------------


def _pump_until(ini, s, cond, timeout=20):
    evs = []
    end = time.time() + timeout
    while not cond(evs) and time.time() < end:
        evs += [e for e in udp.pump(ini, s, 0.3, done=lambda x: False, start=False)
                if e != ("failed", "driver timeout")]
    return evs


def _check_rekeyed_keys_in_log(charon, keys):
    log = {}
    for label, value in ikepeers.charon_dumps(charon.log_text()):
        log.setdefault(label, []).append(value)
    assert bytes.fromhex(keys["SKEYSEED"]) in log["SKEYSEED"]
    for ours, theirs in (("SK_d", "Sk_d secret"), ("SK_ai", "Sk_ai secret"), ("SK_ar", "Sk_ar secret"),
                         ("SK_ei", "Sk_ei secret"), ("SK_er", "Sk_er secret"), ("SK_pi", "Sk_pi secret"),
                         ("SK_pr", "Sk_pr secret")):
        assert bytes.fromhex(keys[ours]) in log[theirs], ours


def _connect(charon):
    ini = I.Initiator(bytes.fromhex(ikepeers.PSK_HEX), "client.example", idr="gw.example", group=31,
                      groups=(31,), marker=True, debug_keys=True)
    s = udp.open_udp("127.0.0.1", charon.port)
    ev = udp.pump(ini, s, 20)
    assert ("established", "full") in ev and ("ticket_none",) in ev, ev
    return ini, s


@pytest.mark.interop
def test_charon_rekeys_our_initiator(charon):
    """`swanctl --rekey`: charon initiates the IKE SA rekey; we answer, switch, ask for a ticket on the new SA
    (charon ignores it: ticket_none) and take charon's Delete of the old SA without closing."""
    ini, s = _connect(charon)
    try:
        old_i, old_r = ini.spi_i, ini.spi_r
        sa = charon.sa_info(old_i.hex())
        term = subprocess.Popen([ikepeers.SWANCTL, "--rekey", "--ike-id", sa["uniqueid"], "--uri",
                                 "unix://" + charon.dir + "/charon.vici"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        ev = _pump_until(ini, s, lambda e: ("old_sa_deleted",) in e and ("ticket_none",) in e)
        out = term.communicate(timeout=20)[0]
        assert "rekey completed successfully" in out, out
        k = kinds(ev)
        assert ("rekeyed", "peer") in ev and ("ticket_invalidated", "rekeyed") in ev, ev
        assert k.index("rekeyed") < k.index("ticket_invalidated") < k.index("ticket_none"), ev
        assert "closed" not in k and "failed" not in k, ev
        assert ini.state == I.ESTABLISHED and not ini.orig
        assert ini.spi_i not in (old_i, old_r) and ini.spi_r not in (old_i, old_r)
        # charon: the new SA (charon's SPI as SPIi) is ESTABLISHED, the old one is gone
        new = charon.sa_info(ini.spi_i.hex())
        assert new is not None and new["state"] == "ESTABLISHED" and new["responder-spi"] == ini.spi_r.hex()
        assert charon.sa_info(old_i.hex()) is None
        _check_rekeyed_keys_in_log(charon, [e for e in ev if e[0] == "keys"][-1][1])
        assert "IKE_SA mt[%s] rekeyed" % new["uniqueid"] in charon.log_text()
        # the next INFORMATIONAL round trip works on the new SA, then our Delete closes it
        ini.request_ticket(udp.now())
        assert udp.pump(ini, s, 20, start=False) == [("ticket_none",)]
        ini.delete(udp.now())
        ev = udp.pump(ini, s, 20, start=False)
        assert ("closed", "deleted") in ev
    finally:
        s.close()


@pytest.mark.interop
def test_our_rekey_against_charon(charon):
    ini, s = _connect(charon)
    try:
        old_i = ini.spi_i
        ini.rekey(udp.now())
        ev = udp.pump(ini, s, 20, start=False)
        assert [x for x in kinds(ev) if x != "keys"] == ["rekeyed", "ticket_invalidated", "ticket_none",
                                                         "old_sa_deleted"], ev
        assert ini.state == I.ESTABLISHED and ini.orig and ini._old is None
        new = charon.sa_info(ini.spi_i.hex())
        assert new is not None and new["state"] == "ESTABLISHED" and new["responder-spi"] == ini.spi_r.hex()
        assert charon.sa_info(old_i.hex()) is None
        _check_rekeyed_keys_in_log(charon, [e for e in ev if e[0] == "keys"][-1][1])
        ini.request_ticket(udp.now())
        assert udp.pump(ini, s, 20, start=False) == [("ticket_none",)]
        # rekey once more, then let charon rekey the SA we made, then delete
        ini.rekey(udp.now())
        ev = udp.pump(ini, s, 20, start=False)
        assert "old_sa_deleted" in kinds(ev), ev
        ini.delete(udp.now())
        assert ("closed", "deleted") in udp.pump(ini, s, 20, start=False)
    finally:
        s.close()


# --- under MicroPython -------------------------------------------------------------------------------

MP_SCRIPT = "PSK = %r\nT0 = %d\n" % (PSK, T0) + r"""
from microticket import crypto
from microticket.ike import initiator as I, gateway as G, message as M, consts as C, keys as K, dh
from microticket.ike import payloads as P, rekey as R
from microticket.ticket import KeyRing
def pump(ini, gw, now, start=True):
    if start:
        ini.start(now)
    ev = []
    for _ in range(20):
        ds = ini.datagrams()
        if not ds:
            break
        for d in ds:
            for r in gw.handle(d, now, b"p"):
                ini.receive(r, now)
    return ini.events()
for mode in ("value", "reference"):
    gw = G.Gateway(PSK, "gw.example", ring=KeyRing.generate(T0), tickets=mode)
    a = I.Initiator(PSK, "client.example", idr="gw.example", group=31, groups=(31,))
    pump(a, gw, T0)
    t_old = a.new_ticket
    a.rekey(T0 + 1)
    ev = pump(a, gw, T0 + 1, False)
    assert [e[0] for e in ev] == ["rekeyed", "ticket_invalidated", "ticket", "old_sa_deleted"], ev
    b = I.Initiator(PSK, "client.example", ticket=a.new_ticket)
    assert pump(b, gw, T0 + 2)[0] == ("established", "resumed")
    c = I.Initiator(PSK, "client.example", ticket=t_old, group=31, groups=(31,))
    assert pump(c, gw, T0 + 3)[0] == ("resume_failed", "TICKET_NACK")
    print(mode, "ok")
# the responder rekeys (its keys taken from the gateway), with a KE group we do not use first
gw = G.Gateway(PSK, "gw.example", ring=KeyRing.generate(T0))
a = I.Initiator(PSK, "client.example", idr="gw.example", group=31, groups=(31,))
pump(a, gw, T0)
a.events()
sa = gw._sas[a.spi_r]
spi = crypto.urandom(8)
ni = crypto.urandom(32)
for g in (14, 31):
    priv, pub = dh.keypair(g, crypto.urandom)
    inner = [(C.PT_SA, P.sa_body([P.ike_proposal((g, 31), spi)])), (C.PT_NONCE, ni), (C.PT_KE, P.ke_body(g, pub))]
    a.receive(K.protect(sa.keys, False, sa.spi_i, sa.spi_r, C.CREATE_CHILD_SA, 0, g // 31, inner, crypto.urandom), T0)
out = a.datagrams()
m = P.decode(out[0])
m.payloads = K.unprotect(sa.keys, m, True)
assert m.error_notify() == C.INVALID_KE_PAYLOAD and m.notify(C.INVALID_KE_PAYLOAD) == b"\x00\x1f"
m = P.decode(out[1])
m.payloads = K.unprotect(sa.keys, m, True)
props = P.parse_sa(m.get(C.PT_SA))
kg, kd = P.parse_ke(m.get(C.PT_KE))
nr = m.get(C.PT_NONCE)
new = K.IkeSaKeys(R.skeyseed_rekey(sa.keys.sk_d, dh.shared(31, priv, kd), ni, nr), ni, nr, spi, props[0][2])
assert a.keys.sk_d == new.sk_d and a.keys.sk_er == new.sk_er and not a.orig and a.spi_i == spi
ev = a.events()
assert ev == [("rekeyed", "peer"), ("ticket_invalidated", "rekeyed")], ev
t = P.decode(out[2])
t.payloads = K.unprotect(new, t, False)
assert t.notify(C.TICKET_REQUEST) is not None
print("peer rekey ok")
"""


@pytest.mark.micropython
@pytest.mark.parametrize("mpy", [False, True])
def test_rekey_under_micropython(mp, mpy):
    r = mp.run_mp(MP_SCRIPT, mpy=mpy, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "value ok" in r.stdout and "reference ok" in r.stdout and "peer rekey ok" in r.stdout
