"""Interop with GnuTLS: `gnutls-cli --resume` against our server (PSK priority string), and our client
against `gnutls-serv` with a PSK password file; CPython and MicroPython."""

import subprocess

import pytest

import tlspeers as P

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(not (P.have("gnutls-cli") and P.have("gnutls-serv")), reason="gnutls missing")]

RUNTIMES = P.runtimes()


@pytest.mark.parametrize("runtime", RUNTIMES)
# ECDHE-PSK is left out: gnutls-cli 3.7.9 segfaults after the handshake with ECDHE-PSK against gnutls-serv
# itself too (checked by hand); our server <-> GnuTLS ECDHE-PSK is covered by our client -> gnutls-serv.
@pytest.mark.parametrize("kx", ["PSK"])
def test_gnutls_cli_resumes_from_our_server(runtime, kx):
    if runtime == "micropython" and P.micropython_bin() is None:
        pytest.skip("micropython missing")
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX], runtime)
    port = srv.port
    prio = "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+%s:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA256" % kx
    try:
        r = subprocess.run(["gnutls-cli", "-p", str(port), "127.0.0.1", "--pskusername", P.PSK_ID,
                            "--pskkey", P.PSK_HEX, "--priority", prio, "--resume"],
                           input=b"hello\n", capture_output=True, timeout=60)
    finally:
        log = srv.stop()
    out = r.stdout.decode() + r.stderr.decode()
    assert "(%s)-(AES-128-CBC)-(SHA256)" % kx in out, out + log
    assert "This is a resumed session" in out, out + log


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_our_client_resumes_from_gnutls_serv(runtime, tmp_path):
    """RFC 5077 ticket resumption against GnuTLS (which picks the suite: ECDHE-PSK or PSK)."""
    if runtime == "micropython" and P.micropython_bin() is None:
        pytest.skip("micropython missing")
    srv = P.start_gnutls_psk_server(str(tmp_path / "psk.txt"))
    cache = str(tmp_path / "cache.json")
    args = ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--cache", cache, "--send", "hello\n"]
    P.client_full_then_resumed(srv, args, runtime, reply="hello")
