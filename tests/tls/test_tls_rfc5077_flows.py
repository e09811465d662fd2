"""RFC 5077 section 3 flows with an in-process (sans-IO) client/TlsServer pair, asserting on the
messages each side sent and received. Also RFC 7627 section 5.3, RFC 6066 SNI and appendix A.
The client is the one client engine (microticket.tls.client.Client)."""

import os
import stat

import pytest

from microticket.ticket import KeyRing
from microticket.tls.state import StatePlaintext
from microticket.tls import const as C
from microticket.tls.cache import TicketCache
from microticket.tls.server import ServerConfig, TlsServer, REISSUE_NEVER, REISSUE_RENEW

from microticket.tls.client import Client
from tlspeers import E_TICKET, E_EMS, E_MASTER, E_HINT, PSK, psk_client, psk_server, pump, names
from microticket.tls.driver import keep_tickets

from consts import PSK_IDENTITY as ID, TLS_T0 as T0




@pytest.fixture
def ring():
    return KeyRing.generate(T0, lifetime=3600)


server = psk_server


def client(cache, **kw):
    return psk_client(cache, **kw)


FULL_SERVER_SENT = ["ServerHello", "ServerHelloDone", "NewSessionTicket", "ChangeCipherSpec", "Finished"]


def full(ring, cache, now=T0, **ckw):
    c, s = pump(client(cache, **ckw), server(ring), now)
    assert c.handshake_done and s.handshake_done
    return c, s


def test_figure1_full_handshake_issues_ticket(ring):
    cache = TicketCache()
    c, s = full(ring, cache)
    assert names(s.trace, "send") == FULL_SERVER_SENT
    assert names(c.trace, "send") == ["ClientHello", "ClientKeyExchange", "ChangeCipherSpec", "Finished"]
    assert not c.resumed and not s.resumed
    assert s.ticket_issued and c.ticket_received
    e = cache.get("srv:443", T0)
    assert e is not None and e[E_MASTER] == c.master == s.master
    assert e[E_HINT] == 3600
    # the ticket opens to a StatePlaintext of this session
    st = StatePlaintext.decode(ring.open(e[E_TICKET], T0))
    assert st.master_secret == s.master and st.cipher_suite == c.suite and st.identity == ID and st.ems


def test_full_handshake_session_id_is_empty(ring):
    """Section 3.4: a server issuing a ticket (and keeping no cache) sends an empty session ID."""
    cache = TicketCache()
    c = client(cache)
    s = server(ring)
    c.start(T0)
    s.receive_data(c.data_to_send(), T0)
    out = s.data_to_send()
    # record header 5, handshake header 4, version 2, random 32, then session_id length
    assert out[0] == 22 and out[5] == 2 and out[5 + 4 + 34] == 0


def test_figure2_abbreviated_with_new_ticket(ring):
    cache = TicketCache()
    full(ring, cache)
    old = cache.get("srv:443", T0)[E_TICKET]
    c, s = pump(client(cache), server(ring), T0 + 10)
    assert c.resumed and s.resumed
    assert names(s.trace, "send") == ["ServerHello", "NewSessionTicket", "ChangeCipherSpec", "Finished"]
    assert names(c.trace, "send") == ["ClientHello", "ChangeCipherSpec", "Finished"]
    new = cache.get("srv:443", T0 + 10)[E_TICKET]
    assert new != old  # section 5.8: a fresh ticket on every resumption
    # the renewal keeps the original creation time (never extends the session)
    ring.open(new, T0 + 10)
    assert ring.created == T0
    # and the lifetime hint counts down from the session's creation
    assert cache.get("srv:443", T0 + 10)[E_HINT] == 3600 - 10
    # application data both ways after resumption
    c.send(b"ping")
    assert s.receive_data(c.data_to_send(), T0) == [("data", b"ping")]
    s.send(b"pong")
    assert c.receive_data(s.data_to_send(), T0) == [("data", b"pong")]


def test_session_id_echoed_on_acceptance(ring):
    cache = TicketCache()
    full(ring, cache)
    c = client(cache)
    s = server(ring)
    c.start(T0)
    ch = c.data_to_send()
    s.receive_data(ch, T0)
    sid_sent = ch[5 + 4 + 2 + 32 + 1:5 + 4 + 2 + 32 + 1 + 32]
    assert ch[5 + 4 + 34] == 32
    out = s.data_to_send()
    assert out[5 + 4 + 34] == 32 and out[5 + 4 + 35:5 + 4 + 35 + 32] == sid_sent
    c.receive_data(out, T0)
    s.receive_data(c.data_to_send(), T0)
    assert c.handshake_done and c.resumed and s.handshake_done


