"""The client engine (microticket.tls.client) as a board runs it, PSK suites: records cut to ``out_cap``,
in-place parsing with a reassembly buffer, ``reuse=`` of a finished client's record layer, the full
handshake and X25519 loaded only when a server does not resume, pre-shared keys of every length RFC 4279
allows; the session ID rules of RFC 5077 section 3.4, ServerHello extension checks (RFC 5246 section
7.4.1.4), RFC 7627 section 5.3.

The client flows (RFC 5077 Figures 1-4) are in test_tls_rfc5077_flows.py, bad input in
test_tls_bad_input.py, the interop tests beside them."""

import subprocess
import sys
import tracemalloc

import pytest

from microticket.ticket import KeyRing
from microticket.tls import const as C
from microticket.tls.cache import TicketCache
from microticket.tls.client import Client
from microticket.tls.engine import suite_name
from microticket.tls.server import ServerConfig, TlsServer, REISSUE_NEVER

import tlspeers as P
from tlspeers import E_TICKET, E_EMS, PSK, names, psk_client, psk_server, pump
from microticket.tls.driver import keep_tickets

from consts import PSK_IDENTITY as ID, TLS_T0 as T0
PSK_SUITE = C.PSK_WITH_AES_128_CBC_SHA256
ECDHE_PSK = C.ECDHE_PSK_WITH_AES_128_CBC_SHA256
SUITES = [pytest.param(PSK_SUITE, id="PSK"), pytest.param(ECDHE_PSK, id="ECDHE_PSK")]
ALERT_ROOM = 80         # what the client keeps free in its output buffer for an (encrypted) alert
RECORD_ROOM = 5 + 16 + 32 + 16  # header, explicit IV, MAC, padding at most


@pytest.fixture
def ring():
    return KeyRing.generate(T0, lifetime=3600)


server = psk_server


def client(cache=None, **kw):
    return psk_client(cache, **kw)


# --- wire helpers: records, handshake messages, ServerHello fields ----------------------------------

def records(data):
    """[(content type, body)] of a flight."""
    out = []
    i = 0
    while i < len(data):
        n = (data[i + 3] << 8) | data[i + 4]
        out.append((data[i], bytes(data[i + 5:i + 5 + n])))
        i += 5 + n
    assert i == len(data)
    return out


def record(ctype, body):
    return bytes([ctype, 3, 3, len(body) >> 8, len(body) & 0xFF]) + body


def messages(body):
    """[(type, body)] of the handshake messages in a plaintext record body."""
    out = []
    p = 0
    while p < len(body):
        n = int.from_bytes(body[p + 1:p + 4], "big")
        out.append((body[p], body[p + 4:p + 4 + n]))
        p += 4 + n
    return out


def hs(mtype, body):
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def parse_hello(b):
    """A ServerHello body as [version+random, session_id, suite+compression, [(ext type, data)]]."""
    sl = b[34]
    p = 35 + sl
    head, sid, mid = b[:34], b[35:p], b[p:p + 3]
    exts = []
    q = p + 5
    while q < len(b):
        t = int.from_bytes(b[q:q + 2], "big")
        n = int.from_bytes(b[q + 2:q + 4], "big")
        exts.append((t, b[q + 4:q + 4 + n]))
        q += 4 + n
    return [head, sid, mid, exts]


def build_hello(h):
    head, sid, mid, exts = h
    e = b"".join(t.to_bytes(2, "big") + len(d).to_bytes(2, "big") + d for t, d in exts)
    return head + bytes([len(sid)]) + sid + mid + len(e).to_bytes(2, "big") + e


def edit_server_hello(flight, fn):
    """The server flight with its ServerHello (first message of the first record) rewritten by ``fn``,
    which edits the parse_hello() list in place."""
    recs = records(flight)
    assert recs[0][0] == 22
    msgs = messages(recs[0][1])
    assert msgs[0][0] == C.HT_SERVER_HELLO
    h = parse_hello(msgs[0][1])
    fn(h)
    msgs[0] = (C.HT_SERVER_HELLO, build_hello(h))
    body = b"".join(hs(t, m) for t, m in msgs)
    return record(22, body) + b"".join(record(t, b) for t, b in recs[1:])


def client_hello_sid(flight):
    ch = records(flight)[0][1]
    assert ch[0] == C.HT_CLIENT_HELLO
    return ch[4 + 35:4 + 35 + ch[4 + 34]]


