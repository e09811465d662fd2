"""Bad input: every case ends in the right fatal alert and a closed connection, never an exception or a
hang. Plus input split every way (all at once, one byte at a time, with trailing bytes) and a hypothesis
run of random bytes through the handshake decoders and the engines."""

import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from microticket.errors import DecodeError, TlsAlert
from microticket.tls import ecdhe
from microticket.ticket import KeyRing
from microticket.tls import const as C
from microticket.tls import engine as M
from microticket.tls import server as S
from microticket.tls.cache import TicketCache
from microticket.tls.server import ServerConfig, TlsServer

from microticket.tls.client import Client
from tlspeers import PSK, psk_client, psk_server, pump
from microticket.tls.driver import keep_tickets

from consts import PSK_IDENTITY as ID, TLS_T0 as T0
RING = KeyRing.generate(T0)

SERVER = "server behaviour: the client engine only supplies well-formed input"


def server(**kw):
    return psk_server(RING, **kw)


def client(cache=None, **kw):
    return psk_client(cache, "srv", **kw)


def plain_alert(out):
    """The description of a plaintext fatal alert record."""
    assert out[:5] == b"\x15\x03\x03\x00\x02" and out[5] == 2, out[:8]
    return out[6]


def record(ctype, body, version=b"\x03\x03"):
    return bytes([ctype]) + version + len(body).to_bytes(2, "big") + body


def hs(mtype, body):
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def client_hello_bytes(**kw):
    c = client(**kw)
    c.start(T0)
    return c.data_to_send()


def expect_fatal(conn, data, desc):
    ev = conn.receive_data(data, T0)
    assert ("alert", desc, False) in ev and ("closed",) in ev
    assert conn.closed and conn.alert_sent == desc
    return conn.data_to_send()


def test_truncated_record_waits_then_eof_closes():
    s = server()
    ch = client_hello_bytes()
    assert s.receive_data(ch[:20], T0) == []
    assert not s.closed and s.data_to_send() == b""
    ev = s.receive_data(b"", T0)  # the peer hung up
    assert ev == [("closed",)] and s.closed
    assert s.receive_data(ch, T0) == []  # input after close is ignored


def test_truncated_handshake_message_in_complete_record():
    s = server()
    ch = client_hello_bytes()
    body = ch[5:]
    out = expect_fatal(s, record(22, body[:-10]) + record(20, b"\x01"), C.UNEXPECTED_MESSAGE)
    assert plain_alert(out) == C.UNEXPECTED_MESSAGE


def test_oversize_record_length():
    s = server()
    out = expect_fatal(s, b"\x16\x03\x03\x48\x01" + bytes(10), C.RECORD_OVERFLOW)
    assert plain_alert(out) == C.RECORD_OVERFLOW


def test_oversize_handshake_length():
    """A handshake message larger than the engine takes (hs_cap) is refused from its header, before any
    of it is buffered: illegal_parameter (too large, not malformed; OpenSSL's choice too)."""
    s = server()
    out = expect_fatal(s, record(22, b"\x01\xff\xff\xff" + bytes(50)), C.ILLEGAL_PARAMETER)
    assert plain_alert(out) == C.ILLEGAL_PARAMETER


@pytest.mark.parametrize("size", [4097, 9000, 16000])
def test_a_large_client_hello_across_records_is_accepted(size):
    """A valid ClientHello of over 4 KB (a padding extension standing for post-quantum key shares and many
    extensions), split over records of 1000 bytes: accepted with full-size records (hs_cap 16384)."""
    ch = client_hello_with([(21, bytes(size - 120))])  # 21: padding (RFC 7685)
    body = ch[5:]
    split = b"".join(record(22, body[i:i + 1000]) for i in range(0, len(body), 1000))
    s = server()
    s.receive_data(split, T0)
    assert not s.closed and s.alert_sent is None and len(s.data_to_send()) > 0


def test_a_client_hello_beyond_the_board_profile_is_illegal_parameter():
    """With a board's 2 KB records the server takes ClientHellos up to 4096 bytes (hs_cap), refusing a
    larger one cleanly."""
    body = client_hello_with([(21, bytes(4200))])[5:]
    s = server(max_fragment=2048)
    assert s.hs_cap == 4096
    expect_fatal(s, b"".join(record(22, body[i:i + 1000]) for i in range(0, len(body), 1000)),
                 C.ILLEGAL_PARAMETER)


def test_garbage_client_hello():
    s = server()
    expect_fatal(s, record(22, hs(1, b"\x03\x03" + bytes(10))), C.DECODE_ERROR)