def test_resumption_detected_from_messages_with_empty_session_id(ring):
    """Section 3.4: with an empty session ID the client learns of resumption from the next message."""
    cache = TicketCache()
    full(ring, cache)
    c, s = pump(client(cache, session_id="empty"), server(ring), T0 + 1)
    assert c.resumed and s.resumed and c._sid == b""
    # a rejected ticket with an empty session ID: Certificate-less full handshake is detected too
    ring.rotate(T0 + 2)
    ring.keys = ring.keys[:1]  # forget the key that sealed the cached ticket
    c, s = pump(client(cache, session_id="empty"), server(ring), T0 + 3)
    assert c.handshake_done and not c.resumed and not s.resumed and s.ticket_rejected == "unknown-key"


def test_figure3_resume_without_new_ticket(ring):
    cache = TicketCache()
    full(ring, cache)
    old = cache.get("srv:443", T0)[E_TICKET]
    c, s = pump(client(cache), server(ring, reissue=REISSUE_NEVER), T0 + 5)
    assert c.resumed and s.resumed
    assert names(s.trace, "send") == ["ServerHello", "ChangeCipherSpec", "Finished"]
    assert not c.ticket_received
    assert cache.get("srv:443", T0 + 5)[E_TICKET] == old  # the client keeps using its ticket


def test_one_time_tickets_on_client(ring):
    cache = TicketCache()
    full(ring, cache)
    c, s = pump(client(cache, reuse_tickets=False), server(ring, reissue=REISSUE_NEVER), T0 + 5)
    assert c.resumed and cache.get("srv:443", T0 + 5) is None


def test_renew_only_for_older_keys(ring):
    cache = TicketCache()
    full(ring, cache)
    c, s = pump(client(cache), server(ring, reissue=REISSUE_RENEW), T0 + 5)
    assert c.resumed and not s.ticket_issued  # sealed under the newest key: not renewed
    ring.rotate(T0 + 6)
    c, s = pump(client(cache), server(ring, reissue=REISSUE_RENEW), T0 + 7)
    assert c.resumed and s.ticket_issued and c.ticket_received
    t = cache.get("srv:443", T0 + 7)[E_TICKET]
    assert t[:16] == ring.keys[0].name  # renewed under the new key
    ring.open(t, T0 + 7)
    assert ring.created == T0


@pytest.mark.parametrize("garbage", [b"\x01" * 100, b"x", bytes(200), None],
                         ids=["ones100", "x", "zeros200", "other-ring"])
def test_figure4_rejected_ticket_falls_back_to_full_handshake(ring, garbage):
    cache = TicketCache()
    full(ring, cache)
    if garbage is None:  # a genuine ticket from another server's key ring
        other = KeyRing.generate(T0)
        garbage = TicketCache()
        c, s = full(other, garbage)
        garbage = garbage.get("srv:443", T0)[E_TICKET]
    cache.entries["srv:443"][E_TICKET] = garbage
    c, s = pump(client(cache), server(ring), T0 + 1)
    assert c.handshake_done and not c.resumed and not s.resumed
    assert s.ticket_rejected is not None
    assert names(s.trace, "send") == FULL_SERVER_SENT
    assert cache.get("srv:443", T0 + 1)[E_TICKET] != garbage  # replaced by the new ticket


def test_expired_ticket_is_rejected(ring):
    cache = TicketCache()
    full(ring, cache)
    entry = cache.get("srv:443", T0)
    entry[E_HINT] = 0  # make the client offer it anyway
    c, s = pump(client(cache), server(ring), T0 + 3601)
    assert not s.resumed and s.ticket_rejected == "expired" and c.handshake_done


