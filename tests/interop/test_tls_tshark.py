"""tshark dissects a captured loopback exchange of our client and server (full handshake, then a resumed
one): the session_ticket extension and New Session Ticket are there, nothing is malformed, and the
application data decrypts with our SSLKEYLOGFILE-format key log (TLS 1.2: the client says
--max-version 1.2; TLS 1.3 sessions: tests/interop/test_tls13_client_peers.py, tests/tls/test_tls13_server.py)."""

import os
import subprocess

import pytest

import tlspeers as P
import webpeers as W

pytestmark = [pytest.mark.interop, pytest.mark.skipif(not P.have("tshark"), reason="tshark missing")]

RUNTIMES = P.runtimes()


def start_capture(port, path):
    cap = W.start_capture(port, path)
    if cap is None:
        pytest.skip("cannot capture on lo: " + W.start_capture.why[-300:])
    return cap


@pytest.mark.parametrize("runtime,suite", [
    ("cpython", None), pytest.param("micropython", None, marks=pytest.mark.micropython),
    # the AEAD records: tshark's own GCM, ChaCha20-Poly1305 and CCM_8 decrypt what we sealed (nonces, AAD)
    ("cpython", "TLS_PSK_WITH_AES_128_GCM_SHA256"),
    pytest.param("micropython", "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", marks=pytest.mark.micropython),
    ("cpython", "TLS_PSK_WITH_AES_128_CCM_8")])
def test_tshark_dissects_tickets_and_decrypts_with_our_keylog(runtime, suite, tmp_path):
    if runtime == "micropython" and P.micropython_bin() is None:
        pytest.skip("micropython missing")
    pcap = str(tmp_path / "cap.pcapng")
    keylog_c = str(tmp_path / "client.keys")
    keylog_s = str(tmp_path / "server.keys")
    cache = str(tmp_path / "cache.json")
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--keylog", keylog_s] +
                             (["--suites", suite] if suite else []), runtime)
    port = srv.port
    cap = None
    try:
        cap = start_capture(port, pcap)  # the server's port is known once it listens: capture from then on
        outs = []
        for _ in range(2):
            r = P.run_our_client(port, ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--cache", cache,
                                        "--send", "hello tshark", "--keylog", keylog_c, "--max-version", "1.2"],
                                 runtime)  # RFC 5077's tickets (TLS 1.3's: test_tls13_*)
            outs.append(P.parse_client_output(r.stdout))
    finally:
        srv.stop()
        if cap is not None:
            W.stop_capture(cap, pcap, lambda hs: len(hs) >= 2)
    assert outs[0]["resumed"] == "no" and outs[1]["resumed"] == "yes"
    assert outs[0]["suite"] == (suite or "TLS_PSK_WITH_AES_128_CBC_SHA256")
    # both sides log the same CLIENT_RANDOM lines
    with open(keylog_c) as f:
        lines_c = f.read().split("\n")
    with open(keylog_s) as f:
        lines_s = f.read().split("\n")
    assert lines_c == lines_s and len([x for x in lines_c if x.startswith("CLIENT_RANDOM ")]) == 2
    assert os.path.getsize(pcap) > 0
    v = subprocess.run(["tshark", "-r", pcap, "-o", "tls.keylog_file:" + keylog_c, "-V"],
                       capture_output=True, text=True, timeout=120).stdout
    assert "Extension: session_ticket (len=0)" in v           # the client asks, the server answers
    assert "Handshake Type: New Session Ticket (4)" in v
    assert "Extension: session_ticket (len=" in v.replace("(len=0)", "")  # the offered ticket
    assert "Session resumption" in v
    assert "Malformed" not in v and "malformed" not in v
    # look at every TCP stream of the capture
    streams = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-e", "tcp.stream"], capture_output=True,
                             text=True, timeout=120).stdout.split()
    decrypted = 0
    for n in sorted(set(streams)):
        f = subprocess.run(["tshark", "-r", pcap, "-o", "tls.keylog_file:" + keylog_c, "-q",
                            "-z", "follow,tls,ascii," + n], capture_output=True, text=True, timeout=120).stdout
        decrypted += f.count("hello tshark")
    assert decrypted == 4  # both connections (full and resumed), both directions, decrypted
