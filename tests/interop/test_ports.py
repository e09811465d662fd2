"""The port helpers (tools/procs.py, used by tests/tlspeers.py and tests/ikepeers.py): a peer gets its port
without a race. A peer that binds port 0 (openssl, gnutls-serv, our tls-server and ike-gateway) is read back
from the kernel; a peer that must be told a port (strongSwan charon) is started again on another one when
another process took it."""

import os
import re
import socket
import threading

import pytest

import ikepeers
import procs
import tlspeers as P
from consts import IKE_PSK_HEX, PSK_HEX, PSK_ID

RUNTIMES = P.runtimes()


def taken_first(monkeypatch, ports):
    """pick_ports hands out ``ports`` (taken) on its first call, then free ones as usual; returns the list
    of what it handed out."""
    real = procs.pick_ports
    handed = []

    def pick(n=1, udp=False):
        got = list(ports) if not handed else real(n, udp)
        handed.append(got)
        return got
    monkeypatch.setattr(procs, "pick_ports", pick)
    return handed


def test_bound_ports_reads_this_process_sockets():
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    try:
        tcp, udp = t.getsockname()[1], u.getsockname()[1]
        assert ("127.0.0.1", tcp) not in procs.bound_ports(os.getpid())  # bound, not listening yet
        t.listen(1)
        assert ("127.0.0.1", tcp) in procs.bound_ports(os.getpid())
        assert ("127.0.0.1", udp) in procs.bound_ports(os.getpid(), udp=True)
        assert ("127.0.0.1", udp) not in procs.bound_ports(os.getpid())
    finally:
        t.close()
        u.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_our_servers_bind_port_0_and_hold_distinct_ports(runtime):
    """Our tls-server binds port 0 itself (MicroPython, which has no getsockname: a random port the bind
    claims) and holds it: three started at once get three ports, each held by its own process, each
    serving."""
    if runtime == "micropython" and P.micropython_bin() is None:
        pytest.skip("micropython missing")
    peers, errors = [], []

    def start():
        try:
            peers.append(P.start_our_server(["--psk-identity", PSK_ID, "--psk", PSK_HEX], runtime))
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not errors and len(peers) == 3, errors
        assert len({p.port for p in peers}) == 3
        for p in peers:
            assert ("127.0.0.1", p.port) in procs.bound_ports(p.pid)
        r = P.run_our_client(peers[0].port, ["--psk-identity", PSK_ID, "--psk", PSK_HEX, "--send", "x"])
        assert P.parse_client_output(r.stdout).get("reply") == "x", r.stdout + r.stderr
    finally:
        for p in peers:
            p.stop()


def test_gateway_binds_port_0(tmp_path):
    gw = ikepeers.GatewayProcess(["--psk", IKE_PSK_HEX, "--id", "gw"]).start()
    try:
        assert gw.port > 0 and gw.port in [port for _, port in procs.bound_ports(gw.peer.pid, udp=True)]
        r = ikepeers.run_initiator(["127.0.0.1", str(gw.port), "--psk", IKE_PSK_HEX, "--id", "c",
                                    "--remote-id", "gw", "--store", str(tmp_path / "s.json")])
        assert "established: full" in r.stdout, r.stdout + r.stderr
    finally:
        gw.stop()


def test_charon_whose_first_port_is_taken_starts_on_others(monkeypatch, tmp_path):
    if not ikepeers.charon_available():
        if os.environ.get("CI"):
            pytest.fail("strongSwan charon missing in CI")
        pytest.skip("strongSwan charon not installed")
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("0.0.0.0", 0))
    taken = blocker.getsockname()[1]
    handed = taken_first(monkeypatch, [taken] + procs.pick_ports(1, udp=True))
    ch = ikepeers.Charon(str(tmp_path))
    try:
        ch.start()
        blocker.close()
        assert len(handed) == 2 and (ch.port, ch.port_nat_t) == tuple(handed[1]) and taken not in handed[1]
    finally:
        blocker.close()
        ch.stop()


def test_a_server_that_fails_to_start_is_reported():
    with pytest.raises(RuntimeError) as e:
        P.start_our_server(["--psk-identity", PSK_ID])  # no --psk: a usage error
    assert not isinstance(e.value, procs.PortInUse)


def test_openssl_and_gnutls_bind_port_0_and_the_port_is_read_back(tmp_path):
    if not (P.have("openssl") and P.have("gnutls-serv")):
        pytest.skip("openssl or gnutls-serv missing")
    o = P.start_openssl_psk_server()
    g = P.start_gnutls_psk_server(str(tmp_path / "psk.txt"))
    try:
        for peer in (o, g):
            r = P.run_openssl_psk_client(peer.port, data=b"ping\n")
            assert b"Cipher is PSK" in r.stdout, r.stdout
        # openssl names the port it bound: the same one
        assert re.search(r"ACCEPT 127\.0\.0\.1:%d\b" % o.port, o.output()), o.output()
    finally:
        o.stop()
        g.stop()
