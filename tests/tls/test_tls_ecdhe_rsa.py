"""ECDHE_RSA (RFC 8422 with X25519, rsa_pss_rsae_sha256 or rsa_pkcs1_sha256) in process: certificate / SPKI
pinning on the client, the ServerKeyExchange signature checked, tickets for certificate-authenticated
sessions, on every record protection (GCM, ChaCha20-Poly1305, CBC with SHA-256 and SHA-1)."""

import hashlib

import pytest

from microticket.pk import der, pem, rsa, rsa_sign
from microticket.ticket import KeyRing
from microticket.tls import const as C
from microticket.tls.cache import TicketCache
from microticket.tls.client import Client
from microticket.tls.server import ServerConfig, TlsServer

import tlspeers as P

from consts import TLS_T0 as T0


@pytest.fixture(scope="module")
def creds(tmp_path_factory):
    cert, key, cert_pin, spki_pin = P.make_rsa_cert(str(tmp_path_factory.mktemp("rsa")))
    chain = pem.read_pem_certs(open(cert).read())
    cfg = ServerConfig(KeyRing.generate(T0), cert_chain=chain, key=rsa_sign.load_private_key_pem(open(key).read()))
    return cfg, bytes.fromhex(cert_pin), bytes.fromhex(spki_pin)


def pair(cfg, pin, cache, now=T0, tamper=None, suites=None):
    c = Client("host:443", pin_sha256=pin, cache=cache, suites=suites, max_version=0x0303)
    s = TlsServer(cfg)
    c.trace = []
    s.trace = []
    return P.pump(c, s, now, tamper=tamper)


@pytest.mark.parametrize("which,suite", [
    ("cert", None), ("spki", None), ("cert", C.ECDHE_RSA_WITH_AES_128_CBC_SHA256),
    ("cert", C.ECDHE_RSA_WITH_AES_128_CBC_SHA), ("cert", C.ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)])
def test_full_then_resumed(creds, which, suite):
    cfg, cert_pin, spki_pin = creds
    cache = TicketCache()
    suites = [suite] if suite else None
    c, s = pair(cfg, cert_pin if which == "cert" else spki_pin, cache, suites=suites)
    # the default: AES-128-GCM, the server's first choice for an RSA key
    assert c.handshake_done and s.handshake_done and c.suite == (suite or C.ECDHE_RSA_WITH_AES_128_GCM_SHA256)
    assert s.sig_scheme == C.SIG_RSA_PSS_RSAE_SHA256  # the client offers PSS: preferred
    assert P.names(s.trace, "send") == ["ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone",
                                        "NewSessionTicket", "ChangeCipherSpec", "Finished"]
    c, s = pair(cfg, cert_pin, cache, T0 + 1, suites=suites)
    assert c.resumed and s.resumed and c.suite == (suite or C.ECDHE_RSA_WITH_AES_128_GCM_SHA256)
    assert P.names(s.trace, "send") == ["ServerHello", "NewSessionTicket", "ChangeCipherSpec", "Finished"]
    c.send(b"x" * 3000)
    assert s.receive_data(c.data_to_send(), T0 + 1) == [("data", b"x" * 3000)]
    got = b""
    for i in range(0, 20000, s.max_send()):  # records of up to 16 KB, one at a time
        s.send(b"y" * min(s.max_send(), 20000 - i))
        got += b"".join(e[1] for e in c.receive_data(s.data_to_send(), T0 + 1))
    assert got == b"y" * 20000


def test_wrong_pin_is_bad_certificate(creds):
    cfg, _, _ = creds
    c, s = pair(cfg, hashlib.sha256(b"someone else").digest(), TicketCache())
    assert c.alert_sent == C.BAD_CERTIFICATE and s.alert_received == C.BAD_CERTIFICATE


def test_forged_server_key_exchange_signature(creds):
    cfg, pin, _ = creds

    def flip_sig(direction, data):
        if direction == "s2c" and b"\x08\x04\x01\x00" in data:  # sig alg 0x0804, 256-byte signature
            i = data.index(b"\x08\x04\x01\x00") + 10
            data = data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]
        return data
    c, s = pair(cfg, pin, TicketCache(), tamper=flip_sig)
    assert c.alert_sent == C.DECRYPT_ERROR and not c.handshake_done


_SIGALGS = b"\x00\x0d\x00\x08\x00\x06\x04\x03\x08\x04\x04\x01"  # ecdsa, rsa_pss, rsa_pkcs1 sha256


def _hello_with(cfg, pin, old, new):
    c = Client("h", pin_sha256=pin, max_version=0x0303)
    c.start(T0)
    ch = bytes(c.data_to_send())
    assert old in ch
    s = TlsServer(cfg)
    return s, s.receive_data(ch.replace(old, new), T0)


def test_client_without_shared_group_or_sigalg(creds):
    cfg, pin, _ = creds
    # signature_algorithms: ecdsa_secp256r1_sha256 only, for an RSA key
    s, ev = _hello_with(cfg, pin, _SIGALGS, _SIGALGS[:6] + b"\x04\x03" * 3)
    assert ("alert", C.HANDSHAKE_FAILURE, False) in ev
    # supported_groups: none we have (secp384r1, ffdhe2048)
    s, ev = _hello_with(cfg, pin, b"\x00\x0a\x00\x06\x00\x04\x00\x1d\x00\x17", b"\x00\x0a\x00\x06\x00\x04\x00\x18\x01\x00")
    assert ("alert", C.HANDSHAKE_FAILURE, False) in ev


def test_pkcs1_when_the_client_has_no_pss(creds):
    cfg, pin, _ = creds
    s, ev = _hello_with(cfg, pin, _SIGALGS, _SIGALGS[:6] + b"\x04\x01" * 3)
    assert s.sig_scheme == C.SIG_RSA_PKCS1_SHA256 and s.state == 2  # waiting for ClientKeyExchange
