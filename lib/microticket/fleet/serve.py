"""CPython's `tls-server` loop: asyncio protocols around TlsServer engines, no streams (CPython only).

    _serve(cfg, host, port, count, limit, timeout, reuse_port) -> exit status

What microticket.cli.tls_server._serve and microticket.tls.serve.aio_serve_connection do on a board, with
the same behaviour seen from the wire and the same output lines (one per connection: what it agreed, or
the alert sent, or refused), at a fraction of the cost per connection on CPython: the engine is fed from
``data_received`` and its output written at once, so a connection costs no task, no stream reader or
writer and no ``wait_for`` per read (measured with `python tools/bench_tls.py --profile`: the streams
driver took about as much of a resumed handshake's time as the engine and its crypto together).

- Deadlines as aio_serve_connection's: the whole handshake within ``timeout`` seconds of the connection,
  then at most ``timeout`` seconds without data; one timer per connection, rearmed only when it fires.
- At most ``limit`` connections at once; one beyond is closed at once and reported "refused".
- Buffers: a finished connection's engine leaves its buffers to the next (``reuse=``), as on a board.
- ``reuse_port``: the listening socket gets SO_REUSEPORT, so N processes serve one port (the kernel spreads
  the connections); they share tickets through one --keys file or Redis.

Named ``_serve`` as the function it stands in for: the command reaches it by a name it already has (no new
name in a board's qstr pool: microticket.cli.tls_server imports this module by a bytes name).
"""

import asyncio
import socket
import time

from microticket.cli import out
from microticket.tls.alerts import ALERT_NAMES
from microticket.tls.serve import answer
from microticket.tls.server import TlsServer


def _serve(cfg, host, port, count, limit, timeout, reuse_port=False):
    return asyncio.run(_main(cfg, host, port, count, limit, timeout, reuse_port))


async def _main(cfg, host, port, count, limit, timeout, reuse_port):
    from microticket.cli.tls_server import http_or_echo, _report
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    st = [0, 0]  # connections active, connections served
    pool = [TlsServer(cfg)]  # finished engines whose buffers the next connections take over

    def clock():
        return int(time.time())

    class Conn(asyncio.Protocol):
        srv = None
        tr = None
        timer = None
        last = 0.0
        ended = False

        def connection_made(self, tr):
            self.tr = tr
            if st[0] >= limit:  # no room: refused at once, said in one line
                self.ended = True
                tr.abort()
                st[1] += 1
                out("connection %d: refused (%d being served, no room for more)" % (st[1], st[0]))
                self._count()
                return
            st[0] += 1
            srv = self.srv = TlsServer(cfg, reuse=pool.pop() if pool else None)
            self.handler = http_or_echo(srv)
            self.start = self.last = loop.time()
            self.timer = loop.call_at(self.start + timeout, self._expire)

        def _expire(self):
            # the handshake's deadline counts from the connection; after it, the time since data last came
            now = loop.time()
            due = (self.start if not self.srv.handshake_done else self.last) + timeout
            if now < due:
                self.timer = loop.call_at(due, self._expire)
            else:
                self.timer = None
                self.tr.close()

        def data_received(self, data):
            srv = self.srv
            if srv is None or srv.closed:
                return
            self.last = loop.time()
            for e in srv.receive_data(data, clock()):
                if e[0] == "data" and not srv.closed:
                    answer(srv, self.handler, e[1])
            self._flush()

        def eof_received(self):
            if self.srv is not None and not self.srv.closed:
                self.srv.receive_data(b"", clock())
                self._flush()
            return False  # the transport closes

        def _flush(self):
            srv = self.srv
            d = srv.data_to_send()  # a copy: the transport may keep it while the engine reuses its buffer
            if d:
                self.tr.write(d)
            if srv.closed:
                self.tr.close()  # after what was written

        def pause_writing(self):  # a peer that does not read: stop reading it (its data waits in the kernel)
            self.tr.pause_reading()

        def resume_writing(self):
            self.tr.resume_reading()

        def connection_lost(self, exc):
            if self.ended:
                return
            self.ended = True
            if self.timer is not None:
                self.timer.cancel()
            st[0] -= 1
            st[1] += 1
            pool.append(self.srv)
            _report(st[1], self.srv, ALERT_NAMES)
            self._count()

        def _count(self):
            if count and st[1] >= count and not done.done():
                done.set_result(None)

    ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        ls.bind(socket.getaddrinfo(host, port)[0][-1])
        ls.listen(128)
        ls.setblocking(False)
    except OSError:
        ls.close()
        raise
    server = await loop.create_server(Conn, sock=ls)
    out("listening on %s:%d" % (host, ls.getsockname()[1]))
    try:
        await done  # without --count: until interrupted
    finally:
        server.close()
    return 0
