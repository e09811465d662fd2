"""TLS 1.3 0-RTT early data (microticket.tls.early13), in process: our client and our server through memory
(accepted, the replay refused, off by default, ALPN, HelloRetryRequest, the limit), and the server's
refusals of broken clients (too much early data, EndOfEarlyData missing or out of place)."""

import pytest

import tlspeers as P
from microticket.ticket import KeyRing
from microticket.tls import driver
from microticket.tls.cache import TicketCache
from microticket.tls.client import Client
from microticket.tls.server import ServerConfig, TlsServer

NOW = 1_700_000_000


def _cfg(max_early=1024, **kw):
    ring = KeyRing.generate(NOW)
    cfg = ServerConfig(ring, psk={P.PSK_IDENTITY: P.PSK}, **kw)
    cfg.max_early = max_early
    return cfg


def _client(cache, data=None, **kw):
    c = Client("srv:443", psk_identity=P.PSK_IDENTITY, psk=P.PSK, cache=cache, **kw)
    if data is not None:
        c.early_data = data
    return c


def _run(c, s, now=NOW, tamper=None, after=None):
    """Both engines through memory until the handshake is done (plus the tickets after it); the server's
    events. ``tamper(bytes) -> bytes`` rewrites the client's first flight."""
    c.start(now)
    sev = []
    first = True
    for _ in range(20):
        out = c.data_to_send()
        if first and tamper is not None:
            out = tamper(out)
        first = False
        if out:
            sev += s.receive_data(out, now)
        if after is not None and s.handshake_done:
            after(c)
            after = None
        back = s.data_to_send()
        if back:
            driver.keep_tickets(c, c.receive_data(back, now))
        if s.closed or c.closed or (c.handshake_done and s.handshake_done and not c.data_to_send(True) and
                                    not s.data_to_send(True) and c.ticket_received):
            break
    return sev


def _ticket(cfg, cache, **kw):
    c = _client(cache, **kw)
    s = TlsServer(cfg)
    _run(c, s)
    assert c.handshake_done and s.handshake_done and c.ticket_received
    return cache.entries["srv:443"]


def _early(sev):
    return b"".join(e[1] for e in sev if e[0] == "early_data")


def test_accepted_then_the_replay_refused():
    cfg = _cfg()
    cache = TicketCache()
    e = _ticket(cfg, cache)
    assert e[9][:4] == (1024).to_bytes(4, "big")
    flights = []

    def keep(out):
        flights.append(out)
        return out
    c = _client(cache, b"GET / HTTP/1.0\r\n\r\n")
    s = TlsServer(cfg)
    s.trace = []
    sev = _run(c, s, tamper=keep)
    assert c.handshake_done and s.handshake_done and s.resumed
    assert c.early_accepted is True and _early(sev) == b"GET / HTTP/1.0\r\n\r\n"
    assert ("recv", 5) in s.trace and s.early_data_line == ", early data: accepted (18 bytes)"
    # the same ClientHello and early data again (a replay, within the freshness window): the ticket is
    # used, so the early data is skipped and the handshake resumes without it (the replay's own Finished
    # never comes: it stops there)
    s2 = TlsServer(cfg)
    sev = s2.receive_data(flights[0], NOW + 1)
    assert not s2.closed and s2.resumed and s2.early_rejected == "replay" and not _early(sev)
    # a fresh connection on the same (single-use) ticket: resumed, early data refused
    c3 = _client(cache, b"again")
    cache.entries["srv:443"] = e
    s3 = TlsServer(cfg)
    sev = _run(c3, s3)
    assert c3.handshake_done and s3.resumed and c3.early_accepted is False and not _early(sev)


def test_off_by_default_and_not_offered_without_early_data_ticket():
    ring = KeyRing.generate(NOW)
    cfg = ServerConfig(ring, psk={P.PSK_IDENTITY: P.PSK})
    cache = TicketCache()
    e = _ticket(cfg, cache)
    assert len(e) == 9  # no early_data in the ticket
    c = _client(cache, b"data")
    s = TlsServer(cfg)
    _run(c, s)
    assert c.handshake_done and s.resumed and not hasattr(c, "early_accepted")


def test_server_switched_off_skips_early_data_and_resumes():
    cfg = _cfg()
    cache = TicketCache()
    _ticket(cfg, cache)
    cfg.max_early = 0
    c = _client(cache, b"x" * 600)
    s = TlsServer(cfg)
    sev = _run(c, s)
    assert c.handshake_done and s.resumed and s.early_rejected == "off" and c.early_accepted is False
    assert not _early(sev)


def test_alpn_mismatch_refuses_early_data():
    cfg = _cfg(alpn=[b"h2", b"http/1.1"])
    cache = TicketCache()
    e = _ticket(cfg, cache, alpn=[b"http/1.1"])
    assert e[9][5:] == b"http/1.1"
    c = _client(cache, b"data", alpn=[b"h2", b"http/1.1"])
    s = TlsServer(cfg)
    _run(c, s)
    assert c.handshake_done and s.alpn_protocol == b"h2" and s.early_rejected == "alpn"
    assert c.early_accepted is False


