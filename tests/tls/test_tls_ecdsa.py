"""ECDHE_ECDSA (RFC 8422 with a P-256 certificate, ecdsa_secp256r1_sha256) in process: our server signs with
a P-256 key (SEC 1 and PKCS#8 files from openssl), our client checks the pin and the signature, on every
record protection; secp256r1 ECDHE when the client offers no x25519; tickets for such sessions."""

import hashlib

import pytest

from microticket.pk import keys, pem
from microticket.ticket import KeyRing
from microticket.tls import const as C
from microticket.tls.cache import TicketCache
from microticket.tls.client import Client
from microticket.tls.server import ServerConfig, TlsServer

import tlspeers as P
import webpeers as W

from consts import TLS_T0 as T0


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return W.make_pki(str(tmp_path_factory.mktemp("pki")))


def _cfg(pki, key_file):
    chain = pem.read_pem_certs(open(pki.ec_cert).read())
    return ServerConfig(KeyRing.generate(T0), cert_chain=chain, key=keys.load_private_key(open(key_file).read()))


def _pin(pki):
    return hashlib.sha256(open(pki.ec_der, "rb").read()).digest()


@pytest.mark.parametrize("suite", [None, C.ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                                   C.ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, C.ECDHE_ECDSA_WITH_AES_128_CBC_SHA])
@pytest.mark.parametrize("key", ["sec1", "pkcs8"])
def test_full_then_resumed(pki, suite, key):
    cfg = _cfg(pki, pki.ec_key if key == "sec1" else pki.ec_key_pkcs8)
    assert cfg.suites[0] == C.ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 and \
        all(P.const_kx(s) != "RSA" for s in cfg.suites if s >> 8 != 0x13)  # a P-256 key: no ECDHE_RSA suite
    cache = TicketCache()
    suites = [suite] if suite else None
    c, s = P.pump(Client("h:443", pin_sha256=_pin(pki), cache=cache, suites=suites, max_version=0x0303), TlsServer(cfg), T0)
    assert c.handshake_done and c.suite == (suite or C.ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
    assert s.sig_scheme == C.SIG_ECDSA_SECP256R1_SHA256 and s.group == C.GROUP_X25519
    c, s = P.pump(Client("h:443", pin_sha256=_pin(pki), cache=cache, suites=suites, max_version=0x0303), TlsServer(cfg), T0 + 1)
    assert c.resumed and s.resumed
    c.send(b"ping")
    assert s.receive_data(c.data_to_send(), T0 + 1) == [("data", b"ping")]


def test_secp256r1_when_the_client_has_no_x25519(pki):
    cfg = _cfg(pki, pki.ec_key)
    c = Client("h:443", pin_sha256=_pin(pki), max_version=0x0303)
    c.start(T0)
    ch = bytes(c.data_to_send())
    groups = b"\x00\x0a\x00\x06\x00\x04\x00\x1d\x00\x17"
    assert groups in ch
    s = TlsServer(cfg)
    # the same length: secp256r1 twice (a client that has only P-256)
    out = s.receive_data(ch.replace(groups, b"\x00\x0a\x00\x06\x00\x04\x00\x17\x00\x17"), T0)
    assert out == [] and s.group == C.GROUP_SECP256R1
    # the client's transcript differs from the server's now (we changed its hello): only the key exchange
    # is checked here, through the ServerKeyExchange it must accept (P-256 params, ECDSA signature)
    ev = c.receive_data(s.data_to_send(), T0)
    assert not c.closed and c.state == 5, ev  # its ClientKeyExchange (a P-256 share) sent: waiting for the server
    cke = c.data_to_send()
    assert b"\x10\x00\x00\x42\x41\x04" in cke  # ClientKeyExchange: ECPoint of 65 bytes, uncompressed


def test_forged_signature_and_wrong_key_kind(pki, tmp_path):
    cfg = _cfg(pki, pki.ec_key)

    def flip(direction, data):
        i = data.find(b"\x04\x03\x00")  # ecdsa_secp256r1_sha256, then the signature's length
        if direction == "s2c" and i > 0:
            j = i + 4 + 10  # inside the DER signature (r's bytes)
            data = data[:j] + bytes([data[j] ^ 1]) + data[j + 1:]
        return data
    c, s = P.pump(Client("h:443", pin_sha256=_pin(pki), max_version=0x0303), TlsServer(cfg), T0, tamper=flip)
    assert c.alert_sent == C.DECRYPT_ERROR and not c.handshake_done
    # an RSA certificate pinned by a client that gets an ECDSA suite: the key does not fit the suite
    cert, key, cert_pin, _ = P.make_rsa_cert(str(tmp_path))
    from microticket.pk import rsa_sign
    rcfg = ServerConfig(KeyRing.generate(T0), cert_chain=pem.read_pem_certs(open(cert).read()),
                        key=rsa_sign.load_private_key_pem(open(key).read()),
                        suites=[C.ECDHE_RSA_WITH_AES_128_GCM_SHA256])
    c = Client("h:443", pin_sha256=bytes.fromhex(cert_pin), suites=[C.ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                                                                      C.ECDHE_RSA_WITH_AES_128_GCM_SHA256])
    c, s = P.pump(c, TlsServer(rcfg), T0)
    assert c.handshake_done and c.suite == C.ECDHE_RSA_WITH_AES_128_GCM_SHA256


def test_a_key_that_does_not_match_the_suites_is_refused(pki):
    chain = pem.read_pem_certs(open(pki.ec_cert).read())
    with pytest.raises(ValueError):
        ServerConfig(None, cert_chain=chain, key=keys.load_private_key(open(pki.ec_key).read()),
                     suites=[C.ECDHE_RSA_WITH_AES_128_GCM_SHA256])
