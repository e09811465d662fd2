"""Thin blocking-socket drivers around the sans-IO engines (CPython and MicroPython).

    run_handshake(sock, conn, clock)          -> True when the handshake completed
    read_app(sock, conn, clock)               -> bytes of application data (b"" at close)
    write_app(sock, conn, data)
    close(sock, conn)                         close_notify, then the socket

asyncio drivers are in microticket.tls.aio; the server loops (blocking and asyncio) in
microticket.tls.serve. ``clock`` is a function returning the current time in seconds
(the engines never read a clock). The drivers use the engines' public API only, and they persist a
client's ticket events (``keep_tickets``): the engine never writes its cache file.

The handshake reads exactly one record at a time (``conn.want()``), so nothing after the peer's Finished
is taken from the socket before the application asks for it.
"""

import time


def wall_clock():
    return int(time.time())


def keep_tickets(conn, events):
    """Apply a client's ("ticket", ...) / ("ticket_drop", ...) events to its cache (the file is written
    here). A cache that cannot be written costs only the next resumption: the error is returned."""
    cache = getattr(conn, "cache", None)
    err = None
    if cache is not None:
        for e in events:
            try:
                if e[0] == "ticket":
                    cache.put(e[1], e[2])
                elif e[0] == "ticket_drop":
                    cache.delete(e[1])
            except (OSError, MemoryError) as x:
                err = x
    return err


def _flush(sock, conn):
    # straight from the engine's output buffer: no copy of the flight or record
    out = conn.data_to_send(True)
    if len(out):
        sock.sendall(out)


def _recv_into(sock, buf, want):
    # exactly ``want`` bytes at most (0: what is there)
    try:
        if hasattr(sock, "recv_into"):  # CPython: short reads
            n = sock.recv_into(buf, min(want, len(buf))) if want else sock.recv_into(buf)
        else:
            # MicroPython: readinto never returns short (until EOF): ask for exactly what the next record
            # still misses, its header, then its body
            n = sock.readinto(buf, min(want, len(buf)))
    except OSError:  # timeout or reset: treated as the end of the stream
        return 0
    return n or 0


def pump_once(sock, conn, clock):
    """Read once from the socket straight into the engine's record buffer (no copy, no allocation),
    process it, send the output, persist ticket events; returns the events. During the handshake no
    further than the end of the next record is read."""
    n = _recv_into(sock, conn.recv_view(),
                   conn.want() if (not conn.handshake_done or not hasattr(sock, "recv_into")) else 0)
    ev = conn.received(n, clock())
    keep_tickets(conn, ev)
    try:
        _flush(sock, conn)
    except OSError:
        pass
    return ev


def run_handshake(sock, conn, clock=wall_clock):
    _flush(sock, conn)
    while not conn.handshake_done and not conn.closed:
        pump_once(sock, conn, clock)
    return conn.handshake_done and not conn.closed


def read_app(sock, conn, clock=wall_clock):
    while not conn.closed:
        parts = [e[1] for e in pump_once(sock, conn, clock) if e[0] == "data"]
        if parts:
            return b"".join(parts)
    return b""


def write_app(sock, conn, data):
    step = conn.max_send()
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
