"""The AEAD and SHA-1 MAC suites against OpenSSL 3, both directions, both runtimes: AES-128-GCM (RFC 5288,
RFC 5487), ChaCha20-Poly1305 (RFC 7905), AES-128-CCM_8 (RFC 6655, the IoT profile's suite of RFC 7925) and
ECDHE_RSA with CBC-SHA1 (what browsers still offer), each a full handshake then a resumption from the
ticket; OpenSSL is told to speak only the suite under test, our side offers its defaults."""

import pytest

import tlspeers as P

pytestmark = [pytest.mark.interop, pytest.mark.skipif(not P.have("openssl"), reason="openssl missing")]

RUNTIMES = P.runtimes()

PSK_SUITES = [("PSK-AES128-GCM-SHA256", "TLS_PSK_WITH_AES_128_GCM_SHA256"),
              ("PSK-CHACHA20-POLY1305", "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"),
              ("ECDHE-PSK-CHACHA20-POLY1305", "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"),
              ("PSK-AES128-CCM8", "TLS_PSK_WITH_AES_128_CCM_8")]
RSA_SUITES = [("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
              ("ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
              ("ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")]


@pytest.fixture(scope="module")
def rsa_cert(tmp_path_factory):
    return P.make_rsa_cert(str(tmp_path_factory.mktemp("cert")))



@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("ossl,name", PSK_SUITES)
def test_our_client_against_openssl_psk(runtime, ossl, name, tmp_path):
    P.skip_missing(runtime)
    srv = P.start_openssl_psk_server(cipher=ossl)
    args = ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--cache", str(tmp_path / "c.json"),
            "--send", "hello\n"]
    o1, o2 = P.client_full_then_resumed(srv, args, runtime, reply="olleh")
    assert o1["suite"] == name


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("ossl,name", PSK_SUITES)
def test_openssl_psk_client_against_our_server(runtime, ossl, name, tmp_path):
    P.skip_missing(runtime)
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX], runtime)
    sess = str(tmp_path / "sess.pem")
    try:
        a = P.run_openssl_psk_client(srv.port, sess_out=sess, cipher=ossl, data=b"ping\n").stdout.decode()
        b = P.run_openssl_psk_client(srv.port, sess_in=sess, cipher=ossl, data=b"ping\n").stdout.decode()
    finally:
        log = srv.stop()
    assert "New, " in a and "Cipher is " + ossl in a, a + log
    assert "Reused, " in b and "Cipher is " + ossl in b, b + log


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("ossl,name", RSA_SUITES)
def test_our_client_against_openssl_rsa(runtime, ossl, name, rsa_cert, tmp_path):
    P.skip_missing(runtime)
    cert, key, cert_pin, _ = rsa_cert
    srv = P.start_openssl_cert_server(cert, key, extra=["-cipher", ossl])
    args = ["--pin-sha256", cert_pin, "--cache", str(tmp_path / "c.json"), "--send", "hi\n"]
    o1, o2 = P.client_full_then_resumed(srv, args, runtime, reply="ih")
    assert o1["suite"] == name


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("ossl,name", RSA_SUITES)
def test_openssl_rsa_client_against_our_server(runtime, ossl, name, rsa_cert, tmp_path):
    P.skip_missing(runtime)
    cert, key, _, _ = rsa_cert
    srv = P.start_our_server(["--cert", cert, "--key", key], runtime)
    sess = str(tmp_path / "sess.pem")
    common = ["-connect", "127.0.0.1:%d" % srv.port, "-tls1_2", "-cipher", ossl]
    try:
        a = P.subprocess.run(["openssl", "s_client"] + common + ["-sess_out", sess], input=b"ping\n",
                             capture_output=True, timeout=30).stdout.decode()
        b = P.subprocess.run(["openssl", "s_client"] + common + ["-sess_in", sess], input=b"ping\n",
                             capture_output=True, timeout=30).stdout.decode()
    finally:
        log = srv.stop()
    assert "New, " in a and "Cipher is " + ossl in a, a + log
    assert "Peer signature type: RSA-PSS" in a  # rsa_pss_rsae_sha256: OpenSSL offers it, we prefer it
    assert "Reused, " in b, b + log
