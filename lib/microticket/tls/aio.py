"""asyncio drivers around the sans-IO engines (CPython and MicroPython).

    await aio_handshake(reader, writer, conn, clock), aio_read_app(...), aio_write_app(writer, conn, data)

As the blocking drivers (microticket.tls.driver, whose helpers these share): the engines' public API only,
a client's ticket events persisted, the handshake read one record at a time.
"""

from micropython import const

from microticket.tls.driver import wall_clock, keep_tickets

_CHUNK = const(4096)


async def _aflush(writer, conn):
    out = conn.data_to_send()
    if out:
        writer.write(out)
        await writer.drain()


async def aio_pump(reader, writer, conn, clock=wall_clock):
    if not conn.handshake_done:  # one record at a time: nothing after the peer's Finished is read early
        try:
            data = await reader.readexactly(conn.want())
        except EOFError:  # asyncio.IncompleteReadError is an EOFError
            data = b""
    else:
        data = await reader.read(_CHUNK)
    ev = conn.receive_data(data or b"", clock())
    keep_tickets(conn, ev)
    await _aflush(writer, conn)
    return ev


async def aio_handshake(reader, writer, conn, clock=wall_clock):
    await _aflush(writer, conn)
    while not conn.handshake_done and not conn.closed:
        await aio_pump(reader, writer, conn, clock)
    return conn.handshake_done and not conn.closed


async def aio_read_app(reader, writer, conn, clock=wall_clock):
    while not conn.closed:
        parts = [e[1] for e in await aio_pump(reader, writer, conn, clock) if e[0] == "data"]
        if parts:
            return b"".join(parts)
    return b""


async def aio_write_app(writer, conn, data):
    step = conn.max_send()
    for off in range(0, len(data), step):
        conn.send(data[off:off + step])
        await _aflush(writer, conn)