def test_zero_length_ticket_when_server_changes_its_mind(ring):
    """Section 3.3: the extension was sent in the ServerHello, but no ticket can be made."""
    cache = TicketCache()
    full(ring, cache)
    old = cache.get("srv:443", T0)[E_TICKET]
    s = server(ring)

    def broken_seal(state, now, created=None):
        raise ValueError("no ticket today")
    ring.seal = broken_seal
    c, s = pump(client(cache), s, T0 + 1)
    assert c.resumed and s.resumed and not s.ticket_issued and not c.ticket_received
    assert "NewSessionTicket" in names(s.trace, "send")
    assert cache.get("srv:443", T0 + 1)[E_TICKET] == old


def test_no_ticket_without_extension(ring):
    c, s = pump(client(None, request_ticket=False), server(ring), T0)
    assert c.handshake_done and not s.ticket_issued
    assert names(s.trace, "send") == ["ServerHello", "ServerHelloDone", "ChangeCipherSpec", "Finished"]


def test_client_deletes_ticket_when_offering_handshake_fails(ring):
    cache = TicketCache()
    full(ring, cache)
    # the server no longer knows the identity: the ticket is refused, the full handshake fails
    s = TlsServer(ServerConfig(ring, psk={b"other": PSK}))
    c, s = pump(client(cache), s, T0 + 1)
    assert c.closed and not c.handshake_done
    assert cache.get("srv:443", T0 + 1) is None


def test_lifetime_hint_honoured_by_client(ring):
    cache = TicketCache()
    full(ring, cache)
    assert cache.get("srv:443", T0 + 3599) is not None
    assert cache.get("srv:443", T0 + 3600) is None


def test_ems_flag_travels_in_ticket_and_changes_refused(ring):
    """RFC 7627 section 5.3."""
    cache = TicketCache()
    full(ring, cache)  # with EMS
    # the original session used EMS, the new ClientHello lacks it: the server aborts
    cache2 = TicketCache()
    cache2.entries = dict(cache.entries)
    c, s = pump(client(cache2, ems=False), server(ring), T0 + 1)
    assert s.alert_sent == C.HANDSHAKE_FAILURE and not c.handshake_done
    # the original session had no EMS, the new ClientHello has it: full handshake, not resumption
    cache3 = TicketCache()
    c, s = pump(client(cache3, ems=False), server(ring), T0)
    assert c.handshake_done and not c.ems
    c, s = pump(client(cache3), server(ring), T0 + 1)
    assert c.handshake_done and not s.resumed and s.ticket_rejected == "ems-mismatch" and c.ems


def test_sni_change_prevents_resumption(ring):
    cache = TicketCache()
    c, s = pump(client(cache, server_name=b"a.example"), server(ring), T0)
    assert s.server_name == b"a.example"
    c, s = pump(client(cache, server_name=b"b.example"), server(ring), T0 + 1)
    assert c.handshake_done and not s.resumed and s.ticket_rejected == "server-name"


def test_rfc4507_double_length_ticket_is_accepted(ring):
    """Appendix A: uint16 ticket length inside the extension, told apart by the key name lookup."""
    cache = TicketCache()
    full(ring, cache)
    t = cache.get("srv:443", T0)[E_TICKET]
    cache.entries["srv:443"][E_TICKET] = len(t).to_bytes(2, "big") + t
    c, s = pump(client(cache), server(ring), T0 + 1)
    assert c.resumed and s.resumed


def test_rfc4507_empty_extension_answered_in_kind(ring):
    cache = TicketCache()
    # a client offering 00 00 (RFC 4507 empty encoding)
    c = client(cache)
    s = server(ring)
    c.start(T0)
    ch = bytearray(c.data_to_send())
    i = ch.find(b"\x00\x23\x00\x00")
    assert i > 0
    ch[i:i + 4] = b"\x00\x23\x00\x02\x00\x00"[:4]
    ch[i + 4:i + 4] = b"\x00\x00"
    # fix the lengths: record, handshake, extensions block
    rl = (ch[3] << 8 | ch[4]) + 2
    ch[3:5] = rl.to_bytes(2, "big")
    hl = int.from_bytes(ch[6:9], "big") + 2
    ch[6:9] = hl.to_bytes(3, "big")
    # extensions length is after the compression methods
    p = 9 + 2 + 32
    p += 1 + ch[p]
    p += 2 + int.from_bytes(ch[p:p + 2], "big")
    p += 1 + ch[p]
    el = int.from_bytes(ch[p:p + 2], "big") + 2
    ch[p:p + 2] = el.to_bytes(2, "big")
    s.receive_data(bytes(ch), T0)
    out = s.data_to_send()
    assert s.alert_sent is None
    assert b"\x00\x23\x00\x02\x00\x00" in out  # answered with the same RFC 4507 encoding