def first_server_flight_only(fn):
    """A pump tamper that applies ``fn`` to the server's first flight only."""
    seen = []

    def tamper(direction, data):
        if direction == "s2c" and not seen:
            seen.append(1)
            return fn(data)
        return data
    return tamper


def ticket_in_cache(ring, suites=None, **kw):
    cache = TicketCache()
    c, s = pump(client(cache, suites=suites, **kw), server(ring), T0)
    assert c.handshake_done and c.ticket_received and not c.resumed
    return cache


def assert_fatal(c, desc):
    assert c.closed and not c.handshake_done and c.alert_sent == desc, (c.alert_sent, c.error_message)


# --- construction --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [
    dict(suites=[C.ECDHE_RSA_WITH_AES_128_CBC_SHA256]),
    dict(suites=[PSK_SUITE, C.ECDHE_RSA_WITH_AES_128_CBC_SHA256]),
    dict(suites=[0x002F]),
    dict(psk=None),
    dict(out_cap=511),
    dict(max_fragment_length=5),
], ids=["ECDHE_RSA", "PSK+ECDHE_RSA", "RSA", "no-psk", "out_cap-511", "mfl-5"])
def test_refuses_what_it_cannot_do(kw):
    """A suite needs its credential (ECDHE_RSA a pin: none given here), an unknown suite is refused, and
    the output buffer must hold a ClientHello; max_fragment_length is 1..4 (RFC 6066 section 4): all
    refused when the client is built."""
    args = dict(psk=PSK)
    args.update(kw)
    with pytest.raises(ValueError):
        Client("srv", ID, cache=None, **args)


def test_clienthello_larger_than_out_cap_is_refused_at_start(ring):
    """A ticket and a server name that make the ClientHello larger than the output buffer are a
    configuration error, told at start() as a ValueError (not an alert to a server never reached); the
    same client with room for them resumes."""
    cache = TicketCache()
    c, s = pump(client(cache=cache), server(ring), T0)
    assert c.handshake_done and cache.get("srv:443", T0) is not None
    small = client(cache=cache, out_cap=512, server_name=b"n" * 400)
    with pytest.raises(ValueError):
        small.start(T0 + 1)
    c, s = pump(client(cache=cache, out_cap=1024, server_name=b"n" * 400), server(ring), T0 + 1)
    assert c.handshake_done


