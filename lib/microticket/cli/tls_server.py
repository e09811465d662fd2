"""`tls-server --port P ...`: serves TLS 1.3 and 1.2 connections, many at once (asyncio), each with deadlines (echo,
or a short page for an HTTP GET). Options: microticket.cli.usage (``tls-server --help``)."""

import gc
import sys

from micropython import const

from microticket.cli import fail, out

_GC_THRESHOLD = const(2048)  # see microticket.cli.tls_client (the server measured best with 2 KB)


def main(argv):
    th = gc.threshold() if hasattr(gc, "threshold") else None  # (CPython's gc has no threshold())
    if th is not None:
        gc.threshold(_GC_THRESHOLD)
    try:
        return _run(argv)
    except MemoryError:
        # the heap is too small for this configuration (the engine sent internal_error if it could): one
        # line, no traceback (a board's heap figures: README, "Memory and speed")
        return fail("out of memory", 1)
    finally:
        if th is not None:
            gc.threshold(th)


def _run(argv):
    # the options, the key ring, the certificate and key: read by a module unloaded once they are (its code,
    # messages and objects would be heap for the server's lifetime on a board)
    from microticket.cli import tls_server_config as setup
    r = setup.main(argv)
    setup = None
    sys.modules.pop("microticket.cli.tls_server_config")  # unloaded: out of sys.modules and of its package
    delattr(sys.modules["microticket.cli"], "tls_server_config")
    if not isinstance(r, tuple):
        return r  # --help, or the one-line error already printed
    cfg, o = r
    gc.collect()
    host = o.get("host", "127.0.0.1")
    limit = o.get("max-connections", 0) or connection_limit(cfg)
    reuse = 0
    if o.get(b"reuse-port".decode()):  # (names in bytes: no new qstr on a board, which pays only when asked)
        import socket
        reuse = getattr(socket, b"SO_REUSEPORT".decode(), 0)
        if not reuse:
            return fail(b"--reuse-port: this runtime's socket module has no SO_REUSEPORT".decode(), 2)
    try:
        if sys.implementation.name != "micropython":
            # CPython: one epoll loop instead of asyncio's streams (microticket.fleet.serve: the same
            # behaviour, a fraction of the cost per connection), SO_REUSEPORT with --reuse-port
            return __import__(b"microticket.fleet.serve".decode(), None, None, (True,))._serve(
                cfg, host, o["port"], o.get("count", 0), limit, o.get("timeout", 10), reuse)
        if limit == 1 or reuse:  # room for one connection: served one at a time, no event loop in the heap
            return _serve_one_at_a_time(cfg, host, o["port"], o.get("count", 0), o.get("timeout", 10), reuse)
        import asyncio
        return asyncio.run(_serve(cfg, host, o["port"], o.get("count", 0), limit, o.get("timeout", 10)))
    except OSError as e:
        return fail(b"%s:%d: %s".decode() % (host, o["port"], e), 1)  # (bytes: no interned string)
    except KeyboardInterrupt:
        return 0


# the heap an event loop and its streams take beyond the connections (MicroPython, measured from ROMFS:
# the server's smallest heap 58.5 KB one at a time, 71 KB under asyncio)
_LOOP_COST = const(14 * 1024)
_TLS13_PEAK = const(28 * 1024)  # more reserved for a TLS 1.3 handshake's peak (connection_limit)


