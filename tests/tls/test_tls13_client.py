"""The client's TLS 1.3 offer and its checks, in process (RFC 8446; real servers: tests/interop/test_tls13_client.py):
the ClientHello that offers TLS 1.3 beside TLS 1.2, the downgrade sentinel of section 4.1.3, a TLS 1.2
ServerHello that names a TLS 1.3 suite, psk_key_exchange_modes, TLS 1.2-only clients unchanged."""

import pytest

import tlspeers as P
from microticket.tls import cache as C
from microticket.tls.cache import TicketCache
from microticket.tls.client import Client

from consts import TLS_T0 as T0

EXT_SUPPORTED_GROUPS, EXT_PRE_SHARED_KEY, EXT_SUPPORTED_VERSIONS, EXT_PSK_MODES, EXT_KEY_SHARE = 10, 41, 43, 45, 51
EXT_SESSION_TICKET = 35


def client13(cache=None, **kw):
    kw.setdefault("psk_identity", P.PSK_IDENTITY)
    kw.setdefault("psk", P.PSK)
    return Client("srv:443", cache=cache, **kw)


def hello_exts(c):
    c.start(T0)
    return c._sent, c.data_to_send()


def test_default_offers_tls13_first_and_tls12():
    c = client13()
    sent, ch = hello_exts(c)
    assert c.suites[:3] == [0x1301, 0x1303, 0x1304] and 0x00AE in c.suites
    assert EXT_SUPPORTED_VERSIONS in sent and EXT_KEY_SHARE in sent and EXT_SESSION_TICKET in sent
    # the external PSK is offered (pre_shared_key, the last extension) with both modes
    assert sent[-1] == EXT_PRE_SHARED_KEY and EXT_PSK_MODES in sent
    assert ch[5 + 4 + 34] == 32  # legacy_session_id: 32 random bytes (middlebox compatibility)


def test_tls12_only_client_sends_no_tls13_extension():
    c = client13(max_version=0x0303)
    sent, _ = hello_exts(c)
    assert not {EXT_SUPPORTED_VERSIONS, EXT_KEY_SHARE, EXT_PRE_SHARED_KEY, EXT_PSK_MODES} & set(sent)
    assert all(s >> 8 != 0x13 for s in c.suites)


@pytest.mark.parametrize("modes,share", [(b"\x00", False), (b"\x01", True), (b"\x01\x00", True)])
def test_psk_ke_alone_sends_no_key_share(modes, share):
    """With psk_ke only and a TLS 1.3 ticket to offer, no key share: key_share's client_shares is empty
    (section 9.2 allows it; key_share and supported_groups go together)."""
    cache = TicketCache()
    cache.put("srv:443", C.entry(b"T" * 100, b"k" * 32, 0x1301, False, T0 - 10, 3600, age_add=77))
    c = client13(cache, psk_modes=modes)
    sent, ch = hello_exts(c)
    assert EXT_KEY_SHARE in sent and EXT_SUPPORTED_GROUPS in sent
    empty = b"\x00\x33\x00\x02\x00\x00"  # key_share, length 2, client_shares<0..2^16-1> empty
    assert (empty in ch) != share and (c._kx[0] != 0) == share
    assert sent[-1] == EXT_PRE_SHARED_KEY and EXT_SESSION_TICKET in sent
    assert c._kx[6] == (b"T" * 100, 10000, 77)  # identity, age in ms, ticket_age_add


def test_tls12_ticket_goes_in_session_ticket_only():
    cache = TicketCache()
    cache.put("srv:443", C.entry(b"U" * 100, b"m" * 48, 0xC02B, True, T0 - 10, 3600))
    c = client13(cache, psk=None, psk_identity=b"", pin_sha256=bytes(32))
    sent, ch = hello_exts(c)
    assert EXT_PRE_SHARED_KEY not in sent and b"U" * 100 in ch


def _tls12_server_hello(c):
    """A TLS 1.2 ServerHello (our server's, configured with TLS 1.2 suites only: no sentinel of its own)
    answering the client ``c``'s ClientHello."""
    from microticket.tls.server import ServerConfig, TlsServer
    s = TlsServer(ServerConfig(None, psk={P.PSK_IDENTITY: P.PSK}, suites=[0x00AE, 0xC037]))
    s.receive_data(c.data_to_send(), T0)
    return bytearray(s.data_to_send())


@pytest.mark.parametrize("tail,ok", [(b"DOWNGRD\x01", False), (b"DOWNGRD\x00", False), (b"DOWNGRD\x02", True),
                                     (None, True)])
def test_downgrade_sentinel_refused(tail, ok):
    """Section 4.1.3: a TLS 1.2 ServerHello whose random ends DOWNGRD 01 or 00, answering a ClientHello that
    offered TLS 1.3, is illegal_parameter."""
    c = client13()
    c.start(T0)
    sh = _tls12_server_hello(c)
    assert sh[0] == 22 and sh[5] == 2
    if tail is not None:
        sh[5 + 4 + 2 + 24:5 + 4 + 2 + 32] = tail  # the last 8 bytes of the server random
    c.receive_data(bytes(sh), T0)
    if ok:
        assert c.alert_sent is None and not c.closed
    else:
        assert c.alert_sent == 47 and "downgrade" in c.error_message


def test_tls12_server_hello_with_a_tls13_suite_refused():
    c = client13()
    c.start(T0)
    sh = _tls12_server_hello(c)
    p = 5 + 4 + 34 + 1 + sh[5 + 4 + 34]
    sh[p:p + 2] = b"\x13\x01"
    c.receive_data(bytes(sh), T0)
    assert c.alert_sent == 47
