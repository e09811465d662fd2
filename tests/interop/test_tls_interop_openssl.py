"""Interop with OpenSSL 3: our server <- `openssl s_client` (resumption shows "Reused") and `openssl s_time`,
our client -> `openssl s_server -no_cache` (only a ticket can resume), on CPython and under MicroPython."""

import os
import re

import pytest

import tlspeers as P

pytestmark = [pytest.mark.interop, pytest.mark.skipif(not P.have("openssl"), reason="openssl missing")]

RUNTIMES = P.runtimes()


@pytest.fixture(scope="module")
def rsa_cert(tmp_path_factory):
    return P.make_rsa_cert(str(tmp_path_factory.mktemp("cert")))



def s_client_twice(port, tmp_path, **kw):
    sess = str(tmp_path / "sess.pem")
    first = P.run_openssl_psk_client(port, sess_out=sess, **kw)
    second = P.run_openssl_psk_client(port, sess_in=sess, **kw)
    return first.stdout.decode(), second.stdout.decode()


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("cipher", [P.OSSL_PSK, P.OSSL_ECDHE_PSK])
def test_openssl_client_resumes_from_our_server(runtime, cipher, tmp_path):
    P.skip_missing(runtime)
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX], runtime)
    port = srv.port
    try:
        a, b = s_client_twice(port, tmp_path, cipher=cipher, data=b"hello\n")
    finally:
        log = srv.stop()
    assert "New, " in a and "Cipher is " + cipher in a, a + log
    # the hint is the session's remaining lifetime: the session began at the ClientHello, the ticket is
    # made a flight later, so a second boundary in between gives 86399
    assert re.search(r"TLS session ticket lifetime hint: 8639[89]|TLS session ticket lifetime hint: 86400", a), a
    assert "Extended master secret: yes" in a
    assert "Reused, " in b, b + log


def test_openssl_client_resumption_with_ticket_key_file_across_restarts(tmp_path):
    """--keys: a ticket survives a server restart (same key ring loaded from the file)."""
    keys = str(tmp_path / "keys.json")
    args = ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--keys", keys]
    sess = str(tmp_path / "sess.pem")
    srv = P.start_our_server(args)
    try:
        a = P.run_openssl_psk_client(srv.port, sess_out=sess).stdout.decode()
    finally:
        srv.stop()
    assert os.path.exists(keys) and oct(os.stat(keys).st_mode & 0o777) == "0o600"
    srv = P.start_our_server(args)  # the ticket names no port: the restarted server may get another one
    try:
        b = P.run_openssl_psk_client(srv.port, sess_in=sess).stdout.decode()
    finally:
        srv.stop()
    assert "New, " in a and "Reused, " in b


def test_openssl_client_max_fragment_length_and_no_etm(tmp_path):
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX])
    port = srv.port
    try:
        a, b = s_client_twice(port, tmp_path, extra=["-maxfraglen", "2048", "-no_etm", "-ign_eof", "-tlsextdebug"],
                              data=b"GET / HTTP/1.0\r\n\r\n")
    finally:
        log = srv.stop()
    assert "New, " in a and 'TLS server extension "max fragment length"' in a, a + log
    assert "encrypt-then-mac" not in a
    assert "HTTP/1.0 200 OK" in a
    assert "Reused, " in b


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_openssl_ecdhe_rsa_client_resumes_from_our_server(runtime, rsa_cert, tmp_path):
    P.skip_missing(runtime)
    cert, key, _, _ = rsa_cert
    srv = P.start_our_server(["--cert", cert, "--key", key], runtime)
    port = srv.port
    sess = str(tmp_path / "s.pem")
    base = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2", "-cipher", P.OSSL_ECDHE_RSA]
    import subprocess
    try:
        a = subprocess.run(base + ["-sess_out", sess], input=b"", capture_output=True, timeout=60)
        b = subprocess.run(base + ["-sess_in", sess], input=b"", capture_output=True, timeout=60)
    finally:
        log = srv.stop()
    a = a.stdout.decode()
    b = b.stdout.decode()
    assert "New, " in a and "ECDHE-RSA-AES128-SHA256" in a and "Server Temp Key: X25519" in a, a + log
    assert "Reused, " in b, b + log