def test_default_suites_are_the_psk_suites(ring):
    c = client()
    # CBC first (no AEAD module on a resuming board), then ChaCha20-Poly1305, GCM, CCM_8
    assert tuple(c.suites) == (ECDHE_PSK, PSK_SUITE, 0xCCAC, 0x00A8, 0xCCAB, 0xC0A8)
    c, s = pump(c, server(ring), T0)
    assert c.handshake_done and c.suite == s.suite  # the server's choice (our server prefers plain PSK)
    for suite, name in ((PSK_SUITE, "TLS_PSK_WITH_AES_128_CBC_SHA256"),
                        (ECDHE_PSK, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256")):
        c, s = pump(client(suites=[suite]), server(ring), T0)
        assert c.handshake_done and c.suite == suite and suite_name(c.suite) == name


# --- out_cap: records cut to the output buffer -----------------------------------------------------------

@pytest.mark.parametrize("etm", [True, False], ids=["etm", "mte"])
@pytest.mark.parametrize("out_cap", [512, 700, 1024])
def test_records_are_cut_to_out_cap(ring, out_cap, etm):
    """Our records carry at most out_cap - 149 bytes of plaintext, so each one (and every flight) fits the
    output buffer beside an alert; a large payload arrives whole at the server. Large records from the
    server still fit the input buffer (max_fragment), which out_cap does not bound."""
    flights = []

    def tamper(direction, data):
        if direction == "c2s":
            flights.append(data)
        return data
    cache = TicketCache()
    for i in range(2):  # full, then resumed with the ticket in the ClientHello
        c, s = pump(client(cache, out_cap=out_cap, etm=etm), server(ring), T0 + i, tamper=tamper)
        assert c.handshake_done and s.handshake_done and c.resumed == (i == 1) and c.etm == etm
    assert all(len(f) <= out_cap - ALERT_ROOM for f in flights)
    assert c.rl.max_out == out_cap - RECORD_ROOM - ALERT_ROOM
    payload = bytes(range(256)) * 80  # 20480 bytes
    got = []
    n = 0
    for off in range(0, len(payload), c.rl.max_out):
        c.send(payload[off:off + c.rl.max_out])
        out = c.data_to_send()
        for ctype, body in records(out):
            assert ctype == 23 and 5 + len(body) <= out_cap - ALERT_ROOM
            n += 1
        got += [e[1] for e in s.receive_data(out, T0) if e[0] == "data"]
    assert b"".join(got) == payload and not s.closed
    assert n == -(-len(payload) // (out_cap - RECORD_ROOM - ALERT_ROOM))
    big = b"z" * 16384
    s.send(big)
    ev = c.receive_data(s.data_to_send(), T0)
    assert ev == [("data", big)] and not c.closed


def test_client_hello_larger_than_a_record_is_cut_too(ring):
    """With a small out_cap, a ClientHello carrying a ticket and a long server_name spans records (RFC 5246
    section 6.2.1 allows a message over several records); the server reassembles it and resumes."""
    name = b"n" * 100
    cache = ticket_in_cache(ring, out_cap=512, server_name=name)
    c = client(cache, out_cap=512, server_name=name)
    c.start(T0 + 1)
    ch = c.data_to_send()
    recs = records(ch)
    assert len(ch) <= 512 and len(recs) == 2
    assert all(t == 22 and len(b) <= 512 - RECORD_ROOM - ALERT_ROOM for t, b in recs)
    s = server(ring)
    s.receive_data(ch, T0 + 1)
    c, s = pump(c, s, T0 + 1, start=False)
    assert c.handshake_done and c.resumed and s.resumed and s.server_name == name


# --- handshake messages split across records ----------------------------------------------------------

def cut_first_record(at):
    """Tamper: the server's first plaintext handshake record cut in two at byte ``at`` of its body."""
    def fn(data):
        recs = records(data)
        body = recs[0][1]
        return record(22, body[:at]) + record(22, body[at:]) + b"".join(record(t, b) for t, b in recs[1:])
    return first_server_flight_only(fn)


def reframe_first_record(size):
    """Tamper: the server's first plaintext handshake record cut into records of ``size`` bytes."""
    def fn(data):
        recs = records(data)
        body = recs[0][1]
        parts = b"".join(record(22, body[k:k + size]) for k in range(0, len(body), size))
        return parts + b"".join(record(t, b) for t, b in recs[1:])
    return first_server_flight_only(fn)


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("resume", [False, True], ids=["full", "resumed"])
def test_message_split_at_every_point(ring, suite, resume):
    """The server's first flight (ServerHello + ServerKeyExchange + ServerHelloDone, or ServerHello +
    NewSessionTicket) cut in two records at every byte: the second record then carries the tail of one
    message and the further messages whole, which are parsed in place after the reassembled one. A
    reassembly buffer is made only when a cut falls inside a message, of that message's size, and it is
    dropped once the message is handled."""
    cache = ticket_in_cache(ring, suites=[suite])
    probe = []
    c, s = pump(client(_copy(cache) if resume else TicketCache(), suites=[suite]), server(ring), T0 + 1,
                tamper=first_server_flight_only(lambda d: probe.append(d) or d))
    assert c.handshake_done and c.resumed == resume
    body = records(probe[0])[0][1]
    bounds = set()
    p = 0
    for _, m in messages(body):
        p += 4 + len(m)
        bounds.add(p)
    assert len(bounds) >= 2  # at least two messages: there are cuts with whole messages after a tail
    for at in range(1, len(body)):
        c = client(_copy(cache) if resume else TicketCache(), suites=[suite])
        reassembled = []  # (the buffer's size, the message's) of each message handled from a buffer of its own
        dispatch = c._dispatch

        def spy(t, b, raw, c=c, dispatch=dispatch, reassembled=reassembled):
            if raw is not None and raw.obj is not c.rl._ib:
                reassembled.append((len(raw.obj), len(raw)))
            return dispatch(t, b, raw)
        c._dispatch = spy
        c, s = pump(c, server(ring), T0 + 2, tamper=cut_first_record(at))
        assert c.handshake_done and s.handshake_done and c.resumed == resume, (at, c.error_message)
        assert c.ticket_received
        assert (not reassembled) == (at in bounds), at
        assert all(n == m for n, m in reassembled) and c._hb is None, (at, reassembled)


def _copy(cache):
    """A cache holding the same entries (each run consumes or replaces its ticket)."""
    out = TicketCache()
    out.entries = dict(cache.entries)
    return out


@pytest.mark.parametrize("suite", SUITES)
def test_every_record_size(ring, suite):
    """The server's first flight cut into records of every size from 1 byte (cutting the 4-byte message
    headers) to the whole flight, for a full handshake and a resumption."""
    cache = ticket_in_cache(ring, suites=[suite])
    for size in range(1, 300):
        c, s = pump(client(TicketCache(), suites=[suite]), server(ring), T0 + 1, tamper=reframe_first_record(size))
        assert c.handshake_done and not c.resumed and c.ticket_received, (size, c.error_message)
        c, s = pump(client(_copy(cache), suites=[suite]), server(ring), T0 + 1, tamper=reframe_first_record(size))
        assert c.handshake_done and c.resumed, (size, c.error_message)


def test_split_message_larger_than_hs_cap_is_refused(ring):
    """A message that cannot fit the reassembly buffer is refused from its header: illegal_parameter (too
    large for us, not malformed)."""
    c, s = pump(client(TicketCache(), hs_cap=64), server(ring), T0, tamper=reframe_first_record(10))
    assert_fatal(c, C.ILLEGAL_PARAMETER)


def test_application_data_inside_a_split_message_is_refused(ring):
    """RFC 5246 section 6.2.1: handshake messages may not be interleaved with other record types -- here
    a CCS between the parts of a message."""
    def fn(data):
        body = records(data)[0][1]
        return record(22, body[:10]) + record(20, b"\x01") + record(22, body[10:])
    c, s = pump(client(TicketCache()), server(ring), T0, tamper=first_server_flight_only(fn))
    assert_fatal(c, C.UNEXPECTED_MESSAGE)


# --- the cache file across processes ----------------------------------------------------------------------

@pytest.mark.parametrize("suite", SUITES)
def test_cache_file_resumes_in_a_new_cache_object(ring, tmp_path, suite):
    """The ticket a client got is in the file: a new TicketCache read from it (a board after a reboot)
    resumes, and the file then holds the renewed ticket."""
    path = str(tmp_path / "tickets.json")
    c1, s1 = pump(client(TicketCache(path), suites=[suite]), server(ring), T0)
    assert c1.handshake_done and not c1.resumed and c1.ticket_received
    c2, s2 = pump(client(TicketCache(path), suites=[suite]), server(ring), T0 + 1)
    assert c2.handshake_done and c2.resumed and s2.resumed and c2.suite == suite
    assert c2.master == c1.master and c2.ems
    assert TicketCache(path).get("srv:443", T0 + 1)[E_TICKET] != c2.offered[E_TICKET]  # renewed (RFC 5077 section 5.8)


# --- what a resumption loads ------------------------------------------------------------------------------

LOADED = r"""
import sys, socket
from microticket.tls.cache import TicketCache
from microticket.tls.client import Client
from microticket.tls import driver
port = int(sys.argv[1])
c = Client("srv", b"%s", bytes.fromhex("%s"), cache=TicketCache(sys.argv[2]), suites=[0xC037])
s = socket.socket()
s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
c.start(driver.wall_clock())
ok = driver.run_handshake(s, c)
driver.close(s, c)
mods = [m for m in ("microticket.pk", "microticket.pk.x25519", "microticket.tls.ecdhe", "microticket.tls.kx_psk",
                    "microticket.tls.kx_ecdhe_cert", "microticket.tls.auth_pin", "microticket.tls.server",
                    "microticket.pk.rsa", "microticket.pk.der", "microticket.wire", "microticket.tls.state")
        if m in sys.modules]
print("RESULT", ok, c.resumed, c.suite, " ".join(mods) or "-")
""" % (P.PSK_ID, P.PSK_HEX)


@pytest.mark.parametrize("runtime", ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)])
def test_resumption_does_not_load_x25519(runtime, tmp_path):
    """A fresh process resuming an ECDHE_PSK session (RFC 5077 Figure 2: no key exchange) never imports
    X25519 or a key exchange's module, nor certificate, server or Reader/Writer code; the full handshake
    before it, in its own process, loads X25519 and the PSK key exchange (so the check can fail). On MicroPython
    the full handshake unloads X25519 and ecdhe after its ECDH (microticket.pk.unload): the pk package, which
    any X25519 import loads and nothing unloads, stays as the trace."""
    if runtime == "micropython" and P.micropython_bin() is None:
        pytest.skip("micropython missing")
    script = tmp_path / "loaded.py"
    script.write_text(LOADED)
    cache = str(tmp_path / "cache.json")
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX])
    port = srv.port
    cmd = [sys.executable] if runtime == "cpython" else [P.micropython_bin()]
    try:
        runs = [subprocess.run(cmd + [str(script), str(port), cache], capture_output=True, text=True,
                               timeout=60, env=P.our_env(runtime)) for _ in range(2)]
    finally:
        log = srv.stop()
    res = []
    for r in runs:
        line = [l for l in r.stdout.splitlines() if l.startswith("RESULT")]
        assert line, r.stdout + r.stderr + log
        res.append(line[0].split(" ", 4))
    assert res[0][:4] == ["RESULT", "True", "False", str(ECDHE_PSK)], res
    assert res[0][4] == ("microticket.pk microticket.pk.x25519 microticket.tls.ecdhe microticket.tls.kx_psk"
                         if runtime == "cpython" else "microticket.pk microticket.tls.kx_psk"), res
    assert res[1][:4] == ["RESULT", "True", "True", str(ECDHE_PSK)], res
    assert res[1][4] == "-", res