class _SkipType:
    """A transcript hash (the engine keeps two SHA-256 objects) that ignores messages of one type."""

    def __init__(self, h, mtype):
        self.h = h
        self.mtype = mtype

    def update(self, data):
        if data[0] != self.mtype:
            self.h.update(data)

    def digest(self):
        return self.h.digest()


def drop_from_transcript(c, mtype):
    """Make the client ``c`` leave messages of type ``mtype`` out of its handshake transcript."""
    c._th = [_SkipType(h, mtype) for h in c._th]


def test_newsessionticket_is_in_the_finished_hash(ring):
    """Section 3.3: a client leaving NewSessionTicket out of its transcript fails the server Finished."""
    for drop_nst in (False, True):
        c = client(TicketCache())
        s = server(ring)
        c.start(T0)
        s.receive_data(c.data_to_send(), T0)
        c.receive_data(s.data_to_send(), T0)
        s.receive_data(c.data_to_send(), T0)
        flight = s.data_to_send()
        if drop_nst:
            drop_from_transcript(c, C.HT_NEW_SESSION_TICKET)
        c.receive_data(flight, T0)
        if drop_nst:
            assert not c.handshake_done and c.alert_sent == C.DECRYPT_ERROR
        else:
            assert c.handshake_done


def test_cache_file_persists_owner_only(tmp_path, ring):
    path = str(tmp_path / "tickets.json")
    cache = TicketCache(path)
    full(ring, cache)
    assert os.path.exists(path)
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = TicketCache(path)
    c, s = pump(client(again), server(ring), T0 + 1)
    assert c.resumed
    # an oversized cache file is ignored rather than parsed
    with open(path, "w") as f:
        f.write(" " * 20000)
    assert TicketCache(path).entries == {}


def test_ecdhe_psk_resumes(ring):
    cache = TicketCache()
    c, s = pump(client(cache, suites=[C.ECDHE_PSK_WITH_AES_128_CBC_SHA256]), server(ring), T0)
    assert c.handshake_done and "ServerKeyExchange" in names(s.trace, "send")
    c, s = pump(client(cache, suites=[C.ECDHE_PSK_WITH_AES_128_CBC_SHA256]), server(ring), T0 + 1)
    assert c.resumed and c.suite == C.ECDHE_PSK_WITH_AES_128_CBC_SHA256


def test_max_fragment_length_limits_records(ring):
    cache = TicketCache()
    c, s = pump(client(cache, max_fragment_length=1, max_fragment=512), server(ring), T0)
    assert c.handshake_done and s.rl.max_out == 512 and c.rl.max_out == 512
    s.send(b"x" * 2000)
    out = s.data_to_send()
    # four records, each with at most 512 bytes of plaintext
    n = 0
    p = 0
    while p < len(out):
        ln = out[p + 3] << 8 | out[p + 4]
        assert ln <= 512 + 16 + 32 + 16
        p += 5 + ln
        n += 1
    assert n == 4
    got = c.receive_data(out, T0)
    assert b"".join(e[1] for e in got if e[0] == "data") == b"x" * 2000


def test_keylog_lines_match_on_both_sides(ring):
    lines = []
    c = client(TicketCache(), keylog=lines.append)
    s = TlsServer(ServerConfig(ring, psk={ID: PSK}, keylog=lines.append))
    pump(c, s, T0)
    assert len(lines) == 2 and lines[0] == lines[1]
    assert lines[0] == "CLIENT_RANDOM %s %s" % (c.client_random.hex(), c.master.hex())


@pytest.mark.parametrize("etm", [True, False])
def test_encrypt_then_mac_negotiation(ring, etm):
    c, s = pump(client(TicketCache(), etm=etm), server(ring), T0)
    assert c.handshake_done and c.etm == etm and s.etm == etm
    c.send(b"abc" * 100)
    assert s.receive_data(c.data_to_send(), T0) == [("data", b"abc" * 100)]


# --- buffer reuse across connections (the server command line serves one connection at a time) ----------

