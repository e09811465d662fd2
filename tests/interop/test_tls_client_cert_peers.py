"""The client's certificate (mutual TLS: microticket.tls.client_auth) with real servers configured as their
operators do, TLS 1.2 and 1.3, both runtimes: `openssl s_server -Verify 1` (a certificate required and
verified), `-verify 1` (asked for, optional: our client without one sends an empty Certificate), and nginx
with `ssl_verify_client on`. A resumption presents nothing: the session carries the identity."""

import os
import re
import subprocess

import pytest

import tlspeers as P
import webpeers as W

RUNTIMES = P.runtimes()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A server certificate (P-256, its pin) and a client CA with an RSA-2048 and a P-256 client certificate."""
    if not P.have("openssl"):
        pytest.skip("openssl not installed")
    d = str(tmp_path_factory.mktemp("mtls"))

    def run(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True, cwd=d)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "srv.key",
        "-out", "srv.pem", "-days", "2", "-subj", "/CN=localhost")
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "2", "-subj", "/CN=microticket test client CA")
    for name, newkey in (("board-ec", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]), ("board-rsa", ["rsa:2048"])):
        run("req", "-newkey", *newkey, "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
        run("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "7", "-days", "2",
            "-out", name + ".pem")
    der = subprocess.run(["openssl", "x509", "-in", os.path.join(d, "srv.pem"), "-outform", "DER"], check=True,
                         capture_output=True).stdout
    import hashlib
    return d, hashlib.sha256(der).hexdigest()


def _s_server(d, version, verify):
    return P.Peer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_3" if version == "1.3" else "-tls1_2",
                   "-cert", os.path.join(d, "srv.pem"), "-key", os.path.join(d, "srv.key"), verify, "1",
                   "-CAfile", os.path.join(d, "ca.pem"), "-rev"], stdin=True)


@pytest.mark.interop
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_required_certificate_verified_then_resumed(runtime, version, kind, pki, tmp_path):
    P.skip_missing(runtime)
    d, pin = pki
    srv = _s_server(d, version, "-Verify")
    name = "board-" + kind
    args = ["--pin-sha256", pin, "--max-version", version, "--cert", os.path.join(d, name + ".pem"),
            "--key", os.path.join(d, name + ".key"), "--cache", str(tmp_path / "c.json"), "--send", "hello\n"]
    srv_log = []
    real_stop = srv.stop
    srv.stop = lambda: srv_log.append(real_stop()) or srv_log[0]
    o1, o2 = P.client_full_then_resumed(srv, args, runtime, reply="olleh")
    assert o1["version"] == "TLS " + version
    log = srv_log[0]
    # s_server verified our chain against its CA: our CertificateVerify (ECDSA, or RSA-PSS) checked
    assert "CN = " + name in log or "CN=" + name in log, log
    assert "verify error" not in log, log


@pytest.mark.interop
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_optional_request_without_a_certificate_goes_on(runtime, version, pki):
    """`-verify 1` asks and accepts no certificate: our client sends an empty Certificate (TLS 1.2: it used to
    refuse the CertificateRequest with unexpected_message)."""
    P.skip_missing(runtime)
    d, pin = pki
    srv = _s_server(d, version, "-verify")
    try:
        r = P.run_our_client(srv.port, ["--pin-sha256", pin, "--max-version", version, "--send", "hi\n"], runtime)
    finally:
        srv.stop()
    o = P.parse_client_output(r.stdout)
    assert r.returncode == 0 and o.get("reply") == "ih", r.stdout + r.stderr


@pytest.mark.interop
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_required_certificate_missing_is_refused_by_the_server(version, pki):
    d, pin = pki
    srv = _s_server(d, version, "-Verify")
    try:
        r = P.run_our_client(srv.port, ["--pin-sha256", pin, "--max-version", version, "--send", "hi\n"])
    finally:
        srv.stop()
    # TLS 1.2: handshake_failure before our Finished is answered; TLS 1.3: certificate_required after the
    # client's handshake completed (the client sees it reading the reply)
    assert r.returncode == 1, r.stdout + r.stderr
    assert ("closed: alert received 116 (certificate_required)" if version == "1.3" else
            "received 40 (handshake_failure)") in r.stdout, r.stdout + r.stderr


@pytest.mark.interop
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_nginx_ssl_verify_client_on(runtime, pki, tmp_path):
    P.skip_missing(runtime)
    W.need("nginx")
    d, pin = pki
    srv = W.start_nginx(str(tmp_path / "nginx"), os.path.join(d, "srv.pem"), os.path.join(d, "srv.key"),
                        client_ca=os.path.join(d, "ca.pem"), keepalive=False)
    get = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
    try:
        with_cert = P.run_our_client(srv.port, ["--pin-sha256", pin, "--cert", os.path.join(d, "board-ec.pem"),
                                                "--key", os.path.join(d, "board-ec.key"), "--send", get], runtime)
        without = P.run_our_client(srv.port, ["--pin-sha256", pin, "--send", get], runtime)
    finally:
        srv.stop()
    assert P.parse_client_output(with_cert.stdout).get("reply", "").startswith("HTTP/1.1 200"), with_cert.stdout
    assert P.parse_client_output(without.stdout).get("reply", "").startswith("HTTP/1.1 400"), without.stdout