# --- reuse= ---------------------------------------------------------------------------------------------

def test_reuse_takes_over_the_record_layer(ring):
    """reuse= a finished PskClient of the same sizes: the new client takes its record layer (both buffers),
    allocating neither, and resumes on them; other sizes get fresh buffers. (No reassembly buffer is held
    between messages: each split message gets one of its size, dropped once it is handled.)"""
    cache = TicketCache()
    sizes = dict(max_fragment=2048, hs_cap=1024, out_cap=1200)
    c1, s1 = pump(client(cache, **sizes), server(ring), T0, tamper=reframe_first_record(50))
    assert c1.handshake_done and c1._hb is None
    c1.send(b"x" * 500)  # leave output and keys behind
    rl = c1.rl
    tracemalloc.start()
    try:
        a = tracemalloc.get_traced_memory()[0]
        c2 = client(cache, reuse=c1, **sizes)
        reused = tracemalloc.get_traced_memory()[0] - a
        c3 = client(cache, **sizes)
        fresh = tracemalloc.get_traced_memory()[0] - a - reused
    finally:
        tracemalloc.stop()
    assert c2.rl is rl and c3.rl is not rl
    assert fresh > rl.in_cap + 1200 and reused < 2600, (reused, fresh)  # (less than the smaller buffer more)
    assert rl.pending() == 0 and rl.read is None and rl.write_cs is None
    assert c2.rl.max_out == 1200 - RECORD_ROOM - ALERT_ROOM and c2.rl.max_in == 2048
    c2, s2 = pump(c2, server(ring), T0 + 1, tamper=reframe_first_record(50))
    assert c2.handshake_done and c2.resumed and c2._hb is None
    c2.send(b"y" * 500)
    assert s2.receive_data(c2.data_to_send(), T0 + 1) == [("data", b"y" * 500)]
    # other sizes: nothing is taken over
    for other in (dict(sizes, max_fragment=1024), dict(sizes, out_cap=1300), dict(sizes, hs_cap=2048)):
        c4 = client(cache, reuse=c2, **other)
        assert c4.rl is not rl and c4._hb is None
    c5, s5 = pump(client(cache, reuse=c2, **dict(sizes, max_fragment=1024)), server(ring), T0 + 2)
    assert c5.handshake_done and c5.resumed and c5.rl.max_in == 1024


