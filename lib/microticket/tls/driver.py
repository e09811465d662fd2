"""Thin drivers around the sans-IO engines: blocking sockets and asyncio streams (CPython and MicroPython).

Blocking:
    run_handshake(sock, conn, clock)          -> True when the handshake completed
    read_app(sock, conn, clock)               -> bytes of application data (b"" at close)
    write_app(sock, conn, data)
    close(sock, conn)                         close_notify, then the socket
    serve_connection(sock, conn, handler, clock)  handler(bytes) -> reply bytes, (bytes, True) to send
                                              and close, or None to close

asyncio (in microticket.tls.aio, loaded on first use of a driver.aio_* name):
    await aio_handshake(reader, writer, conn, clock), aio_read_app(...), aio_serve_connection(...)

``clock`` is a function returning the current time in seconds (the engines never read a clock).
"""

import time


def wall_clock():
    return int(time.time())


def _flush(sock, conn):
    # straight from the record layer's output buffer: no copy of the flight or record
    out = conn.rl.take_view()
    if len(out):
        sock.sendall(out)


def _recv_into(sock, buf, want):
    try:
        if hasattr(sock, "recv_into"):  # CPython: short reads
            n = sock.recv_into(buf)
        else:
            # MicroPython: readinto never returns short (until EOF), so ask for exactly what the next
            # record still misses: its header, then its body
            n = sock.readinto(buf, min(want, len(buf))) if want else 0
    except OSError:  # timeout or reset: treated as the end of the stream
        return 0
    return n or 0


def pump_once(sock, conn, clock):
    """Read once from the socket straight into the engine's record buffer (no copy, no allocation),
    process it, send the output; returns the events."""
    n = _recv_into(sock, conn.recv_view(), conn.rl.want())
    ev = conn.received(n, clock())
    try:
        _flush(sock, conn)
    except OSError:
        pass
    return ev


def run_handshake(sock, conn, clock=wall_clock):
    _flush(sock, conn)
    pending = []
    while not conn.handshake_done and not conn.closed:
        for e in pump_once(sock, conn, clock):
            if e[0] == "data":
                pending.append(e[1])
    conn._early = pending
    return conn.handshake_done and not conn.closed


def read_app(sock, conn, clock=wall_clock):
    early = getattr(conn, "_early", None)
    if early:
        conn._early = []
        return b"".join(early)
    while not conn.closed:
        parts = [e[1] for e in pump_once(sock, conn, clock) if e[0] == "data"]
        if parts:
            return b"".join(parts)
    return b""


def write_app(sock, conn, data):
    step = conn.rl.max_out
    for off in range(0, len(data), step):
        conn.send(data[off:off + step])
        _flush(sock, conn)


def close(sock, conn):
    try:
        conn.close()
        _flush(sock, conn)
    except OSError:
        pass
    sock.close()


def serve_connection(sock, conn, handler, clock=wall_clock):
    """Run one server connection: handshake, then answer each piece of application data with
    handler(data); a None reply closes the connection."""
    try:
        while not conn.closed:
            for e in pump_once(sock, conn, clock):
                if e[0] == "data" and not conn.closed:
                    reply = handler(e[1])
                    if reply is None:
                        conn.close()
                    elif isinstance(reply, tuple):  # (bytes, True): send, then close
                        conn.send(reply[0])
                        conn.close()
                    else:
                        conn.send(reply)
                    _flush(sock, conn)  # one reply at a time in the output buffer
            _flush(sock, conn)
    except OSError:
        pass
    finally:
        try:
            _flush(sock, conn)
        except OSError:
            pass
        sock.close()
    return conn


# --- asyncio: in microticket.tls.aio, loaded on first use (a blocking client never pays for it) ----------

def __getattr__(name):
    if name.startswith("aio_"):
        from microticket.tls import aio
        return getattr(aio, name)
    raise AttributeError(name)
