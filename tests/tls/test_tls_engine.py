"""The one engine (microticket.tls.engine) both roles run: states as data, the error path, the record layer
that knows no roles, the API the drivers use."""

import pytest

from microticket.errors import TlsAlert
from microticket.ticket import KeyRing
from microticket.tls import const as C
from microticket.tls import engine, record
from microticket.tls.cache import TicketCache
from microticket.tls.client import Client
from microticket.tls.server import ServerConfig, TlsServer

from consts import PSK, PSK_IDENTITY as ID, TLS_T0 as T0


def pair():
    cfg = ServerConfig(KeyRing.generate(T0), psk={ID: PSK})
    return Client("srv", ID, PSK, cache=TicketCache(), max_version=0x0303), TlsServer(cfg)  # (TLS 1.2's flows)


def test_a_bug_sends_internal_error_and_propagates(monkeypatch):
    """h11's rule: a bug of ours is not turned into a protocol error and swallowed. The engine queues
    internal_error (the peer learns the connection is dead), closes, and the exception propagates."""
    c, s = pair()
    c.start(T0)

    def broken(self, t, body):
        raise KeyError("a bug in a handler")
    key = next(k for k in TlsServer._TABLE if k & 0x1FF == C.HT_CLIENT_HELLO)
    monkeypatch.setitem(TlsServer._TABLE, key, broken)
    with pytest.raises(KeyError):
        s.receive_data(c.data_to_send(), T0)
    assert s.closed and s.alert_sent == C.INTERNAL_ERROR and not s.handshake_done
    ev = c.receive_data(s.data_to_send(), T0)
    assert ("alert", C.INTERNAL_ERROR, True) in ev and c.closed


def test_memory_exhaustion_is_not_swallowed_either(monkeypatch):
    """MemoryError is not the peer's fault: internal_error, and the driver decides (the server loop ends
    that connection and serves the next: microticket.tls.serve)."""
    c, s = pair()
    c.start(T0)
    s.receive_data(c.data_to_send(), T0)
    c.receive_data(s.data_to_send(), T0)

    def no_memory(*a):
        raise MemoryError("memory allocation failed")
    monkeypatch.setattr(engine.Engine, "_make_keys", no_memory)
    with pytest.raises(MemoryError):
        s.receive_data(c.data_to_send(), T0)
    assert s.alert_sent == C.INTERNAL_ERROR


def test_the_peers_bad_input_is_an_alert_not_an_exception():
    c, s = pair()
    ev = s.receive_data(bytes([22, 3, 3, 0, 5, C.HT_FINISHED, 0, 0, 1, 0]), T0)  # Finished first
    assert ev[-2:] == [("alert", C.UNEXPECTED_MESSAGE, False), ("closed",)] and s.closed


@pytest.mark.parametrize("role", ["client", "server"])
def test_a_message_missing_from_the_table_is_unexpected_message(role):
    """States as data: every (state, message type) pair not in the role's table is refused with
    unexpected_message, by construction; the table holds the message types of its role only."""
    table = (Client if role == "client" else TlsServer)._TABLE
    types = {k & 0x1FF for k in table}
    if role == "client":
        assert types == {C.HT_SERVER_HELLO, C.HT_NEW_SESSION_TICKET, C.HT_CERTIFICATE, C.HT_SERVER_KEY_EXCHANGE,
                         C.HT_CERTIFICATE_REQUEST, C.HT_SERVER_HELLO_DONE, C.HT_FINISHED, 0x100}
    else:
        assert types == {C.HT_CLIENT_HELLO, C.HT_CLIENT_KEY_EXCHANGE, C.HT_FINISHED, 0x100}
    for state in {k >> 9 for k in table}:
        for t in range(0, 25):
            if state << 9 | t in table:
                continue
            c, s = pair()
            e = c if role == "client" else s
            e.state = state
            with pytest.raises(TlsAlert) as exc:
                e._dispatch(t, memoryview(b""), None)
            assert exc.value.description == C.UNEXPECTED_MESSAGE


def test_the_record_layer_knows_no_engine():
    """record.py: records only. It imports no engine module and names no role or handshake state."""
    import ast
    tree = ast.parse(open(record.__file__).read())
    imported = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):
            imported.add(n.module)
        elif isinstance(n, ast.Import):
            imported.update(a.name for a in n.names)
    assert imported == {"micropython", "microticket"}, imported  # microticket: crypto and errors
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
        {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not [x for x in names if any(w in x.lower() for w in ("client", "server", "engine", "state")) or
                x.lstrip("_").startswith("ST_")]


def test_the_drivers_api():
    """What the drivers use, and nothing else: want, recv_view/received, data_to_send(view), max_send."""
    c, s = pair()
    c.start(T0)
    v = c.data_to_send(True)
    assert isinstance(v, memoryview) and c.data_to_send() == b""
    n = len(v)
    buf = s.recv_view()
    assert s.want() == 5  # a record header first
    buf[0:n] = v
    s.received(n, T0)
    assert len(s.data_to_send()) > 0  # the server's flight
    assert c.max_send() == 16384
    small = Client("srv", ID, PSK, out_cap=1024)  # records cut to fit the output buffer beside an alert
    assert small.max_send() == 1024 - (5 + 16 + 32 + 16) - 80


@pytest.mark.parametrize("version", [0x0303, 0x0304])
def test_release_drops_the_buffers_and_keeps_the_results(version):
    """A connection that has ended gives its buffers and keys back (release()); what it agreed stays
    readable (the CLI's report runs after it), and the engine can no longer be used by mistake."""
    from tlspeers import pump
    cfg = ServerConfig(KeyRing.generate(T0), psk={ID: PSK})
    c, s = pump(Client("srv", ID, PSK, cache=TicketCache(), max_version=version), TlsServer(cfg), now=T0)
    assert c.handshake_done and s.handshake_done
    suite, resumed = c.suite, c.resumed
    c.close()
    assert c.data_to_send()  # close_notify
    c.release()
    assert c.rl is None and c._th is None and c.master is None
    assert (c.suite, c.resumed, c.handshake_done, c.closed) == (suite, resumed, True, True)
    with pytest.raises(AttributeError):
        c.data_to_send()