# --- session ID rules (RFC 5077 section 3.4) ---------------------------------------------------------------

def test_random_session_id_only_with_a_ticket(ring):
    """Section 3.4: a client offering a ticket may send a session ID to recognise an accepting server's
    echo; PskClient sends 32 random bytes, fresh for every connection, and none without a ticket."""
    c = client(TicketCache())
    c.start(T0)
    assert client_hello_sid(c.data_to_send()) == b""
    cache = ticket_in_cache(ring)
    sids = []
    for i in range(2):
        c = client(_copy(cache))
        c.start(T0)
        sids.append(client_hello_sid(c.data_to_send()))
    assert len(sids[0]) == 32 and len(sids[1]) == 32 and sids[0] != sids[1]


def test_server_echo_means_resumed(ring):
    """The server echoes our session ID when it accepts the ticket; the client then expects the
    abbreviated handshake (Figure 2) and ends resumed."""
    cache = ticket_in_cache(ring)
    echoed = []

    def look(data):
        h = parse_hello(messages(records(data)[0][1])[0][1])
        echoed.append(h[1])
        return data
    c = client(cache)
    c, s = pump(c, server(ring), T0 + 1, tamper=first_server_flight_only(look))
    assert c.resumed and c._opt & 32 and echoed[0] == c._sid and len(c._sid) == 32
    assert names(c.trace, "recv") == ["ServerHello", "NewSessionTicket", "ChangeCipherSpec", "Finished"]


