"""`tls-client HOST PORT ...`: one TLS 1.3 or 1.2 connection, resumed from the ticket cache when it can be.
Options and output: microticket.cli.usage (``tls-client --help``)."""

import socket

from microticket.cli import parse, fail

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
    try:
        a = parse(argv, "tls-client", "empty-session-id no-ems no-etm time-unknown",
                  "psk-identity psk:hex psk-file pin-sha256:hex cache send keylog server-name mfl:1..4 "
                  "timeout:1..86400 suites ca-file max-version psk-modes",
                  "HOST PORT:1..65535")
        if a is None:
            return 0
        (host, port), o = a
        psk = o.get("psk")
        if "psk-file" in o:
            from microticket.cli.helpers import psk_file
            psk = psk_file(o["psk-file"])
        pin = o.get("pin-sha256")
        if pin is not None and len(pin) != 32:
            raise ValueError("--pin-sha256 must be 64 hex digits (a SHA-256 hash)")
        if "ca-file" in o:
            try:
                open(o["ca-file"]).close()  # unreadable: one error line now, not a failed handshake later
            except OSError as e:
                return fail("--ca-file %s: %s" % (o["ca-file"], e), 1)
        if psk is None and pin is None and "ca-file" not in o:
            raise ValueError("need --psk, --pin-sha256 or --ca-file")
        # --max-version compared as bytes: no string constant ("1.2" would be one more interned string on a board)
        v = o.get("max-version", "").encode()
        if v and v != b"1.2" and v != b"1.3":
            raise ValueError("--max-version must be 1.2 or 1.3, not %r" % o["max-version"])
        if "psk-modes" in o:  # dhe (psk_dhe_ke: 1), ke (psk_ke: 0), in the order given (bytes: no interned text)
            m = o["psk-modes"].encode()
            if m not in (b"dhe", b"ke", b"dhe,ke", b"ke,dhe"):
                raise ValueError("--psk-modes must be dhe, ke or both (dhe,ke), not %r" % o["psk-modes"])
            o["psk-modes"] = bytes(1 if x == b"dhe" else 0 for x in m.split(b","))
    except ValueError as e:
        return fail(e)
    except OSError as e:  # an unreadable --psk-file or --ca-file
        return fail(e, 1)
    s = None
    try:
        cli = make_client(o, host, port, psk, pin)
        # the driver after the engine's buffers: its code fills holes instead of taking room they need
        from microticket.tls import driver
        s = socket.socket()
        s.settimeout(o.get("timeout", 10))
        s.connect(socket.getaddrinfo(host, port)[0][-1])
        cli.start(driver.wall_clock())
        if not driver.run_handshake(s, cli):
            if cli.trust is not None and cli.alert_sent in (42, 43, 45, 46, 48):
                # the chain refused (microticket.pk.x509): one line with the reason
                print("certificate: " + cli.error_message)
                return 1
            from microticket.tls.alerts import ALERT_NAMES
            print("handshake failed: alert sent %s (%s), received %s (%s)" % (
                cli.alert_sent, ALERT_NAMES.get(cli.alert_sent, "-"), cli.alert_received,
                ALERT_NAMES.get(cli.alert_received, "-")))
            return fail("handshake failed: " + (cli.error_message if cli.alert_sent is not None else
                                                "alert received"), 1)
        v13 = cli.suite >> 8 == 0x13  # a TLS 1.3 suite
        reply = None
        if "send" in o:
            driver.write_app(s, cli, o["send"].encode())
            reply = driver.read_app(s, cli)
        elif v13 and not cli.ticket_received and cli.cache.path:
            # TLS 1.3 tickets come after the handshake (RFC 8446 section 4.6.1): wait for one, briefly
            s.settimeout(min(o.get("timeout", 10), 2))
            while not cli.ticket_received and not cli.closed:
                driver.pump_once(s, cli, driver.wall_clock)
        print("version: TLS 1.3" if v13 else "version: TLS 1.2")
        print("resumed: " + ("yes" if cli.resumed else "no"))
        from microticket.tls.engine import suite_name
        print("suite: " + suite_name(cli.suite))
        print("ticket: " + ("yes" if cli.ticket_received else "no"))
        if reply is not None:
            print("reply: " + reply.decode())
        driver.close(s, cli)
        s = None
    except OSError as e:
        # the cache file cannot be written, the peer refuses or goes away, a timeout
        return fail("%s:%d: %s" % (host, port, e), 1)
    finally:
        if s is not None:
            s.close()
    return 0


def make_client(o, host, port, psk, pin):
    """The client engine for these options, with its ticket cache (read here and by the engine; the
    driver persists the engine's ticket events).
    Board-sized buffers: a PSK server sends small messages, a certificate chain needs room; the
    ClientHello flight is sized to the cached ticket it carries (no ticket: 512 bytes). The drivers send
    the output after every step, so it holds a flight or one record (plus an alert), not both."""
    import time
    from microticket.tls.cache import TicketCache
    cache = TicketCache(o.get("cache"))
    ca = o.get("ca-file")
    # a validated chain must name the server: --server-name, or the HOST given
    name = o.get("server-name", host if ca else "")
    server_id = name if name else "%s:%d" % (host, port)
    ident = o.get("psk-identity", "Client_identity").encode()
    entry = cache.get(server_id, int(time.time()))
    wb_cap = 512 + len(name) + len(ident) + (len(entry[0]) if entry is not None else 0)  # [0]: its ticket
    entry = None
    import gc
    gc.collect()   # the cache file's parse garbage gone before the buffers take their contiguous runs
    mfl = o.get("mfl", 0)
    max_fragment = (256 << mfl) if mfl else 16384
    sid_mode = "empty" if "empty-session-id" in o else "random"
    log = None
    if "keylog" in o:
        from microticket.cli.helpers import keylog
        log = keylog(o["keylog"])
    trust = None
    if ca:
        def trust():
            return open(ca, "rb")
    suites = None
    if "suites" in o:
        from microticket.cli.helpers import suite_list
        suites = suite_list(o["suites"])
    # the one client engine; its output buffer holds the ClientHello flight (at most ~130 bytes beside
    # the ticket, the name and the identity) and an alert; the records it sends are cut to fit that buffer
    from microticket.tls.client import Client
    return Client(server_id, ident if psk is not None else b"", psk, pin_sha256=pin, cache=cache, suites=suites,
                  server_name=name.encode(), session_id=sid_mode, max_fragment_length=mfl,
                  ems="no-ems" not in o, etm="no-etm" not in o, keylog=log, max_fragment=max_fragment,
                  hs_cap=8192 if pin or ca else 2048, out_cap=max(512, wb_cap - 256), trust=trust,
                  time_unknown="time-unknown" in o, psk_modes=o.get("psk-modes", b"\x01\x00"),
                  max_version=0x0303 if o.get("max-version", "").encode() == b"1.2" else 0x0304)
