"""ALPN (RFC 7301) with real peers, TLS 1.2 and 1.3: our client (both runtimes) against `openssl s_server -alpn`
(AWS IoT's MQTT-on-443 protocol name among them), `openssl s_client -alpn` and curl against our server."""

import re
import subprocess

import pytest

import tlspeers as P

RUNTIMES = P.runtimes()
MQTT = "x-amzn-mqtt-ca"


def _openssl_server(version):
    if version == "1.2":
        return P.start_openssl_psk_server(cipher=P.OSSL_PSK, extra=("-alpn", "http/1.1," + MQTT))
    return P.Peer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_3", "-nocert", "-psk", P.PSK_HEX,
                   "-psk_identity", P.PSK_ID, "-rev", "-alpn", "http/1.1," + MQTT], stdin=True)


@pytest.mark.interop
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_our_client_gets_its_protocol_from_openssl_full_and_resumed(runtime, version, tmp_path):
    P.skip_missing(runtime)
    if not P.have("openssl"):
        pytest.skip("openssl not installed")
    srv = _openssl_server(version)
    args = ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--max-version", version, "--alpn", MQTT + ",h2",
            "--cache", str(tmp_path / "c.json"), "--send", "hello\n"]
    o1, o2 = P.client_full_then_resumed(srv, args, runtime, reply="olleh")
    assert o1["version"] == o2["version"] == "TLS " + version
    assert o1["alpn"] == o2["alpn"] == MQTT  # agreed again in the resumed handshake


@pytest.mark.interop
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_our_client_without_a_protocol_in_common_fails_with_the_alert(version):
    if not P.have("openssl"):
        pytest.skip("openssl not installed")
    srv = _openssl_server(version)
    try:
        r = P.run_our_client(srv.port, ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--max-version", version,
                                        "--alpn", "spdy/3"])
    finally:
        srv.stop()
    # RFC 7301 section 3.2: the server refuses with no_application_protocol; the client says it in one line
    assert r.returncode == 1 and "received 120 (no_application_protocol)" in r.stdout, r.stdout + r.stderr
    # a server configured with no protocol ignores the extension: none agreed, and the client says so
    srv = P.start_openssl_psk_server(cipher=P.OSSL_PSK)
    try:
        r = P.run_our_client(srv.port, ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--max-version", "1.2",
                                        "--alpn", "h2"])
    finally:
        srv.stop()
    assert r.returncode == 0 and P.parse_client_output(r.stdout).get("alpn") == "none", r.stdout + r.stderr


def _s_client(port, version, alpn):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3" if version == "1.3" else "-tls1_2",
           "-psk_identity", P.PSK_ID, "-psk", P.PSK_HEX, "-alpn", alpn]
    if version == "1.2":
        cmd += ["-cipher", P.OSSL_PSK]
    r = subprocess.run(cmd, input=b"", capture_output=True, timeout=20)
    return (r.stdout + r.stderr).decode(errors="replace")


@pytest.mark.interop
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_openssl_client_gets_our_servers_choice_or_no_application_protocol(runtime, version):
    P.skip_missing(runtime)
    if not P.have("openssl"):
        pytest.skip("openssl not installed")
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--alpn", "http/1.1,h2",
                              "--max-version", "1.3", "--psk-modes", "dhe,ke"], runtime)
    try:
        ok = _s_client(srv.port, version, "h2,http/1.1")
        refused = _s_client(srv.port, version, "spdy/3")
        again = _s_client(srv.port, version, "spdy/3")  # (the alert names: loaded again for the line)
    finally:
        log = P.stop_after_lines(srv, 3)
    assert "ALPN protocol: http/1.1" in ok, ok  # the server's preference
    assert "no application protocol" in refused, refused
    assert re.search(r"connection 1: TLS 1\.%s, .*alpn: http/1\.1" % version[-1], log), log
    assert "connection 2: alert 120 (no_application_protocol) sent" in log, log
    assert "no application protocol" in again and "connection 3: alert 120 (no_application_protocol) sent" in log, log


@pytest.mark.interop
def test_curl_gets_http11_from_our_https_server(tmp_path):
    if not P.have("curl") or not P.have("openssl"):
        pytest.skip("curl or openssl not installed")
    cert, key, _, _ = P.make_rsa_cert(str(tmp_path))
    srv = P.start_our_server(["--cert", cert, "--key", key, "--alpn", "http/1.1"])
    try:
        r = subprocess.run(["curl", "-sv", "--cacert", cert, "https://localhost:%d/" % srv.port],
                           capture_output=True, timeout=30)
    finally:
        log = P.stop_after_lines(srv, 1)
    err = r.stderr.decode(errors="replace")
    # curl offers h2 and http/1.1 (or http/1.1 alone, built without HTTP/2) and says what the server took
    assert re.search(r"ALPN[:,] server accepted (to use )?http/1\.1", err), err
    assert r.returncode == 0 and b"microticket" in r.stdout and "alpn: http/1.1" in log, err + log
