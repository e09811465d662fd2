"""The peers a board meets, configured as their operators configure them (issue 11), against microticket on
both runtimes, each a full handshake then a resumption:

- our client -> nginx with Mozilla's "intermediate" settings (AEAD suites only), RSA and ECDSA P-256
  certificates, and limited to P-256 (ssl_ecdh_curve prime256v1); -> openssl s_server with an ECDSA
  certificate and its DEFAULT ciphers, and with -groups P-256;
- our server (the test PKI's leaves) <- curl (no session_ticket extension: the session-ID cache), wget
  (GnuTLS; never resumes, measured: a handshake each time), gnutls-cli with its default priorities
  (--resume), openssl s_client with its defaults.
Headless Chromium is in test_tls_browser.py."""

import hashlib
import re

import pytest

import tlspeers as P
import webpeers as W

pytestmark = pytest.mark.interop

RUNTIMES = P.runtimes()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return W.make_pki(str(tmp_path_factory.mktemp("pki")))


def _pin(der_path):
    with open(der_path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()



# --- our client -> nginx, openssl s_server -----------------------------------------------------------------

@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("kind,curves,suite,group", [
    ("rsa", None, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "X25519"),
    ("ec", None, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "X25519"),
    ("ec", "prime256v1", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "prime256v1")])
def test_our_client_against_nginx_mozilla_intermediate(runtime, kind, curves, suite, group, pki, tmp_path):
    P.skip_missing(runtime)
    cert, key, der = (pki.rsa_cert, pki.rsa_key, pki.rsa_der) if kind == "rsa" else \
        (pki.ec_cert, pki.ec_key, pki.ec_der)
    srv = W.start_nginx(str(tmp_path / "nginx"), cert, key, curves=curves, root_html="<p>board page</p>\n")
    args = ["--pin-sha256", _pin(der), "--cache", str(tmp_path / "c.json"), "--server-name", "localhost",
            "--send", "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", "--max-version", "1.2"]
    try:
        r1 = P.run_our_client(srv.port, args, runtime)
        r2 = P.run_our_client(srv.port, args, runtime)
        lines = W.wait_for_log(srv, 2)
    finally:
        log = srv.stop()
    o1, o2 = P.parse_client_output(r1.stdout), P.parse_client_output(r2.stdout)
    assert o1.get("resumed") == "no" and o1.get("suite") == suite and o1.get("version") == "TLS 1.2", \
        r1.stdout + r1.stderr + log
    assert o2.get("resumed") == "yes" and o2.get("suite") == suite, r2.stdout + r2.stderr + log
    assert "HTTP/1.1 200 OK" in r1.stdout and "HTTP/1.1 200 OK" in r2.stdout
    assert [(x["reused"], x["protocol"], x["curve"]) for x in lines] == \
        [(".", "TLSv1.2", group), ("r", "TLSv1.2", group)], lines


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("kind,curves,group", [("rsa", None, "X25519"), ("ec", "prime256v1", "prime256v1")])
def test_our_client_against_nginx_mozilla_modern_tls13(runtime, kind, curves, group, pki, tmp_path):
    """Mozilla's "modern" nginx: TLS 1.3 only (our TLS 1.2 client got protocol_version from it), tickets
    off in its guidance, so OpenSSL issues stateful TLS 1.3 tickets: the client resumes with one all the
    same. With P-256 only (ssl_ecdh_curve prime256v1) nginx answers our x25519 share with a
    HelloRetryRequest for secp256r1."""
    P.skip_missing(runtime)
    cert, key, der = (pki.rsa_cert, pki.rsa_key, pki.rsa_der) if kind == "rsa" else \
        (pki.ec_cert, pki.ec_key, pki.ec_der)
    srv = W.start_nginx(str(tmp_path / "nginx"), cert, key, tls="modern", curves=curves,
                        root_html="<p>board page</p>\n")
    args = ["--pin-sha256", _pin(der), "--cache", str(tmp_path / "c.json"), "--server-name", "localhost",
            "--send", "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"]
    try:
        r1 = P.run_our_client(srv.port, args, runtime)
        r2 = P.run_our_client(srv.port, args, runtime)
        old = P.run_our_client(srv.port, args[:-2] + ["--max-version", "1.2"], runtime)
        lines = W.wait_for_log(srv, 2)
    finally:
        log = srv.stop()
    o1, o2 = P.parse_client_output(r1.stdout), P.parse_client_output(r2.stdout)
    assert (o1.get("version"), o1.get("resumed"), o1.get("suite")) == ("TLS 1.3", "no", "TLS_AES_128_GCM_SHA256"), \
        r1.stdout + r1.stderr + log
    assert (o2.get("version"), o2.get("resumed")) == ("TLS 1.3", "yes"), r2.stdout + r2.stderr + log
    assert "HTTP/1.1 200 OK" in r1.stdout and "HTTP/1.1 200 OK" in r2.stdout
    assert [(x["reused"], x["protocol"], x["curve"]) for x in lines] == \
        [(".", "TLSv1.3", group), ("r", "TLSv1.3", group)], lines
    # TLS 1.2 only: refused, as before this client spoke TLS 1.3
    assert old.returncode == 1 and "received 70" in old.stdout, old.stdout + old.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("groups", [None, "P-256"])
def test_our_client_against_openssl_ecdsa_defaults(runtime, groups, pki, tmp_path):
    P.skip_missing(runtime)
    extra = ["-groups", groups] if groups else []
    srv = P.Peer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-cert", pki.ec_cert, "-key",
                  pki.ec_key, "-no_cache", "-rev"] + extra, stdin=True)
    args = ["--pin-sha256", _pin(pki.ec_der), "--cache", str(tmp_path / "c.json"), "--send", "abc\n"]
    o1, o2 = P.client_full_then_resumed(srv, args, runtime, reply="cba")
    assert o1["suite"] == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"


