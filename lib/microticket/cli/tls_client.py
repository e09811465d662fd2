"""`tls-client HOST PORT ...`: one TLS 1.3 or 1.2 connection, resumed from the ticket cache when it can be.
Options and output: microticket.cli.usage (``tls-client --help``)."""

import socket
import sys

from microticket.cli import fail

# Collect after every 1024 bytes allocated (MicroPython's gc.threshold): imports and the
# handshake's short-lived objects are then cleared before they scatter holes between the objects that
# stay, so a smaller heap suffices (measured, ROMFS: client 51.1 -> 46.5 KB with 2 KB; with 1 KB the full
# ECDHE_RSA handshake 40.8 -> 39.5 KB, the resumption unchanged). Restored on return; CPython's gc has no
# threshold(). The cost is a collection of a small heap per 1 KB allocated.


def main(argv):
    import gc
    th = gc.threshold() if hasattr(gc, "threshold") else None  # (CPython's gc has no threshold())
    if th is not None:
        gc.threshold(1024)  # (a number, not a name: every global is a board's heap)
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
    # the options checked and the client engine made by a module unloaded before the connection (its code's
    # objects and messages would be heap for the whole handshake on a board)
    from microticket.cli import tls_client_config as setup
    try:
        # a function made here, not by the setup module (its functions would keep it loaded): a call of f
        # with its arguments made later, when the engine asks (the CA file, the client certificate)
        r = setup.main(argv, lambda f, *a: lambda: f(*a))
    except OSError as e:  # (a ticket cache that cannot be read: a damaged one reads as empty)
        return fail(e, 1)
    setup = None
    sys.modules.pop("microticket.cli.tls_client_config")  # unloaded: out of sys.modules and of its package
    delattr(sys.modules["microticket.cli"], "tls_client_config")
    if sys.modules.pop("microticket.store", None):
        # the ticket cache's file writer too (the cache read its file): imported again when a ticket is saved,
        # after the handshake's peak (measured, ROMFS: resumed client 32701 -> 32348 B, on GCM 39613 -> 39004)
        delattr(sys.modules["microticket"], "store")
    if not isinstance(r, tuple):
        return r  # --help, or the one-line error already printed
    (cli, a, kw, e), o, host, port = r
    r = None
    cli = cli(*a, **kw)  # the client engine, its buffers allocated now that the start's module is gone
    if e:  # --early-data
        setattr(cli, *e)
    a = kw = e = None
    s = None
    try:
        # the driver after the engine's buffers: its code fills holes instead of taking room they need
        from microticket.tls import driver
        s = socket.socket()
        s.settimeout(o.get("timeout", 10))
        s.connect(socket.getaddrinfo(host, port)[0][-1])
        cli.start(driver.wall_clock())
        ok = driver.run_handshake(s, cli)
        reply = None
        if ok and "send" in o:
            if not cli._opt & 0x40000:  # (--early-data accepted as 0-RTT: sent already)
                driver.write_app(s, cli, o["send"].encode())
            reply = driver.read_app(s, cli)
        elif ok and cli.suite >> 8 == 0x13 and not cli.ticket_received and cli.cache.path:
            # TLS 1.3 tickets come after the handshake (RFC 8446 section 4.6.1): wait for one, briefly
            s.settimeout(min(o.get("timeout", 10), 2))
            while not cli.ticket_received and not cli.closed:
                driver.pump_once(s, cli, driver.wall_clock)
        if ok:
            driver.close(s, cli)
            s = None
        # the report by a module of its own, loaded now that the connection's buffers are gone: its text is
        # held neither during the handshake nor beside them
        cli.release()
        from microticket.cli.tls_client_report import report
        return report(cli, reply)
    except OSError as e:
        # the cache file cannot be written, the peer refuses or goes away, a timeout
        return fail("%s:%d: %s" % (host, port, e), 1)
    finally:
        if s is not None:
            s.close()