def test_bad_record_version():
    s = server()
    expect_fatal(s, record(22, hs(1, bytes(40)), b"\x02\x00"), C.PROTOCOL_VERSION)


@pytest.mark.parametrize("version", [b"\x03\x00", b"\x03\x01", b"\x03\x02", b"\x03\x04", b"\x03\xff"])
def test_client_hello_record_version_is_any_03_xx(version):
    """RFC 5246 appendix E.1: a server MUST accept any {03,XX} as the record version of a ClientHello (older
    clients and test tools send 3.0); the handshake then completes as usual."""
    c = client()
    c.start(T0)
    ch = bytearray(c.data_to_send())
    ch[1:3] = version
    s = server()
    s.receive_data(bytes(ch), T0)
    assert not s.closed and s.alert_sent is None
    c2, s2 = pump(client(), server(), T0, tamper=lambda d, x: (x[:1] + version + x[3:]) if d == "c2s" and
                  x[5] == C.HT_CLIENT_HELLO else x)
    assert c2.handshake_done and s2.handshake_done


def test_protected_records_say_3_3():
    c, s = pump(client(), server(), T0)
    c.send(b"x")
    data = bytearray(c.data_to_send())
    data[2] = 1  # {03,01} after the handshake
    expect_fatal(s, bytes(data), C.PROTOCOL_VERSION)


def test_unknown_content_type():
    s = server()
    expect_fatal(s, record(99, b"abc"), C.UNEXPECTED_MESSAGE)


@pytest.mark.parametrize("msg", [
    record(22, hs(16, b"\x00\x02id")),     # ClientKeyExchange first
    record(22, hs(20, bytes(12))),         # Finished first
    record(20, b"\x01"),                   # ChangeCipherSpec first
    record(23, b"data"),                   # application data before the handshake
    record(22, hs(2, bytes(38))),          # a ServerHello sent to a server
])
def test_wrong_message_order_at_server(msg):
    s = server()
    expect_fatal(s, msg, C.UNEXPECTED_MESSAGE)


@pytest.mark.parametrize("msg", [
    record(22, hs(20, bytes(12))),         # Finished first
    record(20, b"\x01"),                   # ChangeCipherSpec first
    record(23, b"data"),                   # application data before the handshake
    record(22, hs(4, bytes(6))),           # NewSessionTicket first
    record(22, hs(14, b"")),               # ServerHelloDone first
    record(22, hs(12, b"\x00\x00")),       # ServerKeyExchange first
    record(22, hs(1, bytes(40))),          # a ClientHello sent to a client
], ids=["Finished", "CCS", "appdata", "NewSessionTicket", "ServerHelloDone", "ServerKeyExchange", "ClientHello"])
def test_wrong_message_order_at_client(msg):
    """RFC 5246 section 7.4: a message out of order is a fatal unexpected_message, sent in plaintext."""
    c = client()
    c.start(T0)
    c.data_to_send()
    out = expect_fatal(c, msg, C.UNEXPECTED_MESSAGE)
    assert plain_alert(out) == C.UNEXPECTED_MESSAGE


def test_truncated_server_flight_waits_then_eof_closes():
    """A partial record from the server is kept until the rest arrives; the server hanging up then closes
    the client without an alert (nothing to say to a closed stream) and drops the offered ticket."""
    cache = TicketCache()
    c, s = pump(client(cache), server(), T0)
    assert c.handshake_done and cache.get("srv", T0) is not None
    c = client(cache)
    s = server()
    c.start(T0)
    s.receive_data(c.data_to_send(), T0)
    flight = s.data_to_send()
    assert c.receive_data(flight[:20], T0) == []
    assert not c.closed and c.data_to_send() == b""
    ev = c.receive_data(b"", T0)
    assert ev == [("ticket_drop", "srv"), ("closed",)] and c.closed and c.alert_sent is None
    keep_tickets(c, ev)
    assert cache.get("srv", T0) is None  # RFC 5077 section 3.4: a failed resumption forgets the ticket
    assert c.receive_data(flight, T0) == []  # input after close is ignored


def test_cke_before_ccs_twice():
    c = client()
    s = server()
    c.start(T0)
    s.receive_data(c.data_to_send(), T0)
    c.receive_data(s.data_to_send(), T0)
    flight = c.data_to_send()
    cke = flight[:5 + (flight[3] << 8 | flight[4])]
    s.receive_data(cke, T0)
    expect_fatal(s, cke, C.UNEXPECTED_MESSAGE)