# --- the web's clients -> our server ---------------------------------------------------------------------

def _our_server(runtime, cert, key, extra=("--max-version", "1.2")):
    # issue 11's tests are about TLS 1.2 (tickets, the session-ID cache, the suites browsers offer): the
    # server is held to 1.2 for them (its default, 1.3, is what every one of these clients prefers:
    # test_tls13_clients_resume)
    return P.start_our_server(["--cert", cert, "--key", key] + list(extra), runtime)


def _served(log):
    """The server's lines for the connections it completed: [(suite, resumed)]"""
    return re.findall(r"connection \d+: TLS 1.2, (\S+), resumed: ([^,]+),", log)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_curl_resumes_by_session_id(runtime, kind, pki):
    W.need("curl")
    P.skip_missing(runtime)
    cert, key = (pki.rsa_cert, pki.rsa_key) if kind == "rsa" else (pki.ec_cert, pki.ec_key)
    srv = _our_server(runtime, cert, key)
    try:
        rc, out = W.run_curl("https://localhost:%d/" % srv.port, pki.ca_pem, urls=2)
    finally:
        log = P.stop_after_lines(srv, 2)
    assert rc == 0 and out.count("<h1>microticket</h1>") == 2, out + log
    assert W.curl_resumed(out) == 1, out + log
    want = "TLS_ECDHE_%s_WITH_AES_128_GCM_SHA256" % ("RSA" if kind == "rsa" else "ECDSA")
    assert _served(log) == [(want, "no"), (want, "from the session ID")], log


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_wget_fetches(runtime, pki):
    W.need("wget")
    P.skip_missing(runtime)
    srv = _our_server(runtime, pki.ec_cert, pki.ec_key)
    try:
        rc, out = W.run_wget("https://localhost:%d/" % srv.port, pki.ca_pem, urls=2)
    finally:
        log = P.stop_after_lines(srv, 2)
    assert rc == 0 and out.count("<h1>microticket</h1>") == 2, out + log
    # wget (GnuTLS, default priorities) never resumes: two full handshakes, each on an AEAD suite
    assert [r for _, r in _served(log)] == ["no", "no"], log


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_gnutls_cli_defaults_resume(runtime, kind, pki):
    P.skip_missing(runtime)
    cert, key = (pki.rsa_cert, pki.rsa_key) if kind == "rsa" else (pki.ec_cert, pki.ec_key)
    srv = _our_server(runtime, cert, key)
    try:
        rc, out = W.run_gnutls_cli(srv.port, pki.ca_pem, resume=True)
    finally:
        log = P.stop_after_lines(srv, 2)
    assert "This is a resumed session" in out, out + log
    assert [r for _, r in _served(log)] == ["no", "from a ticket"], log


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_openssl_s_client_defaults_resume(runtime, pki, tmp_path):
    P.skip_missing(runtime)
    srv = _our_server(runtime, pki.ec_cert, pki.ec_key)
    sess = str(tmp_path / "s.pem")
    try:
        rc1, a = W.run_s_client(srv.port, ["-tls1_2", "-CAfile", pki.ca_pem, "-verify_return_error",
                                           "-servername", "localhost", "-sess_out", sess])
        rc2, b = W.run_s_client(srv.port, ["-tls1_2", "-CAfile", pki.ca_pem, "-servername", "localhost",
                                           "-sess_in", sess])
    finally:
        log = srv.stop()
    assert "Verify return code: 0 (ok)" in a and "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" in a, a + log
    assert "Reused, " in b, b + log


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tls13_clients_resume(runtime, pki):
    """Our server's default (TLS 1.3): curl and gnutls-cli resume from TLS 1.3 tickets, wget completes."""
    P.skip_missing(runtime)
    W.need("curl")
    srv = _our_server(runtime, pki.ec_cert, pki.ec_key, ())
    try:
        rc, out = W.run_curl("https://localhost:%d/" % srv.port, pki.ca_pem, urls=2)
        _, g = W.run_gnutls_cli(srv.port, pki.ca_pem, resume=True)
    finally:
        log = P.stop_after_lines(srv, 4)
    assert rc == 0 and out.count("<h1>microticket</h1>") == 2 and W.curl_resumed(out) == 1, out + log
    assert "This is a resumed session" in g and "(TLS1.3" in g, g + log
    lines = re.findall(r"connection \d+: TLS 1.3, (\S+), resumed: ([^,]+),", log)
    assert [r for _, r in lines] == ["no", "from a ticket"] * 2, log


