"""CPython's `tls-server` loop: one epoll loop around TlsServer engines (CPython; elsewhere than Linux, the
command's asyncio loop).

    _serve(cfg, host, port, count, limit, timeout, reuse_port) -> exit status

What microticket.cli.tls_server._serve and microticket.tls.serve.aio_serve_connection do on a board (asyncio
streams), with the same behaviour seen from the wire and the same output lines (one per connection: what it
agreed, or the alert sent, or refused), at a fraction of the cost per connection: a readable socket is read
straight into the engine and its output sent at once, with no task, stream, future or callback handle per
connection or per read (measured with `python tools/bench_tls.py --profile`, a resumed TLS 1.2 handshake:
asyncio's streams took 138-173 us of the server's 455-486 us of CPU, this loop 8-15 us).

- Deadlines as aio_serve_connection's: the whole handshake within ``timeout`` seconds of the connection,
  then at most ``timeout`` seconds without data; one timer per connection in a heap, re-armed when it fires.
- At most ``limit`` connections at once; one beyond is closed at once and reported "refused".
- A peer that does not read its output: the connection stops being read until its output has gone (the
  engine's buffers are not overwritten while output waits: it is copied out).
- Buffers: a finished connection's engine leaves its buffers to the next (``reuse=``), as on a board.
- Randomness: the engines' rng hands out os.urandom's bytes read 4 KB at a time (``_pooled_random``), and
  so does a plain KeyRing's (its tickets' IVs), which only this loop uses.
- System calls per resumed connection (s_time -reuse: 12): a connection is its descriptor (accept without
  a socket object, whose constructor calls getsockname; reads and writes with os.read/os.write), one
  accept per readiness (none that finds no connection), closing it takes it out of the epoll set, and the
  lines of the connections ended in one wake-up are written with one write before the loop waits again.
- ``reuse_port``: SO_REUSEPORT's number, set on the listening socket, so N processes serve one port (the
  kernel spreads the connections over them); they share tickets through one --keys file or Redis.

Named ``_serve`` as the function it stands in for: the command reaches it by a name it already has (no new
name in a board's qstr pool: microticket.cli.tls_server imports this module by a bytes name).
"""

import os
import select
import socket
import sys
import time

from microticket.cli import out
from microticket.tls.alerts import ALERT_NAMES
from microticket import ticket
from microticket.tls.serve import answer
from microticket.tls.server import TlsServer

_IN = getattr(select, "EPOLLIN", 1)
_OUT = getattr(select, "EPOLLOUT", 4)
_RECV = 65536

# a connection: a list (fields by index); _FD: its socket's descriptor (no socket object: see _serve)
_FD, _SRV, _HANDLER, _START, _LAST, _PENDING, _HELD = range(7)  # _HELD: early data (0-RTT) not answered yet


def _pooled_random():
    """An rng for the engines (``rng(n) -> n bytes``): os.urandom read 4 KB at a time and handed out once
    each, instead of a getrandom system call for every IV and random (about six per resumed handshake).
    For one thread: each pool is used by the loop alone."""
    st = [b"", 0]

    def rng(n):
        b, p = st
        if p + n > len(b):
            b = st[0] = os.urandom(4096 if n < 4096 else n)
            p = 0
        st[1] = p + n
        return b[p:p + n]
    return rng


def _line(n, s, agreed):
    """microticket.cli.tls_server._report's line for the connection ``n`` that ended (its engine ``s``), with
    its newline, or "" (no alert, no handshake: no line); ``agreed``: that module's _agreed. Collected and
    written with the others of a wake-up (one write)."""
    sent = s.alert_sent
    if sent is not None:
        return "connection %d: alert %d (%s) sent\n" % (n, sent, ALERT_NAMES.get(sent, "-"))
    if s.handshake_done:
        return "connection %d: %s\n" % (n, agreed(s).decode())
    return ""


