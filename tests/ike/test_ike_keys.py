"""Key schedule known answers, recomputed here independently with CPython's hmac/hashlib: RFC 7296 section 2.13-2.15
(full exchange; charon's log is the other witness in test_ike_strongswan.py) and RFC 5723 section 5.1 / 4.3.3
(resumption: SKEYSEED = prf(SK_d_old, "Resumption" | Ni | Nr), both AUTH readings)."""

import hashlib
import hmac

import pytest

from microticket.ike import payloads as P
from microticket.ike import keys_full as F
from microticket.ike import keydump
from microticket.ike import consts as C
from microticket.ike import gateway as G
from microticket.ike import initiator as I
from microticket.ike import keys as K
from microticket.ike import message as M
from microticket.ticket import KeyRing

from consts import IKE_PSK as PSK


def prf(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def prf_plus(key, seed, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = prf(key, t + seed + bytes([i]))
        out += t
        i += 1
    return out[:n]


def split(km):
    return {"SK_d": km[0:32], "SK_ai": km[32:64], "SK_ar": km[64:96], "SK_ei": km[96:112], "SK_er": km[112:128],
            "SK_pi": km[128:160], "SK_pr": km[160:192]}


def test_resumption_key_schedule_rfc5723_5_1():
    sk_d_old, ni, nr, spi_i, spi_r = bytes(range(32)), b"\x11" * 32, b"\x22" * 40, b"\x01" * 8, b"\x02" * 8
    seed = prf(sk_d_old, b"Resumption" + ni + nr)
    assert K.skeyseed_resume(sk_d_old, ni, nr) == seed
    k = K.IkeSaKeys(seed, ni, nr, spi_i, spi_r)
    want = split(prf_plus(seed, ni + nr + spi_i + spi_r, 192))
    assert {n: bytes.fromhex(v) for n, v in keydump.dump_keys(k).items() if n != "SKEYSEED"} == want


def test_full_key_schedule_and_psk_auth_rfc7296():
    ni, nr, gir = b"\x33" * 32, b"\x44" * 32, b"\x55" * 256
    seed = prf(ni + nr, gir)
    assert F.skeyseed_full(ni, nr, gir) == seed
    msg, idb = b"message-octets", M.id_body(C.ID_FQDN, b"client.example")
    sk_pi = b"\x66" * 32
    want = prf(prf(PSK, b"Key Pad for IKEv2"), msg + nr + prf(sk_pi, idb))
    assert F.psk_auth(PSK, msg, nr, sk_pi, idb) == want


def test_resumed_auth_two_readings():
    msg, nonce, idb, sk_p = b"resume-message", b"\x77" * 32, M.id_body(C.ID_FQDN, b"x"), b"\x88" * 32
    # (a) RFC 7296 section 2.15 signed octets keyed with SK_px (default)
    assert K.resume_auth("signed", sk_p, msg, nonce, idb) == prf(sk_p, msg + nonce + prf(sk_p, idb))
    # (b) only the sender's own IKE_SESSION_RESUME message
    assert K.resume_auth("message", sk_p, msg, nonce, idb) == prf(sk_p, msg)


@pytest.mark.parametrize("mode", ["signed", "message"])
def test_resumed_exchange_on_the_wire_matches_independent_computation(mode):
    """Record a real resumption between our engines, then recompute AUTH_i from the captured octets."""
    gw = G.Gateway(PSK, "gw.example", ring=KeyRing.generate(1000), auth_mode=mode)
    a = I.Initiator(PSK, "client.example", idr="gw.example", debug_keys=True)
    a.start(1000)
    for _ in range(4):
        for d in a.datagrams():
            for r in gw.handle(d, 1000, b"p"):
                a.receive(r, 1000)
    rec = a.new_ticket
    b = I.Initiator(PSK, "client.example", ticket=rec, auth_mode=mode, debug_keys=True)
    b.start(1001)
    (req,) = b.datagrams()
    (resp,) = gw.handle(req, 1001, b"p")
    b.receive(resp, 1001)
    (auth_req,) = b.datagrams()
    mreq, mresp = P.decode(req), P.decode(resp)
    ni, nr = mreq.get(C.PT_NONCE), mresp.get(C.PT_NONCE)
    assert mreq.exch == C.IKE_SESSION_RESUME and mreq.spi_r == bytes(8) and mresp.spi_r != bytes(8)
    seed = prf(bytes.fromhex(rec["sk_d"]), b"Resumption" + ni + nr)
    ks = split(prf_plus(seed, ni + nr + mreq.spi_i + mresp.spi_r, 192))
    inner = K.unprotect(b.keys, P.decode(auth_req), True)
    auth = M.parse_auth([p[2] for p in inner if p[0] == C.PT_AUTH][0])[1]
    idi = [p[2] for p in inner if p[0] == C.PT_IDI][0]
    assert idi == bytes.fromhex(rec["idi"])
    if mode == "signed":
        assert auth == prf(ks["SK_pi"], req + nr + prf(ks["SK_pi"], idi))
    else:
        assert auth == prf(ks["SK_pi"], req)
    assert not any(p[0] == C.PT_CERT for p in inner)
    assert any(p[0] == C.PT_NOTIFY and P.parse_notify(p[2])[2] == C.TICKET_REQUEST for p in inner)
