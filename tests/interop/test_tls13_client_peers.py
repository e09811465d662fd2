"""Our client speaking TLS 1.3 (RFC 8446, issue 13) to real servers on loopback, on both runtimes, each a full
handshake then a resumption from the NewSessionTicket that came after it:

- openssl s_server -tls1_3 with an ECDSA P-256 or RSA certificate (pinned), stateless tickets; limited to
  P-256 (a HelloRetryRequest for secp256r1), to ChaCha20-Poly1305 or AES-128-CCM; with -allow_no_dhe_kex
  and our --psk-modes ke (psk_ke: the resumption sends no key share); an external PSK with no certificate;
- gnutls-serv with its defaults (it sends a CertificateRequest: we answer with an empty Certificate);
- CPython's ssl module as the server (TLS 1.3 and its tickets by default);
- the versions kept apart: a TLS 1.2 ticket is never offered as a TLS 1.3 PSK, nor a TLS 1.3 one in
  session_ticket; a server that says TLS 1.2 with the downgrade sentinel is refused;
- tshark decrypts a TLS 1.3 session with our client's key log (the TLS 1.3 SSLKEYLOGFILE lines).
nginx with Mozilla's "modern" configuration (TLS 1.3 only) is in test_tls_web_peers.py."""

import socket
import ssl
import subprocess
import threading

import pytest

import tlspeers as P
import webpeers as W
from procs import on_free_port

pytestmark = pytest.mark.interop

RUNTIMES = P.runtimes()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return P.self_signed_certs(str(tmp_path_factory.mktemp("certs13")))


def s_server(extra):
    return P.Peer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-rev"] + extra, stdin=True)


def twice(srv, args, runtime, reply="cba"):
    """Our client twice (full, then resumed) against ``srv`` (stopped here): both outputs."""
    o1, o2 = P.client_full_then_resumed(srv, args + ["--send", "abc\n"], runtime, reply=reply)
    assert o1["version"] == o2["version"] == "TLS 1.3", (o1, o2)
    return o1, o2


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_openssl_tls13_full_then_resumed(runtime, kind, certs, tmp_path):
    """ECDSA P-256 and RSA-PSS CertificateVerify, x25519, AES-128-GCM; the ticket came after the handshake."""
    cert, key, pin = certs[kind]
    srv = s_server(["-tls1_3", "-cert", cert, "-key", key])
    o1, o2 = twice(srv, ["--pin-sha256", pin, "--cache", str(tmp_path / "c.json")], runtime)
    assert o1["suite"] == "TLS_AES_128_GCM_SHA256"


