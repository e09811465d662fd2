"""ECDHE_RSA (RFC 8422 with X25519, rsa_pkcs1_sha256) in process: certificate / SPKI pinning on the client,
the ServerKeyExchange signature checked, tickets for certificate-authenticated sessions."""

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
    cfg = ServerConfig(KeyRing.generate(T0), cert_chain=chain, rsa_key=rsa_sign.load_private_key_pem(open(key).read()))
    return cfg, bytes.fromhex(cert_pin), bytes.fromhex(spki_pin)


def pair(cfg, pin, cache, now=T0, tamper=None):
    c = Client("host:443", pin_sha256=pin, cache=cache)
    s = TlsServer(cfg)
    c.trace = []
    s.trace = []
    return P.pump(c, s, now, tamper=tamper)


@pytest.mark.parametrize("which", ["cert", "spki"])
def test_full_then_resumed(creds, which):
    cfg, cert_pin, spki_pin = creds
    cache = TicketCache()
    c, s = pair(cfg, cert_pin if which == "cert" else spki_pin, cache)
    assert c.handshake_done and s.handshake_done and c.suite == C.ECDHE_RSA_WITH_AES_128_CBC_SHA256
    assert P.names(s.trace, "send") == ["ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone",
                                        "NewSessionTicket", "ChangeCipherSpec", "Finished"]
    c, s = pair(cfg, cert_pin, cache, T0 + 1)
    assert c.resumed and s.resumed
    assert P.names(s.trace, "send") == ["ServerHello", "NewSessionTicket", "ChangeCipherSpec", "Finished"]


def test_wrong_pin_is_bad_certificate(creds):
    cfg, _, _ = creds
    c, s = pair(cfg, hashlib.sha256(b"someone else").digest(), TicketCache())
    assert c.alert_sent == C.BAD_CERTIFICATE and s.alert_received == C.BAD_CERTIFICATE


def test_forged_server_key_exchange_signature(creds):
    cfg, pin, _ = creds

    def flip_sig(direction, data):
        if direction == "s2c" and b"\x04\x01\x01\x00" in data:  # sig alg 0x0401, 256-byte signature
            i = data.index(b"\x04\x01\x01\x00") + 10
            data = data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]
        return data
    c, s = pair(cfg, pin, TicketCache(), tamper=flip_sig)
    assert c.alert_sent == C.DECRYPT_ERROR and not c.handshake_done


def test_client_without_shared_group_or_sigalg(creds):
    cfg, pin, _ = creds
    c = Client("h", pin_sha256=pin)
    c.start(T0)
    ch = bytearray(c.data_to_send())
    i = ch.index(b"\x00\x0d\x00\x04\x00\x02\x04\x01")  # signature_algorithms: rsa_pkcs1_sha256 only
    ch[i + 6:i + 8] = b"\x04\x03"                        # -> ecdsa_secp256r1_sha256
    s = TlsServer(cfg)
    ev = s.receive_data(bytes(ch), T0)
    assert ("alert", C.HANDSHAKE_FAILURE, False) in ev
