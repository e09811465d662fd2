"""Our IKEv2 initiator against a real strongSwan charon responder (RFC 7296 / 7815 / 8031 / 3948 / 6023),
on CPython and under MicroPython; keys and AUTH compared with what charon logs at ``ike = 4``."""

import os

import pytest

import ikepeers
from microticket.ike import initiator as I
from microticket.ike import udp

pytestmark = [pytest.mark.interop]

PSK = bytes.fromhex(ikepeers.PSK_HEX)


def _logged(charon):
    d = {}
    for label, value in ikepeers.charon_dumps(charon.log_text()):
        d.setdefault(label, []).append(value)
    return d


def _check_keys_against_log(charon, keys):
    """Every key we derived appears in charon's log under its own label, and both AUTH values too."""
    log = _logged(charon)
    assert bytes.fromhex(keys["SKEYSEED"]) in log["SKEYSEED"]
    for ours, theirs in (("SK_d", "Sk_d secret"), ("SK_ai", "Sk_ai secret"), ("SK_ar", "Sk_ar secret"),
                         ("SK_ei", "Sk_ei secret"), ("SK_er", "Sk_er secret"), ("SK_pi", "Sk_pi secret"),
                         ("SK_pr", "Sk_pr secret")):
        assert bytes.fromhex(keys[ours]) in log[theirs], ours
    auths = log["AUTH = prf(prf(secret, keypad), octets)"]
    assert bytes.fromhex(keys["AUTH_i"]) in auths
    assert bytes.fromhex(keys["AUTH_r"]) in auths


def _run(charon, port, **kw):
    ini = I.Initiator(PSK, "client.example", idr="gw.example", marker=True, debug_keys=True, **kw)
    ev = udp.run_initiator(ini, "127.0.0.1", port, timeout=20)
    return ini, ev


def _ev(events, kind):
    return [e for e in events if e[0] == kind]


@pytest.mark.parametrize("group", [14, 31])
def test_cpython_psk_keys_match_charon(charon, group):
    ini, ev = _run(charon, charon.port, group=group, groups=(group,))
    assert ("established", "full") in ev, ev
    # strongSwan does not implement RFC 5723: the TICKET_REQUEST is ignored, cleanly
    assert ("ticket_none",) in ev
    assert ini.group == group
    _check_keys_against_log(charon, _ev(ev, "keys")[0][1])
    sa = charon.sa_info(ini.spi_i.hex())
    assert sa["dh-group"] == {14: "MODP_2048", 31: "CURVE_25519"}[group]
    assert (sa["encr-alg"], sa["encr-keysize"], sa["integ-alg"], sa["prf-alg"]) == (
        "AES_CBC", "128", "HMAC_SHA2_256_128", "PRF_HMAC_SHA2_256")


def test_invalid_ke_payload_retry(charon):
    # charon prefers modp2048 (its first proposal); we send a Curve25519 KE while offering both groups
    ini, ev = _run(charon, charon.port, group=31, groups=(31, 14))
    assert ("established", "full") in ev, ev
    assert ini.group == 14


def test_nat_t_port_with_marker(charon):
    ini, ev = _run(charon, charon.port_nat_t, group=31, groups=(31,))
    assert ("established", "full") in ev, ev
    assert ini.addrs is not None  # NAT detection payloads were sent


def test_child_sa_refused_keeps_ike_sa(charon):
    # Child SAs cannot be installed in this sandbox: charon answers NO_PROPOSAL_CHOSEN and keeps the IKE SA
    ini, ev = _run(charon, charon.port, group=31, groups=(31,), child=True)
    assert ("established", "full") in ev, ev
    assert ("child_refused", "NO_PROPOSAL_CHOSEN") in ev


def test_ticket_request_informational_and_delete(charon):
    ini = I.Initiator(PSK, "client.example", idr="gw.example", group=31, groups=(31,), marker=True,
                      request_ticket=False)
    s = udp.open_udp("127.0.0.1", charon.port)
    try:
        ev = udp.pump(ini, s, 20)
        assert ("established", "full") in ev
        ini.request_ticket(udp.now())
        ev = udp.pump(ini, s, 20, start=False)
        assert ev == [("ticket_none",)]
        ini.delete(udp.now())
        ev = udp.pump(ini, s, 20, start=False)
        assert ("closed", "deleted") in ev and ("ticket_invalidated", "deleted") in ev
        assert ini.state == I.CLOSED
    finally:
        s.close()


def test_wrong_psk_fails_cleanly(charon):
    ini = I.Initiator(b"wrong psk", "client.example", idr="gw.example", group=31, groups=(31,), marker=True)
    ev = udp.run_initiator(ini, "127.0.0.1", charon.port, timeout=20)
    assert ev[-1] == ("failed", "AUTHENTICATION_FAILED")


def _cli_keys(stdout):
    keys = {}
    for line in stdout.splitlines():
        if line.startswith("key: "):
            _, name, value = line.split()
            keys[name] = value
    return keys


@pytest.mark.micropython
@pytest.mark.parametrize("group", ["14", "31"])
def test_micropython_cli_against_charon(charon, mp, tmp_path, group):
    r = ikepeers.run_initiator(["127.0.0.1", str(charon.port), "--psk", ikepeers.PSK_HEX, "--id", "client.example",
                                "--remote-id", "gw.example", "--store", str(tmp_path / "store.json"),
                                "--group", group, "--debug-keys"], runtime="micropython")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [l for l in r.stdout.splitlines() if not l.startswith("key: ")]
    assert lines[:2] == ["established: full", "ticket: none"], r.stdout
    keys = _cli_keys(r.stdout)
    assert keys["group"] == group
    _check_keys_against_log(charon, keys)
    assert charon.sa_info(keys["SPIi"])["dh-group"] == {"14": "MODP_2048", "31": "CURVE_25519"}[group]


def test_cpython_cli_against_charon_nat_t(charon, tmp_path):
    r = ikepeers.run_initiator(["127.0.0.1", str(charon.port_nat_t), "--psk", ikepeers.PSK_HEX, "--id",
                                "client.example", "--remote-id", "gw.example", "--store",
                                str(tmp_path / "store.json"), "--nat-t", "--group", "31"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[:2] == ["established: full", "ticket: none"]


def test_charon_deletes_sa_initiator_answers_and_drops_ticket(charon):
    """charon sends INFORMATIONAL{D} on `swanctl --terminate`: we answer it and invalidate the ticket."""
    import subprocess
    ini = I.Initiator(PSK, "client.example", idr="gw.example", group=31, groups=(31,), marker=True)
    s = udp.open_udp("127.0.0.1", charon.port)
    try:
        ev = udp.pump(ini, s, 20)
        assert ("established", "full") in ev
        sa = charon.sa_info(ini.spi_i.hex())
        assert sa["state"] == "ESTABLISHED" and sa["responder-spi"] == ini.spi_r.hex()
        term = subprocess.Popen([ikepeers.SWANCTL, "--terminate", "--ike-id", sa["uniqueid"], "--timeout", "10", "--uri",
                                 "unix://" + charon.dir + "/charon.vici"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
        ev = udp.pump(ini, s, 20, done=lambda x: x.state == I.CLOSED, start=False)
        out = term.communicate(timeout=20)[0]
        assert ("closed", "deleted by peer") in ev and ("ticket_invalidated", "deleted by peer") in ev, (ev, out)
        assert "terminate completed successfully" in out
    finally:
        s.close()
