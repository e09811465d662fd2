"""ALPN (RFC 7301) in the engine, both roles, TLS 1.2 and 1.3: microticket.tls.alpn. Real peers: openssl and
curl in tests/interop/test_tls_alpn_peers.py."""

import pytest

import tlspeers as P
from microticket.errors import TlsAlert
from microticket.ticket import KeyRing
from microticket.tls import alpn
from microticket.tls.cache import TicketCache

V12, V13 = 0x0303, 0x0304
NOW = 1000


def _pair(version, offer, serve, cache=None):
    ring = KeyRing.generate(NOW)
    c = P.psk_client(cache=cache, max_version=version, alpn=offer)
    s = P.psk_server(ring, alpn=serve)
    P.pump(c, s, NOW)
    return c, s, ring


@pytest.mark.parametrize("version", [V12, V13])
def test_server_preference_in_both_versions_and_on_resumption(version):
    cache = TicketCache()
    c, s, ring = _pair(version, [b"h2", b"http/1.1"], [b"http/1.1", b"h2"], cache)
    assert c.handshake_done and s.handshake_done and not c.resumed
    assert c.alpn_protocol == s.alpn_protocol == b"http/1.1"  # the server's order decides
    # resumed from the ticket: ALPN is negotiated again (RFC 7301; TLS 1.3 in EncryptedExtensions)
    c2 = P.psk_client(cache=cache, max_version=version, alpn=[b"h2"])
    s2 = P.psk_server(ring, alpn=[b"http/1.1", b"h2"])
    P.pump(c2, s2, NOW + 1)
    assert c2.resumed and s2.resumed and c2.alpn_protocol == s2.alpn_protocol == b"h2"


@pytest.mark.parametrize("version", [V12, V13])
def test_no_protocol_in_common_is_no_application_protocol(version):
    c, s, _ = _pair(version, [b"mqtt"], [b"http/1.1"])
    assert s.alert_sent == 120 and c.alert_received == 120 and not c.handshake_done


@pytest.mark.parametrize("version", [V12, V13])
def test_without_alpn_on_either_side_nothing_is_agreed(version):
    c, s, _ = _pair(version, [b"h2"], None)  # a server without protocols ignores the extension
    assert c.handshake_done and c.alpn_protocol is None and s.alpn_protocol is None
    c, s, _ = _pair(version, None, [b"h2"])  # a client that offers none gets none
    assert c.handshake_done and c.alpn_protocol is None and s.alpn_protocol is None


@pytest.mark.parametrize("version", [V12, V13])
def test_client_refuses_a_protocol_it_did_not_offer(version, monkeypatch):
    # a server answering with another protocol than offered: the client aborts with illegal_parameter
    monkeypatch.setattr(alpn, "choose", lambda mine, d: (b"spdy/1", alpn.encode([b"spdy/1"])))
    c, s, _ = _pair(version, [b"h2"], [b"h2"])
    assert c.alert_sent == 47 and not c.handshake_done


def test_list_codec_and_malformed_lists():
    assert alpn.encode([b"h2", b"http/1.1"]) == b"\x00\x0c\x02h2\x08http/1.1"
    assert alpn.names(b"\x00\x0c\x02h2\x08http/1.1") == [b"h2", b"http/1.1"]
    for bad in (b"", b"\x00\x00", b"\x00\x04\x02h2", b"\x00\x04\x00\x02h2", b"\x00\x04\x03h2", b"\x00\x02\x05h"):
        with pytest.raises(TlsAlert) as e:
            alpn.names(bad)
        assert e.value.description == 50, bad
    for bad in ([], [b""], [b"x" * 256]):
        with pytest.raises(ValueError):
            alpn.encode(bad)


def test_the_servers_answer_is_one_protocol_it_was_offered():
    c = P.psk_client(alpn=[b"h2", b"http/1.1"])
    assert alpn.parse(c, b"\x00\x03\x02h2") == b"h2"
    for bad, code in ((b"\x00\x06\x02h2\x02h3", 50),  # two protocols
                      (b"\x00\x03\x03h2", 50),  # a name overrunning the list
                      (b"\x00\x03\x02h3", 47)):  # not offered
        with pytest.raises(TlsAlert) as e:
            alpn.parse(c, bad)
        assert e.value.description == code, bad


@pytest.mark.parametrize("version", [V12, V13])
def test_server_refuses_a_malformed_client_list(version):
    c = P.psk_client(max_version=version, alpn=[b"h2"])
    c.alpn = b"\x00\x03\x00h2"  # an empty name in the list
    s = P.psk_server(KeyRing.generate(NOW), alpn=[b"h2"])
    P.pump(c, s, NOW)
    assert s.alert_sent == 50 and not s.handshake_done