def test_tls10_client_refused():
    ch = bytearray(client_hello_bytes())
    ch[9:11] = b"\x03\x01"
    s = server()
    expect_fatal(s, bytes(ch), C.PROTOCOL_VERSION)


def test_no_shared_suite():
    s = TlsServer(ServerConfig(RING, psk={ID: PSK}, suites=[C.ECDHE_PSK_WITH_AES_128_CBC_SHA256]))
    expect_fatal(s, client_hello_bytes(suites=[C.PSK_WITH_AES_128_CBC_SHA256]), C.HANDSHAKE_FAILURE)


def test_unknown_psk_identity():
    c, s = pump(client(psk_identity=b"nobody"), server(), T0)
    assert s.alert_sent == C.UNKNOWN_PSK_IDENTITY and c.alert_received == C.UNKNOWN_PSK_IDENTITY
    assert c.closed and s.closed


def test_wrong_psk_is_bad_record_mac():
    c, s = pump(client(psk=b"\x00" * 16), server(), T0)
    assert s.alert_sent == C.BAD_RECORD_MAC and c.closed and s.closed


@pytest.mark.parametrize("etm", [True, False])
@pytest.mark.parametrize("where", [5, 5 + 16, -1, -33])
def test_bad_mac_on_application_data(etm, where):
    c, s = pump(client(etm=etm), server(), T0)
    assert c.handshake_done
    c.send(b"secret message " * 5)
    rec = bytearray(c.data_to_send())
    rec[where] ^= 1
    ev = s.receive_data(bytes(rec), T0)
    assert ("alert", C.BAD_RECORD_MAC, False) in ev and s.closed
    # the alert is encrypted now: the client reads it
    ev = c.receive_data(s.data_to_send(), T0)
    assert ("alert", C.BAD_RECORD_MAC, True) in ev and c.closed


@pytest.mark.parametrize("cut", [1, 16, 17, 48])
def test_truncated_ciphertext(cut):
    c, s = pump(client(etm=False), server(), T0)
    c.send(b"x" * 40)
    rec = bytearray(c.data_to_send())
    body = rec[5:-cut]
    ev = s.receive_data(b"\x17\x03\x03" + len(body).to_bytes(2, "big") + bytes(body), T0)
    assert ("alert", C.BAD_RECORD_MAC, False) in ev


def test_unsolicited_server_extension():
    c = client(request_ticket=False)
    s = server()
    c.start(T0)
    ch = c.data_to_send()
    # a server that sends session_ticket although the client did not ask
    s.receive_data(ch, T0)
    out = bytearray(s.data_to_send())
    # append an extra extension (type 35, empty) to the ServerHello's extension block
    sh_len = int.from_bytes(out[6:9], "big")
    sh = bytearray(out[9:9 + sh_len])
    rest = out[9 + sh_len:]
    ext_off = 2 + 32 + 1 + sh[34] + 3
    sh += b"\x00\x23\x00\x00"
    el = int.from_bytes(sh[ext_off:ext_off + 2], "big") + 4
    sh[ext_off:ext_off + 2] = el.to_bytes(2, "big")
    body = b"\x02" + len(sh).to_bytes(3, "big") + bytes(sh) + bytes(rest)
    expect_fatal(c, record(22, body), C.UNSUPPORTED_EXTENSION)


def test_renegotiation_refused_with_warning():
    c, s = pump(client(), server(), T0)
    c.rl.write(C.CT_HANDSHAKE, hs(1, bytes(40)))
    ev = s.receive_data(c.data_to_send(), T0)
    assert not s.closed
    ev = c.receive_data(s.data_to_send(), T0)
    assert ev == [("alert", C.NO_RENEGOTIATION, True)] and not c.closed


# --- split input --------------------------------------------------------------------------------------

def run_split(split):
    cache = TicketCache()
    for _ in range(2):  # full, then resumed
        c = client(cache)
        s = server()
        c.start(T0)
        for _ in range(10):
            for src, dst in ((c, s), (s, c)):
                data = src.data_to_send()
                for chunk in split(data):
                    keep_tickets(dst, dst.receive_data(chunk, T0))
            if c.handshake_done and s.handshake_done:
                break
        assert c.handshake_done and s.handshake_done and not c.closed and not s.closed
    assert c.resumed


def test_one_byte_at_a_time():
    run_split(lambda d: [d[i:i + 1] for i in range(len(d))])


def test_all_at_once():
    run_split(lambda d: [d] if d else [])


def test_odd_chunks():
    run_split(lambda d: [d[i:i + 7] for i in range(0, len(d), 7)])


