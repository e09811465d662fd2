"""TLS 1.3 0-RTT early data (RFC 8446 section 4.2.10, microticket.tls.early13) with real peers on loopback, both
runtimes:

- our client -> `openssl s_server -tls1_3 -early_data`: the first connection gets a ticket with early_data,
  the second sends its data as 0-RTT (OpenSSL says "Early data received" and prints it) and resumes; tshark
  decrypts that early data and the EndOfEarlyData with our client's key log (CLIENT_EARLY_TRAFFIC_SECRET);
- `openssl s_client -tls1_3 -sess_out`, then `-sess_in -early_data FILE` -> our tls-server --max-early-data:
  accepted (and the HTTP request in it answered after the handshake), then the same ticket again (a
  replay of its early data): early data rejected, the handshake still resumes;
- our tls-client --early-data <-> our tls-server --max-early-data: not offered (no ticket yet; and data over the
  ticket's limit), accepted; the text is the reply either way."""

import os
import subprocess

import pytest

import tlspeers as P

pytestmark = [pytest.mark.interop, pytest.mark.skipif(not P.have("openssl"), reason="openssl missing")]

RUNTIMES = P.runtimes()
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "early_client.py")
GET = b"GET / HTTP/1.0\r\n\r\n"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return P.self_signed_certs(str(tmp_path_factory.mktemp("certs_early")))


def _early_client(runtime, port, pin, cache, data, keylog=None):
    exe = P.micropython_bin() if runtime == "micropython" else __import__("sys").executable
    args = [exe, SCRIPT, "127.0.0.1", str(port), pin, cache, data] + ([keylog] if keylog else [])
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, env=P.our_env(runtime))
    return r.stdout.strip() + r.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_openssl_server_takes_our_early_data(runtime, certs, tmp_path):
    import webpeers as W
    P.skip_missing(runtime)
    cert, key, pin = certs["ec"]
    cache, keylog, pcap = str(tmp_path / "c.json"), str(tmp_path / "c.keys"), str(tmp_path / "e.pcapng")
    srv = P.Peer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_3", "-cert", cert, "-key", key,
                  "-early_data"], stdin=True)
    cap = W.start_capture(srv.port, pcap) if runtime == "cpython" and P.have("tshark") else None
    try:
        a = _early_client(runtime, srv.port, pin, cache, "first-data")
        b = _early_client(runtime, srv.port, pin, cache, "zero-rtt-data", keylog)
    finally:
        if cap is not None:
            W.stop_capture(cap, pcap, lambda hs: len(hs) >= 2)
        log = srv.stop()
    assert a == "True False none", a + log  # full handshake: no ticket to send early data with yet
    assert b == "True True True", b + log    # resumed, early data accepted
    assert "Early data received" in log and "zero-rtt-data" in log and "End of early data" in log, log
    with open(keylog) as f:
        names = [x.split()[0] for x in f.read().split("\n") if x]
    assert names[0] == "CLIENT_EARLY_TRAFFIC_SECRET" and "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in names, names
    if cap is not None:
        v = subprocess.run(["tshark", "-r", pcap, "-o", "tls.keylog_file:" + keylog, "-V", "-Y", "tcp.stream == 1"],
                           capture_output=True, text=True, timeout=120).stdout
        assert "Extension: early_data" in v and "Handshake Type: End of Early Data (5)" in v, v[-3000:]
        # the early data itself, decrypted (the hex dump of the decrypted record shows its text)
        x = subprocess.run(["tshark", "-r", pcap, "-o", "tls.keylog_file:" + keylog, "-Y", "tcp.stream == 1", "-x"],
                           capture_output=True, text=True, timeout=120).stdout
        assert "Decrypted TLS" in x and "zero-rtt-data" in x.replace("\n", ""), x[-3000:]


def _s_client(port, *args, request=GET):
    # the request on stdin (sent after the handshake): our server answers it, or the early one, and closes.
    # With the request sent as early data, none after the handshake: a server that answers the early one
    # closes with the second unread, and the reset that follows (CPython's loop reads the whole flight at
    # once) can reach s_client before the answer does
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3", "-ign_eof"] +
                       list(args), input=request, capture_output=True, timeout=60)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_openssl_client_early_data_to_our_server_then_its_replay(runtime, certs, tmp_path):
    P.skip_missing(runtime)
    cert, key, _ = certs["ec"]
    sess, req = str(tmp_path / "s.pem"), str(tmp_path / "req.txt")
    with open(req, "wb") as f:
        f.write(GET)
    srv = P.start_our_server(["--cert", cert, "--key", key, "--max-early-data", "4096"], runtime)
    try:
        a = _s_client(srv.port, "-sess_out", sess)
        b = _s_client(srv.port, "-sess_in", sess, "-early_data", req, request=b"")
        c = _s_client(srv.port, "-sess_in", sess, "-early_data", req)
    finally:
        log = P.stop_after_lines(srv, 3)
    assert "New, TLSv1.3" in a and "Max Early Data: 4096" in a, a + log
    assert "Reused, TLSv1.3" in b and "Early data was accepted" in b, b + log
    assert "HTTP/1.0 200 OK" in b and "early data: accepted (18 bytes)" in b, b  # answered after the handshake
    assert "Reused, TLSv1.3" in c and "Early data was rejected" in c, c + log
    assert "resumed: from a ticket, new ticket: yes, early data: accepted (18 bytes)" in log, log
    assert "resumed: from a ticket, new ticket: yes, early data: rejected (replay)" in log, log


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_our_client_and_server(runtime, tmp_path):
    P.skip_missing(runtime)
    cache = str(tmp_path / "c.json")
    srv = P.start_our_server(["--psk", P.PSK_HEX, "--psk-identity", P.PSK_ID, "--max-early-data", "64"], runtime)
    args = ["--psk", P.PSK_HEX, "--psk-identity", P.PSK_ID, "--cache", cache]
    try:
        r1 = P.run_our_client(srv.port, args + ["--early-data", "one"], runtime)
        r2 = P.run_our_client(srv.port, args + ["--early-data", "two"], runtime)
        r3 = P.run_our_client(srv.port, args + ["--early-data", "x" * 65], runtime)  # over the ticket's 64
    finally:
        log = P.stop_after_lines(srv, 3)
    o1, o2, o3 = (P.parse_client_output(r.stdout) for r in (r1, r2, r3))
    assert "early data" not in o1 and o1["reply"] == "one" and o1["resumed"] == "no", r1.stdout + log
    assert o2["early data"] == "accepted" and o2["reply"] == "two" and o2["resumed"] == "yes", r2.stdout + log
    assert "early data" not in o3 and o3["reply"] == "x" * 65 and o3["resumed"] == "yes", r3.stdout
    assert "early data: accepted (3 bytes)" in log and log.count("early data") == 1, log