# --- our client validating nginx's chain (X.509, issue 12) -------------------------------------------------

@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_our_client_validates_nginx_chain_then_resumes(runtime, kind, pki, tmp_path):
    """nginx (Mozilla intermediate) sends leaf + intermediate; the root is in --ca-file: a 3-certificate
    path validated on the full handshake, and the resumption from the ticket validates nothing (the CA
    file is not even needed then). A refused chain: one line "certificate: REASON", exit 1."""
    P.skip_missing(runtime)
    full = pki.chain_ec_full if kind == "ec" else pki.chain_rsa_full
    key = pki.chain_ec_key if kind == "ec" else pki.chain_rsa_key
    srv = W.start_nginx(str(tmp_path / "nginx"), full, key)
    cache = str(tmp_path / "c.json")
    args = ["--ca-file", pki.ca_pem, "--server-name", "localhost", "--cache", cache,
            "--send", "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"]
    other_ca = str(tmp_path / "other-ca.pem")
    with open(other_ca, "w") as f:
        f.write(open(pki.rsa_cert).read())  # a CA file whose one certificate anchors nothing of this chain
    try:
        r1 = P.run_our_client(srv.port, args, runtime)
        r2 = P.run_our_client(srv.port, args, runtime)
        bad_name = P.run_our_client(srv.port, ["--ca-file", pki.ca_pem, "--server-name", "other.example",
                                               "--cache", str(tmp_path / "x.json")], runtime)
        bad_ca = P.run_our_client(srv.port, ["--ca-file", other_ca, "--server-name", "localhost",
                                             "--cache", str(tmp_path / "y.json")], runtime)
    finally:
        log = srv.stop()
    o1, o2 = P.parse_client_output(r1.stdout), P.parse_client_output(r2.stdout)
    # TLS 1.3 (nginx offers it): the CertificateVerify is ECDSA P-256 or RSA-PSS
    assert o1.get("resumed") == "no" and o1.get("suite") == "TLS_AES_128_GCM_SHA256", r1.stdout + r1.stderr + log
    assert o1.get("version") == "TLS 1.3" and o2.get("version") == "TLS 1.3"
    assert o2.get("resumed") == "yes" and "HTTP/1.1 200 OK" in r2.stdout, r2.stdout + r2.stderr + log
    assert (bad_name.returncode, bad_name.stdout.strip(), bad_name.stderr) == (1, "certificate: name mismatch", "")
    assert (bad_ca.returncode, bad_ca.stdout.strip(), bad_ca.stderr) == (1, "certificate: unknown issuer", "")