def _serve(cfg, host, port, count, limit, timeout, reuse_port=0):
    import heapq  # cpython-only
    import fcntl  # cpython-only
    import termios  # cpython-only
    from microticket.cli.tls_server import http_or_echo, _agreed
    if not hasattr(select, "epoll"):  # (not Linux) the command's asyncio loop, as on a board
        if reuse_port:
            raise OSError("--reuse-port needs Linux's epoll here")
        import asyncio
        from microticket.cli import tls_server
        return asyncio.run(tls_server._serve(cfg, host, port, count, limit, timeout))
    ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            ls.setsockopt(socket.SOL_SOCKET, reuse_port, 1)
        ls.bind(socket.getaddrinfo(host, port)[0][-1])
        ls.listen(128)
        ls.setblocking(False)
    except OSError:
        ls.close()
        raise
    ep = select.epoll()
    lfd = ls.fileno()
    ep.register(lfd, _IN)
    conns = {}  # fd: connection
    timers = []  # heap of (deadline, number, fd, connection)
    rng = _pooled_random()
    ring = cfg.ring
    if type(ring) is ticket.KeyRing and ring.rng is ticket.crypto.urandom:
        # a ring this loop alone uses (a fleet's FleetRing is also a thread's: left as it is): its ticket
        # IVs from a pool of its own too (one getrandom per ticket otherwise)
        ring.rng = _pooled_random()
    pool = [TlsServer(cfg, rng)]  # finished engines whose buffers the next connections take over
    served = 0
    made = 0  # connections accepted (a timer's tie-breaker)
    out("listening on %s:%d" % (host, ls.getsockname()[1]))

    lines = []  # the connections' lines, written before the loop waits (one write for those of one wake-up)

    def end(fd, c):
        nonlocal served
        del conns[fd]
        os.close(fd)  # (closing it takes it out of the epoll set: the only descriptor of its socket)
        served += 1
        pool.append(c[_SRV])
        line = _line(served, c[_SRV], _agreed)
        if line:
            lines.append(line)

    def write_lines():
        sys.stdout.write("".join(lines))
        lines.clear()
        try:
            sys.stdout.flush()
        except AttributeError:
            pass

    def send(fd, c):
        # the engine's output sent at once; what the socket does not take waits (a copy), reading paused
        d = c[_SRV].data_to_send(True)
        if len(d):
            if c[_PENDING] is not None:
                c[_PENDING] += d
            else:
                try:
                    n = os.write(fd, d)
                except BlockingIOError:
                    n = 0
                if n < len(d):
                    c[_PENDING] = bytearray(d[n:])
                    ep.modify(fd, _OUT)

    def flush(fd, c):
        send(fd, c)
        if c[_SRV].closed and c[_PENDING] is None:
            end(fd, c)

    def readable(fd, c):
        try:
            data = os.read(fd, _RECV)
        except BlockingIOError:
            return
        except OSError:  # reset: the end of the stream
            data = b""
        srv = c[_SRV]
        c[_LAST] = time.monotonic()
        held = c[_HELD]
        for e in srv.receive_data(data, int(time.time())):
            if e[0] == "data" or e[0] == "early_data":  # early data answered once the handshake is done
                held.append(e[1])       # (microticket.tls.serve's rule: a replay never completes it)
        while held and srv.handshake_done and not srv.closed:
            send(fd, c)  # one reply at a time in the engine's output buffer (a flight or a record)
            answer(srv, c[_HANDLER], held.pop(0))
        flush(fd, c)  # (b"": the engine has closed, the end of the stream)

    def writable(fd, c):
        p = c[_PENDING]
        n = os.write(fd, p)
        del p[:n]
        if not p:
            c[_PENDING] = None
            if c[_SRV].closed:
                end(fd, c)
            else:
                ep.modify(fd, _IN)
                flush(fd, c)

    accept = ls._accept  # (socket.accept without the socket object: its descriptor and the peer's address)
    nbio = termios.FIONBIO
    one = (1).to_bytes(4, sys.byteorder)
    try:
        while not count or served < count:
            if lines:
                write_lines()
            wait = -1
            if timers:
                wait = max(0.0, timers[0][0] - time.monotonic())
            for fd, ev in ep.poll(wait):
                if fd == lfd:
                    # one connection per readiness: another waiting makes the next poll return at once (no
                    # accept per wake-up that finds none)
                    try:
                        s = accept()[0]
                    except OSError:  # (none after all, out of descriptors, the peer gone): the next one
                        continue
                    if len(conns) >= limit:  # no room: refused at once, said in one line
                        os.close(s)
                        served += 1
                        lines.append("connection %d: refused (%d being served, no room for more)\n"
                                     % (served, len(conns)))
                        continue
                    try:
                        fcntl.ioctl(s, nbio, one)  # non-blocking (what socket.setblocking(False) does)
                    except OSError:
                        os.close(s)
                        continue
                    srv = TlsServer(cfg, rng, pool.pop() if pool else None)
                    now = time.monotonic()
                    c = [s, srv, http_or_echo(srv), now, now, None, []]
                    conns[s] = c
                    ep.register(s, _IN)
                    made += 1
                    heapq.heappush(timers, (now + timeout, made, s, c))
                    continue
                c = conns.get(fd)
                if c is None:
                    continue
                try:
                    if ev & _OUT and c[_PENDING] is not None:
                        writable(fd, c)
                    else:
                        readable(fd, c)
                except OSError:
                    if fd in conns:
                        end(fd, c)
                except Exception:  # a bug in the engine: this connection ends, the server goes on
                    import traceback  # cpython-only
                    traceback.print_exc()
                    if fd in conns:
                        end(fd, c)
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                _, k, fd, c = heapq.heappop(timers)
                if conns.get(fd) is not c:
                    continue  # ended already (the descriptor may be another connection's now)
                due = (c[_START] if not c[_SRV].handshake_done else c[_LAST]) + timeout
                if due > now:
                    heapq.heappush(timers, (due, k, fd, c))
                else:
                    end(fd, c)
    finally:
        if lines:
            write_lines()
        for fd in list(conns):
            os.close(fd)
        ep.close()
        ls.close()
    return 0