@pytest.mark.parametrize("runtime,extra,suite", [
    # supported_groups P-256 only: our x25519 share gets a HelloRetryRequest for secp256r1
    ("cpython", ["-groups", "P-256"], "TLS_AES_128_GCM_SHA256"),
    pytest.param("micropython", ["-groups", "P-256"], "TLS_AES_128_GCM_SHA256", marks=pytest.mark.micropython),
    ("cpython", ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"], "TLS_CHACHA20_POLY1305_SHA256"),
    pytest.param("micropython", ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"], "TLS_CHACHA20_POLY1305_SHA256",
                 marks=pytest.mark.micropython),
    ("cpython", ["-ciphersuites", "TLS_AES_128_CCM_SHA256"], "TLS_AES_128_CCM_SHA256")])
def test_openssl_tls13_retry_and_suites(runtime, extra, suite, certs, tmp_path):
    P.skip_missing(runtime)
    cert, key, pin = certs["ec"]
    srv = s_server(["-tls1_3", "-cert", cert, "-key", key] + extra)
    o1, o2 = twice(srv, ["--pin-sha256", pin, "--cache", str(tmp_path / "c.json")], runtime)
    assert o1["suite"] == o2["suite"] == suite


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_psk_ke_resumption_sends_no_key_share(runtime, certs, tmp_path):
    """--psk-modes ke: the resumption is psk_ke (OpenSSL accepts it with -allow_no_dhe_kex), its ClientHello's
    key_share holds no share (seen by tshark); without -allow_no_dhe_kex OpenSSL asks for a share with a
    HelloRetryRequest, and the connection is a full handshake: never a failure."""
    P.skip_missing(runtime)
    cert, key, pin = certs["ec"]
    srv = s_server(["-tls1_3", "-cert", cert, "-key", key, "-allow_no_dhe_kex"])
    pcap = str(tmp_path / "ke.pcapng")
    cap = W.start_capture(srv.port, pcap) if P.have("tshark") else None
    args = ["--pin-sha256", pin, "--cache", str(tmp_path / "c.json"), "--psk-modes", "ke"]
    try:
        o1, o2 = twice(srv, args, runtime)
    finally:
        if cap is not None:
            W.stop_capture(cap, pcap, lambda hs: len(hs) >= 2)
    if cap is not None:
        out = subprocess.run(["tshark", "-r", pcap, "-Y", "tls.handshake.type == 1", "-T", "fields", "-e",
                              "tcp.stream", "-e", "tls.handshake.extension.type", "-e",
                              "tls.handshake.extensions_key_share_group"], capture_output=True, text=True,
                             timeout=60).stdout
        hellos = dict((int(x.split("\t")[0]), x.split("\t")[1:]) for x in out.splitlines() if "\t" in x)
        (e1, g1), (e2, g2) = hellos[min(hellos)], hellos[max(hellos)]
        assert "41" not in e1.split(",") and g1 == "29", out  # a full handshake: an x25519 share, no PSK
        assert "41" in e2.split(",") and g2 == "", out  # psk_ke: the PSK, key_share with no share in it
    strict = s_server(["-tls1_3", "-cert", cert, "-key", key])
    cache = str(tmp_path / "c2.json")
    try:
        r1 = P.run_our_client(strict.port, ["--pin-sha256", pin, "--cache", cache, "--psk-modes", "ke"], runtime)
        r2 = P.run_our_client(strict.port, ["--pin-sha256", pin, "--cache", cache, "--psk-modes", "ke"], runtime)
        r3 = P.run_our_client(strict.port, ["--pin-sha256", pin, "--cache", cache, "--psk-modes", "ke"], runtime)
    finally:
        strict.stop()
    # the empty key_share gets a HelloRetryRequest for x25519: a full handshake, never a failure
    for r in (r1, r2, r3):
        assert r.returncode == 0 and "resumed: no" in r.stdout and "ticket: yes" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_external_psk_tls13_no_certificate(runtime, tmp_path):
    """The IoT case: an external PSK ("ext binder"), no certificate at all; then a ticket resumes."""
    P.skip_missing(runtime)
    srv = s_server(["-tls1_3", "-nocert", "-psk", P.PSK_HEX, "-psk_identity", P.PSK_ID])
    o1, o2 = twice(srv, ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--cache", str(tmp_path / "c.json")],
                   runtime)
    assert o1["suite"] == "TLS_AES_128_GCM_SHA256"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_gnutls_serv_defaults(runtime, certs, tmp_path):
    """gnutls-serv with its default priorities asks for a client certificate (CertificateRequest): the
    client answers with an empty Certificate and resumes from GnuTLS's ticket."""
    P.skip_missing(runtime)
    if not P.have("gnutls-serv"):
        pytest.skip("gnutls-serv missing")
    cert, key, pin = certs["ec"]
    srv = on_free_port(lambda p: P.Peer(["gnutls-serv", "--x509certfile", cert, "--x509keyfile", key, "-p", str(p),
                                         "--echo"], port=p))
    o1, o2 = twice(srv, ["--pin-sha256", pin, "--cache", str(tmp_path / "c.json")], runtime, reply="abc")
    assert o1["suite"] == "TLS_AES_128_GCM_SHA256"


def _python_server(cert, key, n):
    """CPython's ssl as a TLS 1.3 server (its defaults: tickets on) serving ``n`` connections in a thread,
    echoing one read; returns (port, thread, [session_reused per connection])."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    ls.settimeout(60)
    reused = []

    def run():
        try:
            for _ in range(n):
                conn, _ = ls.accept()
                with ctx.wrap_socket(conn, server_side=True) as s:
                    s.settimeout(30)
                    data = s.recv(100)
                    reused.append((s.version(), s.session_reused))
                    s.sendall(data[::-1].strip() + b"\n")
        finally:
            ls.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return ls.getsockname()[1], t, reused


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_python_ssl_server(runtime, certs, tmp_path):
    P.skip_missing(runtime)
    cert, key, pin = certs["rsa"]
    port, t, reused = _python_server(cert, key, 2)
    args = ["--pin-sha256", pin, "--cache", str(tmp_path / "c.json"), "--send", "abc\n"]
    r1 = P.run_our_client(port, args, runtime)
    r2 = P.run_our_client(port, args, runtime)
    t.join(30)
    o1, o2 = P.parse_client_output(r1.stdout), P.parse_client_output(r2.stdout)
    assert (o1.get("version"), o1.get("resumed"), o1.get("reply")) == ("TLS 1.3", "no", "cba"), r1.stdout + r1.stderr
    assert (o2.get("version"), o2.get("resumed")) == ("TLS 1.3", "yes"), r2.stdout + r2.stderr
    assert reused == [("TLSv1.3", False), ("TLSv1.3", True)]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tickets_stay_with_their_version(runtime, certs, tmp_path):
    """One cache, the same server name, a TLS 1.2 server then a TLS 1.3 one then TLS 1.2 again: the TLS 1.2
    ticket is not offered as a TLS 1.3 PSK (a full TLS 1.3 handshake), the TLS 1.3 ticket not in
    session_ticket (a full TLS 1.2 handshake); each then resumes on its own version."""
    P.skip_missing(runtime)
    cert, key, pin = certs["ec"]
    cache = str(tmp_path / "c.json")
    args = ["--pin-sha256", pin, "--cache", cache, "--server-name", "board.example"]
    got = []
    for version in ("-tls1_2", "-tls1_3", "-tls1_2"):
        srv = s_server([version, "-cert", cert, "-key", key])
        try:
            for _ in range(2):
                r = P.run_our_client(srv.port, args, runtime)
                o = P.parse_client_output(r.stdout)
                got.append((o.get("version"), o.get("resumed")))
        finally:
            srv.stop()
    assert got == [("TLS 1.2", "no"), ("TLS 1.2", "yes"), ("TLS 1.3", "no"), ("TLS 1.3", "yes"),
                   ("TLS 1.2", "no"), ("TLS 1.2", "yes")]


def test_tshark_decrypts_tls13_with_our_key_log(certs, tmp_path):
    """The TLS 1.3 key log lines (CLIENT_HANDSHAKE_TRAFFIC_SECRET ... EXPORTER_SECRET): tshark decrypts the
    handshake (EncryptedExtensions, Certificate, CertificateVerify, Finished) and the application data."""
    if not P.have("tshark"):
        pytest.skip("tshark missing")
    cert, key, pin = certs["ec"]
    srv = s_server(["-tls1_3", "-cert", cert, "-key", key])
    pcap, keys = str(tmp_path / "t13.pcapng"), str(tmp_path / "keys.txt")
    cap = W.start_capture(srv.port, pcap)
    if cap is None:
        srv.stop()
        pytest.skip("cannot capture on lo: " + W.start_capture.why[-300:])
    try:
        r = P.run_our_client(srv.port, ["--pin-sha256", pin, "--keylog", keys, "--send", "tshark sees this\n"])
    finally:
        W.stop_capture(cap, pcap, lambda hs: 20 in sum(hs.values(), []))
        srv.stop()
    assert "reply: siht sees krahst" in r.stdout, r.stdout + r.stderr
    labels = sorted(line.split()[0] for line in open(keys).read().splitlines())
    assert labels == ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
                      "SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"]
    out = subprocess.run(["tshark", "-r", pcap, "-o", "tls.keylog_file:" + keys, "-T", "fields", "-e",
                          "tls.handshake.type", "-e", "tls.app_data_proto", "-e", "data.text", "-o",
                          "data.show_as_text:TRUE"], capture_output=True, text=True, timeout=60).stdout
    types = set(t for line in out.splitlines() for t in line.split("\t")[0].split(",") if t)
    assert {"1", "2", "8", "11", "15", "20", "4"} <= types, out
    assert "tshark sees this" in out or "siht sees krahst" in out, out
