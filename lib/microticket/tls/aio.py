"""asyncio drivers around the sans-IO engines (CPython and MicroPython); also reachable as
microticket.tls.driver.aio_*.

    await aio_handshake(reader, writer, conn, clock), aio_read_app(...), aio_write_app(...),
    aio_serve_connection(reader, writer, conn, handler, clock)
"""

from micropython import const

from microticket.tls.driver import wall_clock

_CHUNK = const(4096)


async def _aflush(writer, conn):
    out = conn.data_to_send()
    if out:
        writer.write(out)
        await writer.drain()


async def aio_pump(reader, writer, conn, clock=wall_clock):
    data = await reader.read(_CHUNK)
    ev = conn.receive_data(data or b"", clock())
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
    step = conn.rl.max_out
    for off in range(0, len(data), step):
        conn.send(data[off:off + step])
        await _aflush(writer, conn)


async def aio_serve_connection(reader, writer, conn, handler, clock=wall_clock):
    try:
        while not conn.closed:
            for e in await aio_pump(reader, writer, conn, clock):
                if e[0] == "data" and not conn.closed:
                    reply = handler(e[1])
                    if reply is None:
                        conn.close()
                    elif isinstance(reply, tuple):  # (bytes, True): send, then close
                        conn.send(reply[0])
                        conn.close()
                    else:
                        conn.send(reply)
            await _aflush(writer, conn)
    except OSError:
        pass
    finally:
        try:
            await _aflush(writer, conn)
        except OSError:
            pass
        writer.close()
    return conn
