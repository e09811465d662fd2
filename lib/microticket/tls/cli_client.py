"""`python -m microticket tls-client ...` (see microticket.tls.cli for the options): loaded only when the
client subcommand runs."""

import socket
import time

from microticket.tls.cli import parse_args, _keylog_fn, _die, alert_name
from microticket.tls.cache import TicketCache


def tls_client(argv):
    try:
        opts, pos = parse_args(argv, ("--psk-identity", "--psk", "--pin-sha256", "--cache", "--send",
                                      "--keylog", "--server-name", "--mfl", "--timeout"),
                               ("--empty-session-id", "--no-ems", "--no-etm", "--full-client"))
        if len(pos) != 2:
            raise ValueError("need HOST PORT")
        host = pos[0]
        port = int(pos[1])
        psk = bytes.fromhex(opts["--psk"]) if "--psk" in opts else None
        pin = bytes.fromhex(opts["--pin-sha256"]) if "--pin-sha256" in opts else None
        if psk is None and pin is None:
            raise ValueError("need --psk or --pin-sha256")
    except (ValueError, KeyError) as e:
        return _die(str(e))
    cache = TicketCache(opts.get("--cache"))
    name = opts.get("--server-name", "")
    server_id = name if name else "%s:%d" % (host, port)
    mfl = int(opts.get("--mfl", "0"))
    if mfl and not 1 <= mfl <= 4:
        return _die("--mfl must be 1..4")
    # Board-sized buffers: a PSK server sends small messages, a certificate chain needs room; the
    # ClientHello flight is sized to the cached ticket it carries (no ticket: 512 bytes). The drivers
    # send the output after every step, so it holds a flight or one record (plus an alert), not both.
    ident = opts.get("--psk-identity", "Client_identity").encode()
    entry = cache.get(server_id, int(time.time()))
    wb_cap = 512 + len(name) + len(ident) + (len(entry[0]) if entry is not None else 0)  # its ticket
    entry = None
    import gc
    gc.collect()   # the cache file's parse garbage gone before the buffers take their contiguous runs
    max_fragment = (256 << mfl) if mfl else 16384
    sid_mode = "empty" if opts.get("--empty-session-id") else "random"
    keylog = _keylog_fn(opts.get("--keylog"))
    # the one client engine; its output buffer holds the ClientHello flight (at most ~130 bytes beside
    # the ticket, the name and the identity) and an alert; the records it sends are cut to fit that buffer
    from microticket.tls.client import Client
    cli = Client(server_id, ident if psk is not None else b"", psk, pin_sha256=pin, cache=cache,
                 server_name=name.encode(), session_id=sid_mode, max_fragment_length=mfl,
                 ems=not opts.get("--no-ems"), etm=not opts.get("--no-etm"), keylog=keylog,
                 max_fragment=max_fragment, hs_cap=8192 if pin else 2048, out_cap=max(512, wb_cap - 256))
    # the driver after the engine's buffers: its code fills holes instead of taking room they need
    from microticket.tls import driver
    s = socket.socket()
    s.settimeout(int(opts.get("--timeout", "10")))
    s.connect(socket.getaddrinfo(host, port)[0][-1])
    cli.start(driver.wall_clock())
    ok = driver.run_handshake(s, cli)
    if not ok:
        if cli.alert_sent is not None:
            print("error: " + cli.error_message)  # why we sent the alert
        print("handshake failed: alert sent %s (%s), received %s (%s)" % (
            cli.alert_sent, alert_name(cli.alert_sent), cli.alert_received, alert_name(cli.alert_received)))
        s.close()
        return 1
    print("resumed: " + ("yes" if cli.resumed else "no"))
    print("suite: " + cli.suite_name())
    print("ticket: " + ("yes" if cli.ticket_received else "no"))
    if "--send" in opts:
        driver.write_app(s, cli, opts["--send"].encode())
        reply = driver.read_app(s, cli)
        print("reply: " + reply.decode())
    driver.close(s, cli)
    return 0