def test_server_reuses_the_buffers_of_a_finished_connection(ring):
    cfg = ServerConfig(ring, psk={ID: PSK}, max_fragment=2048, out_cap=3072)
    cache = TicketCache()
    s1 = TlsServer(cfg)
    c, s1 = pump(client(cache, max_fragment_length=3), s1, T0)
    assert s1.handshake_done and not s1.resumed
    s1.send(b"x" * 2048)  # leave state behind: keys, a pending record, max_fragment_length
    s2 = TlsServer(cfg, None, s1)
    assert s2.rl is s1.rl and s2._hb is s1._hb and s2._wb is s1._wb and len(s2.rl._ob) == 3072
    assert s2.rl.pending() == 0 and s2.rl.read is None and s2.rl.write_cs is None
    c, s2 = pump(client(cache), s2, T0 + 1)
    assert c.handshake_done and s2.handshake_done and s2.resumed
    s2.send(b"y" * 1000)
    assert c.receive_data(s2.data_to_send(), T0 + 1) == [("data", b"y" * 1000)]
    # other sizes: fresh buffers
    s3 = TlsServer(ServerConfig(ring, psk={ID: PSK}, max_fragment=1024), None, s2)
    assert s3.rl is not s2.rl and s3._wb is not s2._wb and s3.rl.max_in == 1024


def test_reconnect_reuses_the_buffers_of_a_finished_connection(ring):
    """A board that reconnects passes the finished connection as ``reuse``: the new client (and server)
    takes over its record layer and handshake buffers, allocating none, and resumes from the ticket."""
    cache = TicketCache()
    # the client has no separate flight buffer: its ClientHello is written to the output buffer
    sizes = dict(max_fragment=2048, hs_cap=2048, out_cap=2560)
    c1, s1 = full(ring, cache, **sizes)
    c2 = client(cache, reuse=c1, **sizes)
    s2 = TlsServer(ServerConfig(ring, psk={ID: PSK}), reuse=s1)
    assert c2.rl is c1.rl and c2._hb is c1._hb
    assert s2.rl is s1.rl
    c2, s2 = pump(c2, s2, T0 + 5)
    assert c2.handshake_done and c2.resumed and s2.resumed
    # different sizes: nothing is taken over, fresh buffers of the asked sizes
    c3 = client(cache, reuse=c2, max_fragment=1024, hs_cap=2048, out_cap=2560)
    assert c3.rl is not c2.rl and c3.rl.in_cap - c3.rl.OVERHEAD_IN == 1024
    c3, s3 = pump(c3, server(ring), T0 + 6)
    assert c3.handshake_done and c3.resumed


def reframe(data, size):
    """The plaintext handshake records of a flight cut into records of ``size`` bytes (every message then
    spans records); records from the first ChangeCipherSpec on are left as they are (encrypted)."""
    out = bytearray()
    i = 0
    plain = True
    while i < len(data):
        ctype, n = data[i], (data[i + 3] << 8) | data[i + 4]
        body = data[i + 5:i + 5 + n]
        if ctype == 20:
            plain = False
        if ctype == 22 and plain:
            for k in range(0, n, size):
                part = body[k:k + size]
                out += bytes([22, 3, 3, len(part) >> 8, len(part) & 0xFF]) + part
        else:
            out += data[i:i + 5 + n]
        i += 5 + n
    return bytes(out)


@pytest.mark.parametrize("size", [1, 3, 7, 100])
def test_handshake_messages_split_across_records(ring, size):
    """Messages are parsed where they lie in the record; one that spans records is reassembled in a
    buffer made on demand, of the message's size (at most hs_cap), and dropped once the message is handled
    -- for every split, including 1-byte records that cut the 4-byte message header."""
    cache = TicketCache()
    c, s = pump(client(cache, max_fragment=2048, hs_cap=2048), server(ring, max_fragment=2048), T0)
    assert c.handshake_done and s._hb is None and c._hb is None      # whole messages: no reassembly
    c, s = pump(client(cache, max_fragment=2048, hs_cap=2048), server(ring, max_fragment=2048), T0 + 1,
                tamper=lambda direction, data: reframe(data, size))
    assert c.handshake_done and s.handshake_done and c.resumed and s.resumed
    assert s.hs_cap == 4096 and s._hb is None and c._hb is None  # (the server's cap: a board profile's)
    cache2 = TicketCache()
    c, s = pump(client(cache2, max_fragment=2048, hs_cap=2048), server(ring, max_fragment=2048), T0 + 2,
                tamper=lambda direction, data: reframe(data, size))
    assert c.handshake_done and s.handshake_done and not c.resumed and c.ticket_received