def test_input_larger_than_buffer_is_processed_in_parts():
    c, s = pump(client(), server(max_fragment=512), T0)
    # 40 records of 300 bytes in one call: more than the server's input buffer holds at once
    for i in range(40):
        c.send(bytes([i]) * 300)
    data = c.data_to_send()
    assert len(data) > s.rl.in_cap
    ev = s.receive_data(data, T0)
    got = b"".join(e[1] for e in ev if e[0] == "data")
    assert got == b"".join(bytes([i]) * 300 for i in range(40))


def test_trailing_bytes_after_handshake_message():
    s = server()
    ch = client_hello_bytes()
    body = ch[5:] + b"\x00"  # a stray byte after the ClientHello: an incomplete second message
    ev = s.receive_data(record(22, body), T0)
    assert not s.closed  # waits for the rest of the next message
    ev = s.receive_data(record(20, b"\x01"), T0)
    assert ("alert", C.UNEXPECTED_MESSAGE, False) in ev


# --- hypothesis -----------------------------------------------------------------------------------------

DECODERS = [S.parse_client_hello, M.parse_new_session_ticket, lambda d: ecdhe.parse_params(d, 0)] + \
    [lambda d, t=t: S.parse_extension(t, d) for t in (C.EXT_SERVER_NAME, C.EXT_MAX_FRAGMENT_LENGTH,
                                                      C.EXT_SUPPORTED_GROUPS, C.EXT_SIGNATURE_ALGORITHMS,
                                                      C.EXT_EC_POINT_FORMATS, C.EXT_RENEGOTIATION_INFO,
                                                      C.EXT_EXTENDED_MASTER_SECRET, C.EXT_ENCRYPT_THEN_MAC)]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_decoders_raise_only_decode_error_or_alert(data):
    """The codecs that parse without an engine: a peer's bytes give DecodeError or a TlsAlert, nothing
    else (the engine-bound parsers are driven by the next test)."""
    for dec in DECODERS:
        try:
            dec(data)
        except (DecodeError, TlsAlert):
            pass


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=3))
def test_engines_never_raise_on_random_records(data, kind):
    """Random bytes, raw or wrapped in a handshake record, into a fresh server and a waiting client."""
    if kind == 1:
        data = record(22, data)
    elif kind == 2:
        data = record(22, hs(1, data))
    s = server()
    s.receive_data(data, T0)
    s.receive_data(b"", T0)
    assert s.closed
    c = client()
    c.start(T0)
    c.data_to_send()
    if kind == 3:
        data = record(22, hs(2, data))
    c.receive_data(data, T0)
    c.receive_data(b"", T0)
    assert c.closed


# --- ClientHello extensions a server must refuse (RFC 6066 section 3, RFC 8422 section 5.1.2) -------------

def client_hello_with(exts, suites=(C.ECDHE_PSK_WITH_AES_128_CBC_SHA256, C.PSK_WITH_AES_128_CBC_SHA256)):
    """A ClientHello record with the extensions ``exts`` [(type, data)]."""
    block = b"".join(t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d for t, d in exts)
    body = b"\x03\x03" + bytes(32) + b"\x00" + (2 * len(suites)).to_bytes(2, "big") + \
        b"".join(s.to_bytes(2, "big") for s in suites) + b"\x01\x00" + len(block).to_bytes(2, "big") + block
    return record(22, hs(C.HT_CLIENT_HELLO, body))


def sni(*names):
    entries = b"".join(b"\x00" + len(n).to_bytes(2, "big") + n for n in names)
    return C.EXT_SERVER_NAME, len(entries).to_bytes(2, "big") + entries


@pytest.mark.parametrize("names", [[b"a\x00b.example"], [b"a\nb"], [b"caf\xc3\xa9.example"], [b"a b"],
                                   [b"a.example", b"b.example"]],
                         ids=["NUL", "control", "non-ASCII", "space", "two host_names"])
def test_bad_server_name_is_illegal_parameter(names):
    expect_fatal(server(), client_hello_with([sni(*names)]), C.ILLEGAL_PARAMETER)


def test_good_server_name_is_taken():
    s = server()
    s.receive_data(client_hello_with([sni(b"board-7.example")]), T0)
    assert not s.closed and s.server_name == b"board-7.example"


def test_ec_point_formats_without_uncompressed_is_illegal_parameter():
    expect_fatal(server(), client_hello_with([(C.EXT_EC_POINT_FORMATS, b"\x01\x01")]), C.ILLEGAL_PARAMETER)
    s = server()
    s.receive_data(client_hello_with([(C.EXT_EC_POINT_FORMATS, b"\x02\x01\x00")]), T0)
    assert not s.closed