def test_data_larger_than_the_ticket_allows_is_not_offered():
    cfg = _cfg(max_early=16)
    cache = TicketCache()
    _ticket(cfg, cache)
    c = _client(cache, b"y" * 17)
    s = TlsServer(cfg)
    _run(c, s)
    assert c.handshake_done and not hasattr(c, "early_accepted")


def _protected_early(c, extra):
    # a broken client: more records under its early keys after the ones it sent
    from microticket.tls import hs13, record13  # noqa: F401
    rl = c.rl
    rl.write_cs = c._early
    rl.write(23, extra)
    rl.write_cs = None


def test_too_much_early_data_is_unexpected_message():
    cfg = _cfg(max_early=64)
    cache = TicketCache()
    _ticket(cfg, cache)
    c = _client(cache, b"a" * 60)
    c.start(NOW)
    _protected_early(c, b"b" * 10)  # 70 bytes under the early keys: over the limit
    s = TlsServer(cfg)
    sev = s.receive_data(c.data_to_send(), NOW)
    assert s.closed and s.alert_sent == 10 and _early(sev) == b"a" * 60


def test_end_of_early_data_missing_or_out_of_place(monkeypatch):
    from microticket.tls import early13
    cfg = _cfg()
    cache = TicketCache()
    e = _ticket(cfg, cache)
    # accepted, but the client's Finished comes without EndOfEarlyData (under its handshake keys, which the
    # early keys do not open): bad_record_mac
    monkeypatch.setattr(early13, "finished_message", lambda c: c._take_hash())
    c = _client(cache, b"hello")
    s = TlsServer(cfg)
    _run(c, s)
    assert s.closed and s.alert_sent == 20 and not s.handshake_done
    # the Finished in EndOfEarlyData's place (under the early keys): unexpected_message

    def fin_early(c):
        c.rl.write_cs = c._early
        return c._take_hash()
    monkeypatch.setattr(early13, "finished_message", fin_early)
    cache.entries["srv:443"] = _ticket(cfg, cache)
    c = _client(cache, b"hello")
    s = TlsServer(cfg)
    _run(c, s)
    assert s.closed and s.alert_sent == 10 and not s.handshake_done
    # EndOfEarlyData when the early data was refused (under the handshake keys): unexpected_message
    monkeypatch.undo()
    cfg.max_early = 0
    cache.entries["srv:443"] = e
    real_parse = early13.parse

    def parse(c, early):
        real_parse(c, early)
        c._opt |= 0x40000  # as if accepted

    def eoed(c):
        c._send_message(b"\x05\x00\x00\x00")
        return c._take_hash()
    monkeypatch.setattr(early13, "parse", parse)
    monkeypatch.setattr(early13, "finished_message", eoed)
    c = _client(cache, b"hello")
    s = TlsServer(cfg)
    _run(c, s)
    assert s.closed and s.alert_sent == 10 and s.early_rejected == "off" and not s.handshake_done


def test_second_client_hello_with_early_data_is_illegal_parameter():
    from microticket.errors import TlsAlert
    from microticket.tls import early13
    s = TlsServer(_cfg())
    with pytest.raises(TlsAlert) as e:
        early13.answer(s, None, -1, b"prefix", False, None, b"", [])
    assert e.value.description == 47


def test_early_data_on_a_ticket_issued_without_it_is_refused():
    # a ticket whose state has no early-data tail (issued while 0-RTT was off): never accepted
    ring = KeyRing.generate(NOW)
    cfg = ServerConfig(ring, psk={P.PSK_IDENTITY: P.PSK})
    cache = TicketCache()
    e = _ticket(cfg, cache)
    e.append(bytes((0, 0, 4, 0, 0)))  # a client that claims the ticket allows 1024 bytes
    cfg.max_early = 1024
    c = _client(cache, b"data")
    s = TlsServer(cfg)
    sev = _run(c, s)
    assert c.handshake_done and s.resumed and s.early_rejected == "ticket" and not _early(sev)
    assert c.early_accepted is False


def test_hello_retry_request_skips_the_early_data(monkeypatch):
    # a server that takes no x25519 share (CPython: the module's name patched) asks for secp256r1: the early
    # records that follow the first ClientHello are skipped, the second ClientHello resumes
    from microticket.tls import server13
    cfg = _cfg()
    cache = TicketCache()
    _ticket(cfg, cache)
    monkeypatch.setattr(server13, "_GROUP_X25519", 0xFFFF)
    c = _client(cache, b"z" * 1000)
    s = TlsServer(cfg)
    s.trace = []
    sev = _run(c, s)
    assert s.trace.count(("send", 2)) == 2 and c.handshake_done and s.resumed and s.group == 23
    assert s.early_rejected == "retry" and c.early_accepted is False and not _early(sev)
