"""Server loops around a TlsServer engine: one connection, blocking or asyncio (CPython and MicroPython).

    serve_connection(sock, conn, handler, clock)
    await aio_serve_connection(reader, writer, conn, handler, clock)

``handler(bytes)`` answers each piece of application data: bytes are sent, (bytes, True) sent and then
the connection closed, None closes it. A client never loads this module.
"""

from microticket.tls.driver import wall_clock, pump_once, _flush


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


def serve_connection(sock, conn, handler, clock=wall_clock):
    """Run one server connection on a blocking socket: handshake, then answer each piece of application
    data; returns the engine when the connection ended. Running out of memory ends this connection only
    (the engine has queued internal_error): a server goes on serving the next; any other exception from
    the engine is a bug and propagates."""
    try:
        while not conn.closed:
            for e in pump_once(sock, conn, clock):
                if e[0] == "data" and not conn.closed:
                    answer(conn, handler, e[1])
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


async def aio_serve_connection(reader, writer, conn, handler, clock=wall_clock):
    """The same on asyncio streams."""
    from microticket.tls.aio import aio_pump, _aflush
    try:
        while not conn.closed:
            for e in await aio_pump(reader, writer, conn, clock):
                if e[0] == "data" and not conn.closed:
                    answer(conn, handler, e[1])
            await _aflush(writer, conn)
    except (OSError, MemoryError):
        pass
    finally:
        try:
            await _aflush(writer, conn)
        except OSError:
            pass
        writer.close()
    return conn
