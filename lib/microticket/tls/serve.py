"""Server loops around a TlsServer engine: one connection, blocking or asyncio (CPython and MicroPython).

    serve_connection(sock, conn, handler, clock)
    await aio_serve_connection(reader, writer, conn, handler, clock, handshake_s, idle_s)

``handler(bytes)`` answers each piece of application data: bytes are sent, (bytes, True) sent and then
the connection closed, None closes it. TLS 1.3 0-RTT early data (("early_data", bytes) events,
microticket.tls.early13) is answered the same way once the handshake is complete: a replayed ClientHello
never completes it, so a reply (and whatever the handler does) never follows a replay. A client never
loads this module.
"""

from micropython import const

from microticket.tls.driver import wall_clock, pump_once, _flush

_CHUNK = const(4096)


def answer(conn, handler, data):
    """Queue the handler's reply to ``data`` (see the module note; an empty reply sends nothing)."""
    reply = handler(data)
    if reply is None:
        conn.close()
    elif isinstance(reply, tuple):
        conn.send(reply[0])
        conn.close()
    elif reply:
        conn.send(reply)


def serve_connection(sock, conn, handler, clock=wall_clock, handshake_s=0, idle_s=0):
    """Run one server connection on a blocking socket: handshake, then answer each piece of application
    data; returns the engine when the connection ended. Deadlines as for aio_serve_connection: the whole
    handshake within ``handshake_s`` seconds, each wait for data after it at most ``idle_s`` (0: none;
    a socket timeout set by the caller then applies). Running out of memory ends this connection only
    (the engine has queued internal_error): a server goes on serving the next; any other exception from
    the engine is a bug and propagates."""
    start = clock()
    held = []  # early data, answered after the handshake
    try:
        while not conn.closed:
            if handshake_s and not conn.handshake_done:
                left = handshake_s - (clock() - start)
                if left <= 0:
                    break
                sock.settimeout(left)
            elif idle_s:
                sock.settimeout(idle_s)
            for e in pump_once(sock, conn, clock):
                if e[0].endswith("data"):  # "data", "early_data"
                    held.append(e[1])
            while held and conn.handshake_done and not conn.closed:
                answer(conn, handler, held.pop(0))
                _flush(sock, conn)  # one reply at a time in the output buffer
            _flush(sock, conn)
    except (OSError, MemoryError):
        pass
    finally:
        try:
            _flush(sock, conn)
        except OSError:
            pass
        sock.close()
    return conn


async def aio_serve_connection(reader, writer, conn, handler, clock=wall_clock, handshake_s=0, idle_s=0):
    """The same on asyncio streams, with deadlines: the whole handshake must be done within
    ``handshake_s`` seconds of the first byte asked for, and a connection that sends nothing for
    ``idle_s`` seconds after it is closed (0: no deadline). A client that dribbles or idles then holds its
    slot for a bounded time only (microticket.cli.tls_server serves many at once)."""
    import asyncio
    from microticket.tls.aio import _aflush
    start = clock()
    held = []  # early data, answered after the handshake
    try:
        await _aflush(writer, conn)
        while not conn.closed:
            if not conn.handshake_done:
                t = handshake_s - (clock() - start) if handshake_s else 0
                if handshake_s and t <= 0:
                    break
            else:
                t = idle_s
            read = reader.read(_CHUNK)  # a server takes what is there: data after the Finished included
            try:
                data = await (asyncio.wait_for(read, t) if t else read)
            except asyncio.TimeoutError:
                break
            except EOFError:  # asyncio.IncompleteReadError is an EOFError: the peer closed
                data = b""
            for e in conn.receive_data(data or b"", clock()):
                if e[0].endswith("data"):  # "data", "early_data"
                    held.append(e[1])
            while held and conn.handshake_done and not conn.closed:
                answer(conn, handler, held.pop(0))
            await _aflush(writer, conn)
    except (OSError, MemoryError):
        pass
    finally:
        try:
            await _aflush(writer, conn)
        except (OSError, MemoryError):  # (the alert of a connection that ran out of memory, if it fits)
            pass
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, AttributeError):
            pass
    return conn