def connection_limit(cfg):
    """How many connections a server of ``cfg`` serves at once when not told (--max-connections): what the
    free heap holds beyond an event loop, each connection its buffers (one record in, a flight and a
    record out, the flight buffer) and ~3 KB of objects and keys, after 16 KB kept for one handshake's
    peak (an RSA signature, X25519), 28 KB more with TLS 1.3; 1 (served one at a time, no event loop)
    when no more fit. Where the runtime cannot tell its free heap (CPython): 100."""
    if not hasattr(gc, "mem_free"):
        return 100
    gc.collect()
    per = 2 * cfg.max_fragment + cfg.wb_cap + 5 * 1024
    # TLS 1.3 (a 0x13xx suite configured): its modules load with the first TLS 1.3 handshake and its peak is
    # larger (measured from ROMFS: one at a time 79 KB against TLS 1.2's 70.5 with a P-256 certificate; with
    # the 16 KB reserve alone an event loop was chosen at 92 KB and the first handshake failed there)
    peak = 16 * 1024 + (_TLS13_PEAK if any(x >> 8 == 0x13 for x in cfg.suites) else 0)
    return max(1, (gc.mem_free() - peak - _LOOP_COST) // per)


def _serve_one_at_a_time(cfg, host, port, count, timeout, reuse=0):
    """A board with room for one connection: a blocking loop, each connection with its deadlines
    (microticket.tls.serve.serve_connection), every connection's server on the previous one's buffers.
    ``reuse``: SO_REUSEPORT's number, set on the listening socket (--reuse-port; asyncio's start_server on
    MicroPython cannot set it, so a MicroPython socket module that has it serves one at a time)."""
    import socket
    from microticket.cli.helpers import bind
    from microticket.tls.server import TlsServer
    srv = TlsServer(cfg)  # the first connection's buffers, taken over by every later connection
    from microticket.tls import serve  # after the buffers: its code fills holes, not room they need
    ls = socket.socket()
    try:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    except (AttributeError, OSError):
        pass
    if reuse:
        ls.setsockopt(socket.SOL_SOCKET, reuse, 1)
    try:
        port = bind(ls, host, port)
        ls.listen(1)
        out("listening on %s:%d" % (host, port))
        served = 0
        while not count or served < count:
            conn_sock, _ = ls.accept()
            try:
                srv = TlsServer(cfg, reuse=srv)
            except MemoryError:  # no room for this connection: refused in one line, the next one may fit
                conn_sock.close()
                served += 1
                out("connection %d: refused (no room)" % served)
                continue
            serve.serve_connection(conn_sock, srv, http_or_echo(srv), handshake_s=timeout, idle_s=timeout)
            served += 1
            _report(served, srv)
    finally:
        ls.close()
    return 0


def _report(n, s, names=None):
    """One line for the connection ``n`` that ended (its server engine ``s``): its alert, or what it agreed
    (_agreed). The alerts' names: ``names`` (microticket.tls.alerts.ALERT_NAMES, held by a CPython server),
    or loaded for the line and unloaded after it: a board server does not hold them (1.3 KB) while it
    serves."""
    sent = s.alert_sent
    if sent is not None:
        held = names is not None
        if not held:
            from microticket.tls.alerts import ALERT_NAMES as names
        out("connection %d: alert %d (%s) sent" % (n, sent, names.get(sent, "-")))
        if not held:
            names = None
            sys.modules.pop("microticket.tls.alerts")
            delattr(sys.modules["microticket.tls"], "alerts")
    elif s.handshake_done:
        out("connection %d: %s" % (n, _agreed(s).decode()))


def _agreed(s):
    """What the connection of the server engine ``s`` agreed, for the log line and the page: version, suite,
    how it resumed (from a ticket, from the session ID, or not) and whether a ticket was issued."""
    t = "TLS 1.%d, %s, resumed: %s, new ticket: %s" % (
        3 if s.suite >> 8 == 0x13 else 2, s.suite_name(), ("from a ticket" if s.ticket_offered else "from the session ID") if s.resumed
        else "no", "yes" if s.ticket_issued else "no")
    if s.alpn_protocol is not None:
        t = "%s, alpn: %s" % (t, s.alpn_protocol.decode())
    # 0-RTT (microticket.tls.early13 sets it when a client offered early data; a long key: no interned name)
    return (t + s.__dict__.get("early_data_line", "")).encode()


async def _serve(cfg, host, port, count, limit, timeout):
    """Serve connections concurrently (asyncio), each with a deadline for its handshake and for idle
    data (``timeout`` seconds), at most ``limit`` at once: a connection beyond it is closed at once, not
    queued (a board that has no room for another says so immediately, and --count counts it). A finished connection's server
    leaves its buffers to the next one (reuse=): a busy board does not fragment its heap."""
    import asyncio
    from microticket.tls.server import TlsServer
    from microticket.tls import serve
    limit = limit or connection_limit(cfg)
    state = [0, 0]  # connections active, connections served
    pool = [TlsServer(cfg)]  # finished servers whose buffers the next connections take over
    done = asyncio.Event()

    async def handle(reader, writer):
        srv = None
        if state[0] < limit:
            try:
                srv = TlsServer(cfg, reuse=pool.pop() if pool else None)
            except MemoryError:
                srv = None
        if srv is None:  # no room: refused at once, said in one line
            writer.close()
            await writer.wait_closed()  # (MicroPython's streams close the socket here)
            state[1] += 1
            out("connection %d: refused (%d being served, no room for more)" % (state[1], state[0]))
            if count and state[1] >= count:
                done.set()
            return
        state[0] += 1
        try:
            await serve.aio_serve_connection(reader, writer, srv, http_or_echo(srv), handshake_s=timeout,
                                             idle_s=timeout)
        finally:
            state[0] -= 1
            state[1] += 1
            pool.append(srv)
            try:
                _report(state[1], srv)
            except MemoryError:  # no room even for the line: the next connection's report says more
                pass
            if count and state[1] >= count:
                done.set()

    # an exception in the event loop's own tasks (MicroPython's accept loop running out of memory) ends
    # the server with one line, not a traceback printed by the loop's default handler
    failed = []

    def on_loop_error(loop, context):
        failed.append(context.get("exception") or context.get("message"))
        done.set()
    asyncio.get_event_loop().set_exception_handler(on_loop_error)
    server, port = await _listen(handle, host, port)
    out("listening on %s:%d" % (host, port))
    await done.wait()  # without --count: until interrupted
    server.close()
    if failed:
        e = failed[0]
        return fail("out of memory accepting a connection" if isinstance(e, MemoryError) else e, 1)
    return 0


async def _listen(handle, host, port):
    """(server, port bound): port 0 is a free port, the kernel's choice where the runtime can tell it
    (CPython), else a random port of the dynamic range tried until one binds (MicroPython: see
    microticket.cli.helpers.bind)."""
    import asyncio
    if port or sys.implementation.name != "micropython":
        server = await asyncio.start_server(handle, host, port)
        return server, port or server.sockets[0].getsockname()[1]
    from microticket.crypto import urandom
    err = None
    for _ in range(64):
        r = urandom(2)
        port = 49152 | (r[0] << 8 | r[1]) & 0x3FFF
        try:
            return await asyncio.start_server(handle, host, port), port
        except OSError as e:
            err = e
    raise err


# the page: what this connection agreed, and a script that fetches /connection, which a browser asks
# for on a new connection (every answer closes its connection): the second line shows it resumed
_PAGE_HEAD = const(b"<!doctype html><html><head><meta charset=utf-8><title>microticket</title></head><body "
                   b"style='font-family:sans-serif'><h1>microticket</h1><p>This page: <b id=first>")
_PAGE_TAIL = const(b"</b></p><p>Next connection: <b id=second>...</b></p><script>fetch('/connection',"
                   b"{cache:'no-store'}).then(r=>r.text()).then(t=>{document.getElementById('second')"
                   b".textContent=t}).catch(e=>{document.getElementById('second').textContent='error '+e})"
                   b"</script></body></html>\r\n")


_HTTP_HEAD_MAX = const(8192)  # a request header larger than this is refused (431) rather than buffered
_ECHO = const(1)  # what a connection turned out to be (ints: no interned string)
_HTTP = const(2)


def http_or_echo(s):
    """The handler of the connection of the server engine ``s`` (microticket.tls.serve): what the peer
    sends first decides. "GET " is an HTTP request, answered once its header is complete (it may come in
    any number of records), then closed: "GET /connection" with a line saying what this connection agreed,
    any other path with a small page showing it and fetching /connection (a browser's second connection,
    which shows whether it resumed); anything else is echoed, as it arrives, whatever the records'
    boundaries."""
    st = [0, b""]  # mode (0: not known yet, _ECHO, _HTTP), bytes held

    def handle(data):
        if st[0] == _ECHO:
            return data
        b = st[1] + data
        if not st[0]:
            if b"GET "[:len(b)] == b[:4] and len(b) < 4:
                st[1] = b  # "G", "GE", "GET": not known yet
                return b""
            st[0] = _HTTP if b[:4] == b"GET " else _ECHO
            if st[0] == _ECHO:
                st[1] = b""
                return b
        if b.find(b"\r\n\r\n") >= 0:
            body = _agreed(s)
            if b[4:16] == b"/connection ":
                kind = b"text/plain"
            else:
                kind = b"text/html"
                body = _PAGE_HEAD + body + _PAGE_TAIL
            head = b"HTTP/1.0 200 OK\r\nContent-Type: " + kind + b"; charset=utf-8\r\nCache-Control: no-store" + \
                b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
            return (head + body, True)
        if len(b) > _HTTP_HEAD_MAX:
            return (b"HTTP/1.0 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n", True)
        st[1] = b
        return b""
    return handle
