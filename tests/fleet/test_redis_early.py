"""TLS 1.3 0-RTT early data is single-use across a fleet (microticket.fleet.redis_early, RFC 8446 sections 8 and
8.1): two CPython `tls-server --max-early-data` processes sharing ticket keys, and `openssl s_client -sess_in
-early_data` sending the same ticket's early data to one, then to the other. With the keys in a real Redis the
second server refuses the early data (replay) and still resumes; with the keys in a shared file (each process
its own list) the second server accepts it again, which is what the shared list is for. Redis stopped: early
data refused, the handshake still resumed, the outage said once."""

import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import tlspeers as P  # noqa: E402

pytest.importorskip("redis")

from redispeers import start_redis  # noqa: E402 (the fixture rds: conftest.py)
from microticket.fleet import redis_early as RE  # noqa: E402

GET = b"GET / HTTP/1.0\r\n\r\n"


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    if not P.have("openssl"):
        pytest.skip("openssl missing")
    c, k, _ = P.self_signed_certs(str(tmp_path_factory.mktemp("certs_fleet_early")))["ec"]
    return c, k


def _s_client(port, *args, request=b""):
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3", "-ign_eof"] + list(args),
                       input=request, capture_output=True, timeout=60)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def _two_servers(keys, cert, n=2):
    out = []
    try:
        for _ in range(n):
            out.append(P.start_our_server(["--cert", cert[0], "--key", cert[1], "--keys", keys,
                                           "--max-early-data", "4096"]))
    except Exception:
        for s in out:
            s.stop()
        raise
    return out


def _early_at_a_then_b(servers, tmp_path):
    """(s_client's output at A, at B, the servers' logs): a ticket from A, then its early data sent to A and
    the same ticket's early data to B."""
    a, b = servers
    sess, req = str(tmp_path / "s.pem"), str(tmp_path / "req.txt")
    with open(req, "wb") as f:
        f.write(GET)
    try:
        first = _s_client(a.port, "-sess_out", sess, request=GET)
        assert "New, TLSv1.3" in first and "Max Early Data: 4096" in first, first
        at_a = _s_client(a.port, "-sess_in", sess, "-early_data", req)
        at_b = _s_client(b.port, "-sess_in", sess, "-early_data", req)
    finally:
        logs = [P.stop_after_lines(a, 2), P.stop_after_lines(b, 1)]
    return at_a, at_b, logs


def test_early_data_of_a_ticket_accepted_at_one_server_of_the_fleet_only(rds, cert, tmp_path):
    url = "redis://127.0.0.1:%d/0?prefix=e1:" % rds["peer"].port
    at_a, at_b, logs = _early_at_a_then_b(_two_servers(url, cert), tmp_path)
    assert "Reused, TLSv1.3" in at_a and "Early data was accepted" in at_a, at_a + logs[0]
    assert "early data: accepted (18 bytes)" in logs[0], logs[0]
    # the same ticket at the other server: resumed, its early data refused as a replay
    assert "Reused, TLSv1.3" in at_b and "Early data was rejected" in at_b, at_b + logs[1]
    assert "resumed: from a ticket, new ticket: yes, early data: rejected (replay)" in logs[1], logs[1]
    import redis
    c = redis.Redis(host="127.0.0.1", port=rds["peer"].port)
    used = c.keys("e1:tls:used:*")
    assert len(used) == 1 and 60000 < c.pttl(used[0]) <= (RE.PERIOD + 60) * 1000, used  # one ticket, its window
    assert c.get("e1:tls:epoch") is not None


def test_without_the_shared_list_each_server_accepts_it_once(cert, tmp_path):
    """The control: the same two servers sharing a key file instead (each with its own list) both take the
    ticket's early data. The fleet's list is what stops that."""
    at_a, at_b, logs = _early_at_a_then_b(_two_servers(str(tmp_path / "keys.json"), cert), tmp_path)
    assert "Early data was accepted" in at_a and "Early data was accepted" in at_b, at_a + at_b


def test_redis_down_early_data_refused_handshakes_resume(cert, tmp_path):
    peer = start_redis(str(tmp_path))
    url = "redis://127.0.0.1:%d/0?prefix=e2:" % peer.port
    sess, req = str(tmp_path / "s.pem"), str(tmp_path / "req.txt")
    with open(req, "wb") as f:
        f.write(GET)
    srv = None
    try:
        srv = _two_servers(url, cert, 1)[0]
        first = _s_client(srv.port, "-sess_out", sess, request=GET)
        assert "New, TLSv1.3" in first, first
        peer.stop()  # by PID: the keys stay with the server, the list is away
        outs = [_s_client(srv.port, "-sess_in", sess, "-early_data", req, request=GET) for _ in range(2)]
    finally:
        log = P.stop_after_lines(srv, 3) if srv else ""
        peer.stop()
    for o in outs:
        assert "Reused, TLSv1.3" in o and "Early data was rejected" in o and "HTTP/1.0 200 OK" in o, o + log
    assert log.count("early data: rejected (replay)") == 2, log
    said = re.findall(r"tls: .* unreachable .*", log)
    assert len(said) == 1 and "0-RTT early data refused (resumption goes on)" in said[0], log