@pytest.mark.parametrize("reissue", ["always", REISSUE_NEVER])
def test_empty_session_id_detects_resumption_from_next_message(ring, reissue):
    """Section 3.4 with an empty session ID: the message after ServerHello tells -- NewSessionTicket or
    ChangeCipherSpec means resumed, ServerKeyExchange / ServerHelloDone a full handshake."""
    cache = ticket_in_cache(ring, suites=[ECDHE_PSK])
    c = client(cache, session_id="empty", suites=[ECDHE_PSK])
    c, s = pump(c, server(ring, reissue=reissue), T0 + 1)
    assert c._sid == b"" and c.resumed and s.resumed
    after = names(c.trace, "recv")[1]
    assert after == ("NewSessionTicket" if reissue == "always" else "ChangeCipherSpec")
    # the ticket no longer opens: a full handshake, told by the ServerKeyExchange
    cache.entries["srv:443"][E_TICKET] = b"\x01" * 100
    c, s = pump(client(cache, session_id="empty", suites=[ECDHE_PSK]), server(ring), T0 + 2)
    assert c.handshake_done and not c.resumed and names(c.trace, "recv")[1] == "ServerKeyExchange"
    # PSK without an identity hint: no ServerKeyExchange, the ServerHelloDone tells
    cache = ticket_in_cache(ring, suites=[PSK_SUITE])
    cache.entries["srv:443"][E_TICKET] = b"\x01" * 100
    c, s = pump(client(cache, session_id="empty", suites=[PSK_SUITE]), server(ring), T0 + 3)
    assert c.handshake_done and not c.resumed and names(c.trace, "recv")[1] == "ServerHelloDone"


@pytest.mark.parametrize("suite", SUITES)
def test_echoed_session_id_then_full_handshake_is_refused(ring, suite):
    """Section 3.4: a server that echoes our session ID has accepted the ticket; a ServerKeyExchange (or,
    for PSK, a ServerHelloDone) after it is an unexpected_message, and the offered ticket is dropped."""
    cache = ticket_in_cache(ring, suites=[suite])
    cache.entries["srv:443"][E_TICKET] = b"\x01" * 100  # refused: the server runs a full handshake
    c = client(cache, suites=[suite])
    c.start(T0 + 1)
    ch = c.data_to_send()
    sid = client_hello_sid(ch)
    s = server(ring)
    s.receive_data(ch, T0 + 1)

    def echo(h):
        h[1] = sid
    ev = c.receive_data(edit_server_hello(s.data_to_send(), echo), T0 + 1)
    assert ("alert", C.UNEXPECTED_MESSAGE, False) in ev and ("ticket_drop", "srv:443") in ev
    assert_fatal(c, C.UNEXPECTED_MESSAGE)
    keep_tickets(c, ev)
    assert cache.get("srv:443", T0 + 1) is None


def test_abbreviated_handshake_without_echo_is_refused(ring):
    """Section 3.4: with a non-empty session ID, only the echo says the ticket was accepted; a
    NewSessionTicket + ChangeCipherSpec after a ServerHello with another session ID is unexpected."""
    cache = ticket_in_cache(ring)

    def other(h):
        h[1] = b"\x55" * 32
    c, s = pump(client(cache), server(ring), T0 + 1,
                tamper=first_server_flight_only(lambda d: edit_server_hello(d, other)))
    assert_fatal(c, C.UNEXPECTED_MESSAGE)
    assert cache.get("srv:443", T0 + 1) is None


