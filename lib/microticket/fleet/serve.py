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
- Randomness: the engines' rng hands out os.urandom's bytes read 4 KB at a time (``_pooled_random``).
- ``reuse_port``: SO_REUSEPORT's number, set on the listening socket, so N processes serve one port (the
  kernel spreads the connections over them); they share tickets through one --keys file or Redis.

Named ``_serve`` as the function it stands in for: the command reaches it by a name it already has (no new
name in a board's qstr pool: microticket.cli.tls_server imports this module by a bytes name).
"""

import select
import socket
import time

from microticket.cli import out
from microticket.tls.alerts import ALERT_NAMES
from microticket.tls.serve import answer
from microticket.tls.server import TlsServer

_IN = getattr(select, "EPOLLIN", 1)
_OUT = getattr(select, "EPOLLOUT", 4)
_RECV = 65536

# a connection: a list (fields by index)
_SOCK, _SRV, _HANDLER, _START, _LAST, _PENDING, _HELD = range(7)  # _HELD: early data (0-RTT) not answered yet


def _pooled_random():
    """An rng for the engines (``rng(n) -> n bytes``): os.urandom read 4 KB at a time and handed out once
    each, instead of a getrandom system call for every IV and random (about six per resumed handshake)."""
    import os
    st = [b"", 0]

    def rng(n):
        b, p = st
        if p + n > len(b):
            b = st[0] = os.urandom(4096 if n < 4096 else n)
            p = 0
        st[1] = p + n
        return b[p:p + n]
    return rng


def _serve(cfg, host, port, count, limit, timeout, reuse_port=0):
    import heapq  # cpython-only
    from microticket.cli.tls_server import http_or_echo, _report
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
    pool = [TlsServer(cfg, rng)]  # finished engines whose buffers the next connections take over
    served = 0
    made = 0  # connections accepted (a timer's tie-breaker)
    out("listening on %s:%d" % (host, ls.getsockname()[1]))

    def end(fd, c):
        nonlocal served
        del conns[fd]
        try:
            ep.unregister(fd)
        except OSError:
            pass
        c[_SOCK].close()
        served += 1
        pool.append(c[_SRV])
        _report(served, c[_SRV], ALERT_NAMES)

    def send(fd, c):
        # the engine's output sent at once; what the socket does not take waits (a copy), reading paused
        d = c[_SRV].data_to_send(True)
        if len(d):
            if c[_PENDING] is not None:
                c[_PENDING] += d
            else:
                try:
                    n = c[_SOCK].send(d)
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
            data = c[_SOCK].recv(_RECV)
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
        n = c[_SOCK].send(p)
        del p[:n]
        if not p:
            c[_PENDING] = None
            if c[_SRV].closed:
                end(fd, c)
            else:
                ep.modify(fd, _IN)
                flush(fd, c)

    try:
        while not count or served < count:
            wait = -1
            if timers:
                wait = max(0.0, timers[0][0] - time.monotonic())
            for fd, ev in ep.poll(wait):
                if fd == lfd:
                    while True:
                        try:
                            s, _ = ls.accept()
                        except (BlockingIOError, InterruptedError):
                            break
                        except OSError:  # (out of descriptors, the peer gone): the next one
                            break
                        if len(conns) >= limit:  # no room: refused at once, said in one line
                            s.close()
                            served += 1
                            out("connection %d: refused (%d being served, no room for more)" % (served, len(conns)))
                            continue
                        s.setblocking(False)
                        srv = TlsServer(cfg, rng, pool.pop() if pool else None)
                        now = time.monotonic()
                        c = [s, srv, http_or_echo(srv), now, now, None, []]
                        conns[s.fileno()] = c
                        ep.register(s.fileno(), _IN)
                        made += 1
                        heapq.heappush(timers, (now + timeout, made, s.fileno(), c))
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
        for fd, c in list(conns.items()):
            c[_SOCK].close()
        ep.close()
        ls.close()
    return 0