def test_openssl_s_time_reuse_against_our_server(rsa_cert):
    cert, key, _, _ = rsa_cert
    srv = P.start_our_server(["--cert", cert, "--key", key])
    port = srv.port
    import subprocess
    try:
        r = subprocess.run(["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-www", "/", "-time", "2",
                            "-reuse", "-cipher", P.OSSL_ECDHE_RSA], capture_output=True, timeout=60)
    finally:
        log = srv.stop()
    out = r.stdout.decode()
    assert "connections in" in out and "connections/user sec" in out, out + log
    # s_time -reuse: the resumed run reports connections; none of them failed ("ERROR" otherwise)
    assert "ERROR" not in out


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("cipher", [P.OSSL_PSK, P.OSSL_ECDHE_PSK])
def test_our_client_resumes_from_openssl_server_no_cache(runtime, cipher, tmp_path):
    """RFC 5077 against a server with no session cache: only the ticket can resume the session."""
    P.skip_missing(runtime)
    srv = P.start_openssl_psk_server(cipher=cipher)
    cache = str(tmp_path / "cache.json")
    args = ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--cache", cache, "--send", "hello\n"]
    o1, o2 = P.client_full_then_resumed(srv, args, runtime, reply="olleh")
    assert o1["suite"] == ("TLS_PSK_WITH_AES_128_CBC_SHA256" if cipher == P.OSSL_PSK
                           else "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256")
    if os.name == "posix":
        assert os.stat(cache).st_mode & 0o777 == 0o600


def test_our_client_empty_session_id_mfl_against_openssl(tmp_path):
    """RFC 5077 section 3.4 with an empty session ID (resumption told by the message after ServerHello),
    with max_fragment_length 2048 (RFC 6066 section 4) agreed by OpenSSL."""
    srv = P.start_openssl_psk_server(cipher=P.OSSL_PSK)
    port = srv.port
    cache = str(tmp_path / "cache.json")
    args = ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--cache", cache, "--send", "abc\n",
            "--empty-session-id", "--mfl", "3"]
    try:
        r1 = P.run_our_client(port, args)
        r2 = P.run_our_client(port, args)
    finally:
        log = srv.stop()
    o1 = P.parse_client_output(r1.stdout)
    o2 = P.parse_client_output(r2.stdout)
    assert o1.get("resumed") == "no", r1.stdout + r1.stderr + log
    assert o2.get("resumed") == "yes", r2.stdout + r2.stderr + log
    assert o1["reply"] == "cba" and o2["reply"] == "cba"


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("pin", ["cert", "spki"])
def test_our_client_ecdhe_rsa_pinned_against_openssl(runtime, pin, rsa_cert, tmp_path):
    P.skip_missing(runtime)
    cert, key, cert_pin, spki_pin = rsa_cert
    srv = P.start_openssl_cert_server(cert, key)
    port = srv.port
    cache = str(tmp_path / "cache.json")
    args = ["--pin-sha256", cert_pin if pin == "cert" else spki_pin, "--cache", cache, "--send", "hi\n"]
    try:
        r1 = P.run_our_client(port, args, runtime)
        r2 = P.run_our_client(port, args, runtime)
        bad = P.run_our_client(port, ["--pin-sha256", "00" * 32, "--cache", str(tmp_path / "x.json")], runtime)
    finally:
        log = srv.stop()
    o1 = P.parse_client_output(r1.stdout)
    assert o1.get("resumed") == "no" and o1["suite"] == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", r1.stdout + log
    assert P.parse_client_output(r2.stdout).get("resumed") == "yes"
    assert bad.returncode == 1 and "alert sent 42" in bad.stdout  # bad_certificate