def test_change_cipher_spec_without_an_offered_ticket_is_refused(ring):
    """An abbreviated handshake needs a ticket we offered: CCS right after ServerHello, no ticket."""
    c = client(None)
    s = server(ring)
    c.start(T0)
    s.receive_data(c.data_to_send(), T0)
    sh = records(s.data_to_send())[0][1]
    first = hs(C.HT_SERVER_HELLO, messages(sh)[0][1])
    ev = c.receive_data(record(22, first) + record(20, b"\x01"), T0)
    assert ("alert", C.UNEXPECTED_MESSAGE, False) in ev
    assert_fatal(c, C.UNEXPECTED_MESSAGE)


# --- ServerHello extensions (RFC 5246 section 7.4.1.4) ------------------------------------------------------

@pytest.mark.parametrize("ext,kw", [
    (C.EXT_SERVER_NAME, {}),                                 # no server_name sent
    (C.EXT_SESSION_TICKET, dict(request_ticket=False)),
    (C.EXT_MAX_FRAGMENT_LENGTH, {}),
    (C.EXT_SIGNATURE_ALGORITHMS, {}),
    (0x1234, {}),
], ids=["server_name", "session_ticket", "max_fragment_length", "signature_algorithms", "unknown"])
def test_server_hello_extension_not_offered(ring, ext, kw):
    """Section 7.4.1.4: a ServerHello extension the ClientHello did not carry is unsupported_extension."""
    def add(h):
        h[3].append((ext, b"\x03" if ext == C.EXT_MAX_FRAGMENT_LENGTH else b""))
    c, s = pump(client(TicketCache(), **kw), server(ring), T0,
                tamper=first_server_flight_only(lambda d: edit_server_hello(d, add)))
    assert_fatal(c, C.UNSUPPORTED_EXTENSION)
    assert s.alert_received == C.UNSUPPORTED_EXTENSION


@pytest.mark.parametrize("ext", [C.EXT_RENEGOTIATION_INFO, C.EXT_EXTENDED_MASTER_SECRET,
                                 C.EXT_ENCRYPT_THEN_MAC, C.EXT_SESSION_TICKET],
                         ids=["renegotiation_info", "extended_master_secret", "encrypt_then_mac",
                              "session_ticket"])
def test_duplicate_server_hello_extension(ring, ext):
    """Section 7.4.1.4: there must not be more than one extension of the same type: decode_error."""
    def dup(h):
        d = [e for e in h[3] if e[0] == ext]
        assert d, h[3]
        h[3].append(d[0])
    c, s = pump(client(TicketCache()), server(ring), T0,
                tamper=first_server_flight_only(lambda d: edit_server_hello(d, dup)))
    assert_fatal(c, C.DECODE_ERROR)


@pytest.mark.parametrize("ext,data,desc", [
    (C.EXT_RENEGOTIATION_INFO, b"\x01\x00", C.HANDSHAKE_FAILURE),   # RFC 5746 section 3.4: not empty
    (C.EXT_EXTENDED_MASTER_SECRET, b"\x00", C.DECODE_ERROR),         # RFC 7627 section 5.1: empty
    (C.EXT_SESSION_TICKET, b"\x00\x01\x00", C.DECODE_ERROR),         # RFC 5077 section 3.2: empty
], ids=["renegotiation_info", "extended_master_secret", "session_ticket"])
def test_server_hello_extension_contents(ring, ext, data, desc):
    def change(h):
        h[3] = [(t, data if t == ext else d) for t, d in h[3]]
    c, s = pump(client(TicketCache()), server(ring), T0,
                tamper=first_server_flight_only(lambda d: edit_server_hello(d, change)))
    assert_fatal(c, desc)


def test_server_hello_suite_not_offered(ring):
    """Section 7.4.1.3: the server picks one of the offered suites (illegal_parameter otherwise)."""
    def psk(h):
        h[2] = PSK_SUITE.to_bytes(2, "big") + b"\x00"
    c, s = pump(client(TicketCache(), suites=[ECDHE_PSK]), server(ring), T0,
                tamper=first_server_flight_only(lambda d: edit_server_hello(d, psk)))
    assert_fatal(c, C.ILLEGAL_PARAMETER)


# --- RFC 7627 section 5.3: extended_master_secret across a resumption -----------------------------------------