def cut_first_server_record(at):
    """Tamper: the first record of the server's first flight (ServerHello and what follows it in the same
    record) cut in two records, the first ``at`` bytes long."""
    done = []

    def fn(direction, data):
        if direction != "s2c" or done or data[0] != 22:
            return data
        done.append(1)
        n = (data[3] << 8) | data[4]
        body = data[5:5 + n]
        head, tail = body[:at], body[at:]
        return (bytes([22, 3, 3, len(head) >> 8, len(head) & 0xFF]) + head +
                bytes([22, 3, 3, len(tail) >> 8, len(tail) & 0xFF]) + tail + data[5 + n:])
    return fn


def test_split_message_tail_and_whole_messages_beyond_hs_cap(ring):
    """A record that carries the tail of a split ServerHello and then a whole NewSessionTicket, together
    longer than hs_cap while each message fits it: the reassembly buffer takes only what the ServerHello
    still misses, and the NewSessionTicket is parsed where it lies. (TlsClient refused this with a
    decode_error until the reassembly was changed to complete one message at a time.)"""
    cache = TicketCache()
    full(ring, cache, max_fragment=2048)
    nst = 4 + 4 + 2 + len(cache.get("srv:443", T0)[E_TICKET])   # the renewed ticket has the same length
    hs_cap = nst + 8
    for at in (10, 40, 70):
        kept = dict(cache.entries)
        c, s = pump(client(cache, max_fragment=2048, hs_cap=hs_cap), server(ring, max_fragment=2048), T0 + 1,
                    tamper=cut_first_server_record(at))
        assert c.handshake_done and c.resumed and c.ticket_received, (at, c.alert_sent, c.error_message)
        assert c._hb is None  # the ServerHello's buffer, its size, dropped once it was handled
        cache.entries = kept


def test_state_larger_than_max_state_gets_a_zero_length_ticket():
    """A session whose state does not fit the ring's max_state (a 200-byte server name) gets a zero-length
    NewSessionTicket after the ServerHello promised one (RFC 5077 section 3.3: the server changed its
    mind), and the handshake completes; a ring with room issues the ticket."""
    for max_state, issued in ((256, False), (512, True)):
        r = KeyRing.generate(T0, lifetime=3600, max_state=max_state)
        cache = TicketCache()
        c, s = pump(client(cache, server_name=b"n" * 200), server(r), T0)
        assert c.handshake_done and s.handshake_done
        assert s.ticket_issued == issued and c.ticket_received == issued
        assert (cache.get("srv:443", T0) is not None) == issued


def test_split_message_larger_than_hs_cap_is_refused(ring):
    c = client(TicketCache(), max_fragment=2048, hs_cap=2048)
    s = server(ring, max_fragment=2048, hs_cap=64)
    c.start(T0)
    s.receive_data(reframe(c.data_to_send(), 10), T0)
    assert s.closed and s.alert_sent == C.ILLEGAL_PARAMETER and s._hb is None


class _UnwritableCache(TicketCache):
    """A cache whose file can no longer be written (full flash, no memory)."""
    broken = False
    failed = 0

    def save(self):
        if self.broken:
            self.failed += 1
            raise MemoryError("cache file")
        TicketCache.save(self)


def test_unwritable_cache_when_a_handshake_fails_is_no_crash(ring):
    """A handshake that offered a ticket fails (the server's keys and PSK changed): dropping the ticket cannot be
    written, and the engine still ends in its alert; the driver's keep_tickets returns the error (the
    handshake's outcome does not depend on the cache file)."""
    cache = _UnwritableCache()
    full(ring, cache)
    cache.broken = True
    c = client(cache)
    # new ticket keys (the ticket is refused: a full handshake) and a new PSK (which then fails)
    s = TlsServer(ServerConfig(KeyRing.generate(T0), psk={ID: b"\x01" * 16}))
    c, s = pump(c, s, T0 + 1)
    assert not c.handshake_done and c.closed
    assert c.alert_sent is not None or c.alert_received is not None
    assert cache.failed == 1  # the drop was tried, and its failure stayed in the driver
