"""The web-peer fixtures of tests/webpeers.py proved against peers that work today: headless Chromium opens an nginx
page (Mozilla intermediate, RSA and ECDSA leaves of the test PKI) and resumes on its second connection, writes a
screenshot and a key log; curl and gnutls-cli resume against nginx, wget (which never resumes) fetches;
openssl s_client negotiates P-256 with the P-256-only nginx; nginx's port is found again when taken."""

import socket
import struct
import subprocess

import pytest

import webpeers as W  # (puts tools/ on the path, through tlspeers)
import procs  # noqa: E402  (tools/procs.py)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return W.make_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def nginx(tmp_path):
    started = []

    def start(cert, key, **kw):
        srv = W.start_nginx(str(tmp_path / ("nginx%d" % len(started))), cert, key, **kw)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def test_pki(pki):
    W.need("openssl")
    r = subprocess.run(["openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", pki.ca_pem,
                        "-untrusted", pki.int_pem, pki.rsa_cert, pki.ec_cert, pki.chain_rsa_cert, pki.chain_ec_cert],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.count(": OK") == 4, r.stdout + r.stderr
    # the leaf is not valid without its intermediate
    r = subprocess.run(["openssl", "verify", "-CAfile", pki.ca_pem, pki.chain_ec_cert], capture_output=True)
    assert r.returncode != 0
    heads = {pki.rsa_key: "PRIVATE KEY", pki.rsa_key_pkcs1: "RSA PRIVATE KEY", pki.ec_key: "EC PRIVATE KEY",
             pki.ec_key_pkcs8: "PRIVATE KEY"}
    for path, label in heads.items():
        with open(path) as f:
            assert f.readline().strip() == "-----BEGIN %s-----" % label, path
    text = subprocess.run(["openssl", "x509", "-in", pki.ec_cert, "-noout", "-text"], capture_output=True,
                          text=True).stdout
    for want in ("DNS:localhost, IP Address:127.0.0.1", "TLS Web Server Authentication", "CA:FALSE",
                 "prime256v1", "sha256WithRSAEncryption"):  # a P-256 key, signed by the RSA root
        assert want in text, text
    for pem, der in ((pki.rsa_cert, pki.rsa_der), (pki.ec_cert, pki.ec_der), (pki.ca_pem, pki.ca_der),
                     (pki.int_pem, pki.int_der), (pki.chain_ec_cert, pki.chain_ec_der)):
        out = subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER"], capture_output=True).stdout
        with open(der, "rb") as f:
            assert f.read() == out
    with open(pki.chain_ec_full) as f:
        assert f.read().count("BEGIN CERTIFICATE") == 2


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("leaf,tls12", [("rsa", False), ("ec", True)], ids=["rsa-tls13", "ecdsa-tls12"])
def test_chromium_opens_nginx_and_resumes(pki, nginx, tmp_path, leaf, tls12):
    """One browser process, two TLS connections: the page, then its script's fetch (nginx closes each
    connection); the DOM holds both answers; the second connection resumed ("r"). Screenshot and key log from the
    same run."""
    srv = nginx(getattr(pki, leaf + "_cert"), getattr(pki, leaf + "_key"), tls="intermediate", tls12_only=tls12,
                keepalive=False, root_html=W.two_connection_page(marker="hello from nginx"),
                pages={"second.txt": "second answer %s" % leaf})
    shot, keylog = str(tmp_path / "page.png"), str(tmp_path / "keys.log")
    r = W.chromium_fetch(srv.url("/"), pki.ca_pem, budget_ms=5000, screenshot=shot, window_size=(640, 480),
                         keylog=keylog)
    assert r.rc == 0, r
    assert "hello from nginx" in r.dom and "second answer %s" % leaf in r.dom, r
    lines = {ln["request"].split(" ")[1]: ln for ln in W.wait_for_log(srv, 2)}
    first, second = lines["/"], lines["/second.txt"]
    assert first["connection"] != second["connection"], lines
    assert first["reused"] == "." and second["reused"] == "r", lines
    if tls12:
        assert first["protocol"] == "TLSv1.2" and first["cipher"] == "ECDHE-ECDSA-AES128-GCM-SHA256", first
    else:
        assert first["protocol"] == "TLSv1.3", first
    assert _png_size(shot) == (640, 480)
    with open(keylog) as f:
        labels = {ln.split(" ")[0] for ln in f if ln.strip()}
    assert labels & {"CLIENT_RANDOM", "CLIENT_TRAFFIC_SECRET_0"}, labels


def test_chromium_without_the_ca_refuses(pki, nginx, tmp_path):
    """The NSS db is what makes Chromium trust the test CA: with another CA the page does not load."""
    other = W.make_pki(str(tmp_path / "other"))
    srv = nginx(pki.rsa_cert, pki.rsa_key)
    r = W.chromium_fetch(srv.url("/"), other.ca_pem)
    assert "microticket test page" not in r.dom, r
    assert not [ln for ln in srv.log_lines() if ln["request"].startswith("GET / ")]


def test_curl_resumes(pki, nginx):
    srv = nginx(pki.rsa_cert, pki.rsa_key, tls12_only=True)
    rc, out = W.run_curl(srv.url("/"), pki.ca_pem, urls=2)
    assert rc == 0 and out.count("microticket test page") == 2, out
    assert W.curl_resumed(out) == 1, out
    lines = W.wait_for_log(srv, 2)
    assert [ln["reused"] for ln in lines] == [".", "r"], lines
    assert lines[0]["connection"] != lines[1]["connection"]
    # the client's order counts (ssl_prefer_server_ciphers off): OpenSSL's puts AES-256 first
    assert lines[0]["cipher"] == "ECDHE-RSA-AES256-GCM-SHA384", lines
    assert lines[0]["cipher"] in W.MOZ_INTERMEDIATE_CIPHERS.split(":")


def test_gnutls_cli_resumes(pki, nginx):
    srv = nginx(pki.ec_cert, pki.ec_key)
    rc, out = W.run_gnutls_cli(srv.port, pki.ca_pem, resume=True)
    assert rc == 0 and "This is a resumed session" in out, out
    assert [ln["reused"] for ln in W.wait_for_log(srv, 1)] == ["r"]  # the request goes on the resumed one
    rc, out = W.run_gnutls_cli(srv.port, pki.ca_pem, resume=False,
                               priority="NORMAL:-VERS-ALL:+VERS-TLS1.2")
    assert rc == 0 and "- Description: (TLS1.2-X.509)-(ECDHE-SECP256R1)-(ECDSA-SHA256)-(AES-256-GCM)" in out, out


def test_wget_fetches_and_never_resumes(pki, nginx):
    srv = nginx(pki.rsa_cert, pki.rsa_key, tls12_only=True)
    rc, out = W.run_wget(srv.url("/"), pki.ca_pem, urls=2)
    assert rc == 0 and out.count("microticket test page") == 2, out
    lines = W.wait_for_log(srv, 2)
    assert len({ln["connection"] for ln in lines}) == 2 and [ln["reused"] for ln in lines] == [".", "."], lines


def test_s_client_p256_only(pki, nginx):
    srv = nginx(pki.ec_cert, pki.ec_key, curves="prime256v1", tls12_only=True)
    rc, out = W.run_s_client(srv.port, ["-tls1_2", "-servername", "localhost", "-CAfile", pki.ca_pem],
                             data=b"GET / HTTP/1.0\r\n\r\n")
    assert rc == 0 and "Server Temp Key: ECDH, prime256v1, 256 bits" in out, out
    assert "Verify return code: 0 (ok)" in out and "Cipher is ECDHE-ECDSA-AES256-GCM-SHA384" in out, out
    assert W.wait_for_log(srv, 1)[0]["curve"] == "prime256v1"
    rc, out = W.run_s_client(srv.port, ["-tls1_2", "-groups", "X25519"])
    assert rc != 0, out  # X25519 alone: no shared group


def test_debian_config_serves(pki, nginx):
    srv = nginx(pki.rsa_cert, pki.rsa_key, tls="debian")
    rc, out = W.run_curl(srv.url("/"), pki.ca_pem, urls=2)
    assert rc == 0 and out.count("microticket test page") == 2 and W.curl_resumed(out) == 1, out
    assert [ln["reused"] for ln in W.wait_for_log(srv, 2)] == [".", "r"]


def test_nginx_port_taken_is_retried(pki, nginx, monkeypatch):
    """nginx cannot bind port 0: told a port that another process holds, it fails with "Address already in
    use" and start_nginx starts it again on another."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    picks = []
    real = procs.pick_ports

    def pick(n=1, udp=False):
        picks.append(1)
        return [port] if len(picks) == 1 else real(n, udp)

    monkeypatch.setattr(procs, "pick_ports", pick)
    try:
        srv = nginx(pki.rsa_cert, pki.rsa_key)
    finally:
        taken.close()
    assert len(picks) == 2 and srv.port != port
    rc, out = W.run_curl(srv.url("/"), pki.ca_pem)
    assert rc == 0 and "microticket test page" in out, out


def test_missing_tool_skips():
    with pytest.raises(pytest.skip.Exception):
        W.need("no-such-tool-microticket")