@pytest.mark.parametrize("how", ["session-without-ems", "resumption-without-ems"])
def test_ems_flipped_on_resumption_is_refused(ring, how):
    """Section 5.3: a resumption whose ServerHello changes extended_master_secret from the original
    session's is aborted with handshake_failure, and the ticket of that session is deleted."""
    cache = ticket_in_cache(ring)
    assert cache.get("srv:443", T0)[E_EMS]
    tamper = None
    if how == "session-without-ems":
        # the cached session had no EMS; the server resumes (its ticket says EMS) and echoes it
        cache.entries["srv:443"][E_EMS] = False
    else:
        # the session had EMS; the resuming ServerHello leaves it out
        def drop(h):
            h[3] = [e for e in h[3] if e[0] != C.EXT_EXTENDED_MASTER_SECRET]
        tamper = first_server_flight_only(lambda d: edit_server_hello(d, drop))
    c, s = pump(client(cache), server(ring), T0 + 1, tamper=tamper)
    assert_fatal(c, C.HANDSHAKE_FAILURE)
    assert s.alert_received == C.HANDSHAKE_FAILURE
    assert cache.get("srv:443", T0 + 1) is None and "srv:443" not in cache.entries


def test_no_ems_session_resumes_without_ems(ring):
    """The converse: a session made without EMS (ems=False) resumes without it (both sides agree)."""
    cache = ticket_in_cache(ring, ems=False)
    assert not cache.get("srv:443", T0)[E_EMS]
    c, s = pump(client(cache, ems=False), server(ring), T0 + 1)
    assert c.resumed and not c.ems and not s.ems


# --- after the handshake --------------------------------------------------------------------------------------

def test_hello_request_refused_with_no_renegotiation(ring):
    """RFC 5746 / RFC 5246 section 7.4.1.1: a HelloRequest after the handshake is answered with a
    no_renegotiation warning; the connection stays open. Any other handshake message is fatal."""
    c, s = pump(client(TicketCache()), server(ring), T0)
    s.rl.write(C.CT_HANDSHAKE, hs(C.HT_HELLO_REQUEST, b""))
    ev = c.receive_data(s.data_to_send(), T0)
    assert ev == [] and not c.closed
    ev = s.receive_data(c.data_to_send(), T0)
    assert ("alert", C.NO_RENEGOTIATION, True) in ev
    s.rl.write(C.CT_HANDSHAKE, hs(C.HT_SERVER_HELLO, bytes(38)))
    c.receive_data(s.data_to_send(), T0)
    assert c.closed and c.alert_sent == C.UNEXPECTED_MESSAGE


def test_close_notify_both_ways(ring):
    c, s = pump(client(TicketCache()), server(ring), T0)
    c.close()
    ev = s.receive_data(c.data_to_send(), T0)
    assert ("alert", C.CLOSE_NOTIFY, True) in ev and ("closed",) in ev
    assert c.closed and c.data_to_send() == b""
    with pytest.raises(Exception):
        c.send(b"late")


def test_keylog_and_recv_view(ring):
    """NSS key log line (CLIENT_RANDOM) and the zero-copy input path recv_view()/received()."""
    lines = []
    c = client(TicketCache(), keylog=lines.append)
    s = server(ring)
    c.start(T0)
    for _ in range(10):
        d = c.data_to_send()
        if d:
            s.receive_data(d, T0)
        d = s.data_to_send()
        while d:
            v = c.recv_view()
            k = min(len(v), len(d), 7)
            v[:k] = d[:k]
            c.received(k, T0)
            d = d[k:]
        if c.handshake_done and s.handshake_done:
            break
    assert c.handshake_done and lines == ["CLIENT_RANDOM %s %s" % (c.client_random.hex(), c.master.hex())]
    assert c.master == s.master


def test_error_message_is_the_alert_text():
    """error_message says why we sent the alert (the command line prints it after "error: "): the text of
    the TlsAlert."""
    c = Client("srv", ID, PSK)
    seen = []
    on_error = c._on_error

    def spy(e):
        seen.append(e)
        on_error(e)
    c._on_error = spy
    c.start(T0)
    c.data_to_send()
    c.receive_data(record(22, hs(C.HT_FINISHED, bytes(12))), T0)
    assert c.alert_sent == C.UNEXPECTED_MESSAGE and len(seen) == 1
    assert c.error_message == seen[0].message
