"""CPython's ssl module (OpenSSL underneath) as an ECDHE_RSA client of our server, resuming with
``session=`` and checking ``session_reused``; the server runs under CPython and MicroPython."""

import socket
import ssl

import pytest

import tlspeers as P

pytestmark = [pytest.mark.interop]

RUNTIMES = P.runtimes()


@pytest.fixture(scope="module")
def rsa_cert(tmp_path_factory):
    return P.make_rsa_cert(str(tmp_path_factory.mktemp("cert")))


def client_ctx(cafile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)  # our self-signed certificate is the trust anchor
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(P.OSSL_ECDHE_RSA)
    return ctx


def fetch(ctx, port, session=None):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data, s.session, s.session_reused, s.cipher()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_python_ssl_client_resumes_with_ticket(runtime, rsa_cert):
    if runtime == "micropython" and P.micropython_bin() is None:
        pytest.skip("micropython missing")
    cert, key, _, _ = rsa_cert
    srv = P.start_our_server(["--cert", cert, "--key", key], runtime)
    port = srv.port
    try:
        ctx = client_ctx(cert)
        body, sess, reused, cipher = fetch(ctx, port)
        assert body.startswith(b"HTTP/1.0 200 OK") and not reused
        assert cipher[0] == P.OSSL_ECDHE_RSA and cipher[1] == "TLSv1.2"
        # the hint is the session's remaining lifetime: the clock may tick between ClientHello
        # (session creation) and NewSessionTicket, more so for the RSA signature under MicroPython
        assert sess.has_ticket and 86398 <= sess.ticket_lifetime_hint <= 86400
        for _ in range(2):
            body, sess2, reused, _ = fetch(ctx, port, sess)
            assert reused and body.startswith(b"HTTP/1.0 200 OK")
            sess = sess2
    finally:
        log = srv.stop()
    assert "alert" not in log, log
