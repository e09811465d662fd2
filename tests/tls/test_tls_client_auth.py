"""The client's certificate decision (microticket.tls.client_auth) on hand-made CertificateRequests: what a
server's request leads the client to send (a chain and scheme, or an empty Certificate), and malformed
requests. Against real servers (openssl -Verify/-verify, nginx ssl_verify_client): tests/interop/
test_tls_client_cert_peers.py."""

import pytest

from microticket.errors import TlsAlert
from microticket.tls import client_auth as A

ECDHE_ECDSA_GCM, PSK_CBC = 0xC02B, 0x00AE
CT_RSA, CT_ECDSA = 1, 64
PSS, PKCS1, ECDSA = 0x0804, 0x0401, 0x0403


class Key:
    def __init__(self, kind):
        self.kind = kind


class Stub:
    """What client_auth reads of a client: its suite and, when it has one, ``client_cert``."""

    def __init__(self, kind=None, suite=ECDHE_ECDSA_GCM):
        self.suite = suite
        self.calls = 0
        if kind:
            def load():
                self.calls += 1
                return [b"\x30leaf"], Key(kind)
            self.client_cert = load


def cr12(types, schemes, cas=b""):
    s = b"".join(bytes((x >> 8, x & 0xFF)) for x in schemes)
    return bytes((len(types),)) + bytes(types) + bytes((len(s) >> 8, len(s) & 0xFF)) + s + \
        bytes((len(cas) >> 8, len(cas) & 0xFF)) + cas


@pytest.mark.parametrize("kind,types,schemes,want", [
    ("p256", [CT_RSA, CT_ECDSA], [PSS, ECDSA], ECDSA),
    ("rsa", [CT_RSA, CT_ECDSA], [ECDSA, PSS, PKCS1], PSS),
    ("rsa", [CT_RSA], [PKCS1], PKCS1),      # a TLS 1.2 server without PSS: PKCS#1 v1.5
    ("p256", [CT_RSA], [PSS, ECDSA], 0),    # no ecdsa_sign type: an empty Certificate
    ("rsa", [CT_RSA, CT_ECDSA], [ECDSA], 0),
    (None, [CT_RSA, CT_ECDSA], [ECDSA, PSS], 0),  # no client certificate
])
def test_tls12_choice(kind, types, schemes, want):
    c = Stub(kind)
    A.request12(c, cr12(types, schemes, b"\x00\x03ab\x00"))
    assert c._cc[0] == want and (c._cc[1] is not None) == bool(want)
    from microticket.tls.kx_ecdhe_cert import certificate  # (TLS 1.2's builder, both roles)
    m = certificate(c._cc[1] or ())
    assert m[0] == 11 and (len(m) > 7) == bool(want)  # an empty certificate_list is 3 zero bytes


def test_tls12_request_refused_when_malformed_twice_or_with_a_psk_suite():
    for bad in (b"", b"\x00\x00\x02\x04\x03\x00\x00", cr12([CT_ECDSA], [ECDSA])[:-1], cr12([CT_ECDSA], [ECDSA]) + b"x",
                b"\x01\x40\x00\x03\x04\x03\x00\x00\x00"):
        with pytest.raises(TlsAlert) as e:
            A.request12(Stub("p256"), bad)
        assert e.value.description == 50, bad
    c = Stub("p256")
    A.request12(c, cr12([CT_ECDSA], [ECDSA]))
    with pytest.raises(TlsAlert) as e:
        A.request12(c, cr12([CT_ECDSA], [ECDSA]))
    assert e.value.description == 10
    with pytest.raises(TlsAlert) as e:
        A.request12(Stub("p256", suite=PSK_CBC), cr12([CT_ECDSA], [ECDSA]))
    assert e.value.description == 10


def cr13(schemes, ctx=b"", more=b""):
    s = b"".join(bytes((x >> 8, x & 0xFF)) for x in schemes)
    ext = b"\x00\x0d" + bytes(((len(s) + 2) >> 8, (len(s) + 2) & 0xFF, len(s) >> 8, len(s) & 0xFF)) + s + more
    return bytes((len(ctx),)) + ctx + bytes((len(ext) >> 8, len(ext) & 0xFF)) + ext


@pytest.mark.parametrize("kind,schemes,want", [
    ("p256", [PSS, ECDSA], ECDSA),
    ("rsa", [ECDSA, PSS], PSS),
    ("rsa", [PKCS1, ECDSA], 0),  # TLS 1.3 never signs with PKCS#1 v1.5 (RFC 8446 4.4.3)
])
def test_tls13_choice_and_certificate_with_its_context(kind, schemes, want):
    c = Stub(kind)
    b = cr13(schemes, b"ctx", b"\x00\x2f\x00\x00")  # and certificate_authorities (empty here), skipped
    A.request13(c, b, 1 + b[0])
    assert c._cc[0] == want
    m = A.certificate(c, b"\x03ctx")
    assert m[4:8] == b"\x03ctx"
    if want:  # one CertificateEntry: the DER, then its empty extensions
        assert m.endswith(b"\x30leaf\x00\x00")
    else:
        assert m[8:] == b"\x00\x00\x00"


def test_tls13_request_malformed():
    b = cr13([ECDSA])[:-1]
    with pytest.raises(TlsAlert) as e:
        A.request13(Stub("p256"), b, 1)
    assert e.value.description == 50


def test_the_credential_is_read_only_when_a_server_asks():
    c = Stub("p256")
    assert c.calls == 0
    A.request12(c, cr12([CT_ECDSA], [ECDSA]))
    assert c.calls == 1


def test_a_certificate_request_in_a_psk_suite_is_unexpected_message():
    """RFC 4279: no CertificateRequest in a PSK handshake. The server's flight (ServerHello, a
    ServerKeyExchange with its hint, ServerHelloDone) with one inserted before ServerHelloDone."""
    import tlspeers as P
    from microticket.ticket import KeyRing

    def insert_cr(direction, data):
        if direction != "s2c" or data[0] != 22:
            return data
        msgs, p = [], 0
        while p < len(data):  # the records' handshake messages
            n = (data[p + 3] << 8) | data[p + 4]
            body = bytes(data[p + 5:p + 5 + n])
            q = 0
            while q < len(body):
                k = (body[q + 1] << 16) | (body[q + 2] << 8) | body[q + 3]
                msgs.append(body[q:q + 4 + k])
                q += 4 + k
            p += 5 + n
        cr = cr12([CT_ECDSA], [ECDSA])
        out = b""
        for m in msgs:
            if m[0] == 14:  # ServerHelloDone
                out += b"\x16\x03\x03" + bytes(((len(cr) + 4) >> 8, (len(cr) + 4) & 0xFF)) + \
                    bytes((13, 0, len(cr) >> 8, len(cr) & 0xFF)) + cr
            out += b"\x16\x03\x03" + bytes((len(m) >> 8, len(m) & 0xFF)) + m
        return out
    c = P.psk_client()
    s = P.psk_server(KeyRing.generate(1000), psk_hint=b"hint")
    P.pump(c, s, 1000, tamper=insert_cr)
    assert c.alert_sent == 10 and not c.handshake_done, (c.alert_sent, c.error_message)
    assert "CertificateRequest" in c.error_message
