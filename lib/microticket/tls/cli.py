"""Command line: `python -m microticket tls-server ...` and `... tls-client ...`.

tls-server --port P (--psk-identity ID --psk HEX | --cert CERT.pem --key KEY.pem) [--keys KEYFILE]
           [--keylog FILE] [--host ADDR] [--reissue always|renew|never] [--no-tickets] [--count N]
           [--psk-hint TEXT] [--max-record N]
    Serves connections one at a time; echoes application data and answers an HTTP GET with a short
    200 page (so `openssl s_time -www /` works). --keys loads the ticket key ring from KEYFILE, or makes
    one there; without it the ring lives in memory. --count stops after N connections. --max-record
    sizes the record buffers for N bytes of plaintext (a board profile; default 2^14): clients must then
    negotiate max_fragment_length (RFC 6066) or keep their records that small, else record_overflow.

tls-client HOST PORT (--psk-identity ID --psk HEX | --pin-sha256 HEX) --cache FILE [--send TEXT]
           [--keylog FILE] [--server-name NAME] [--mfl 1..4] [--empty-session-id]
    Prints "resumed: yes|no", "suite: NAME", "ticket: yes|no", then the reply to --send.
    --mfl asks for max_fragment_length (1..4 = 512..4096 bytes) and sizes the record buffers to it: the
    server must agree, else its first large record is a record_overflow.

Arguments are parsed by hand (no argparse on boards).
"""

import socket

from microticket.tls import driver


def parse_args(argv, flags, switches=()):
    """{name: value} for --name VALUE options in ``flags`` and True for ``switches``; other words are
    returned as the positional list. Raises ValueError on anything unknown."""
    opts = {}
    pos = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in switches:
            opts[a] = True
        elif a in flags:
            if i + 1 >= len(argv):
                raise ValueError("missing value for " + a)
            opts[a] = argv[i + 1]
            i += 1
        elif a.startswith("--"):
            raise ValueError("unknown option " + a)
        else:
            pos.append(a)
        i += 1
    return opts, pos


def _read(path):
    with open(path) as f:
        return f.read()


def _keylog_fn(path):
    if not path:
        return None

    def log(line):
        f = open(path, "a")
        try:
            f.write(line + "\n")
        finally:
            f.close()
    return log


def _die(msg):
    print("error: " + msg)
    return 2


HTTP_PAGE = b"<html><body>microticket</body></html>\r\n"


def http_or_echo(data):
    if data[:4] == b"GET ":
        head = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + \
            str(len(HTTP_PAGE)).encode() + b"\r\nConnection: close\r\n\r\n"
        return (head + HTTP_PAGE, True)
    return data


def make_server_config(opts, now):
    from microticket.tls.server import ServerConfig
    from microticket import ticket
    keys = opts.get("--keys")
    ring = None
    if not opts.get("--no-tickets") or keys:
        ring = None
        if keys:
            try:
                ring = ticket.KeyRing.load(keys)
            except OSError:
                ring = None
        if ring is None:
            ring = ticket.KeyRing.generate(now)
            if keys:
                ring.save(keys)
    psk = None
    cert_chain = None
    rsa_key = None
    if "--psk" in opts:
        psk = {opts.get("--psk-identity", "Client_identity").encode(): bytes.fromhex(opts["--psk"])}
    if "--cert" in opts:
        from microticket import der, rsa
        cert_chain = der.read_pem_certs(_read(opts["--cert"]))
        rsa_key = rsa.load_private_key_pem(_read(opts.get("--key", opts["--cert"])))
    if psk is None and cert_chain is None:
        raise ValueError("need --psk or --cert/--key")
    max_record = int(opts.get("--max-record", "16384"))
    if max_record < 512 or max_record > 16384:
        raise ValueError("--max-record must be 512..16384")
    return ServerConfig(ring, psk=psk, cert_chain=cert_chain, rsa_key=rsa_key, max_fragment=max_record,
                        issue_tickets=not opts.get("--no-tickets"),
                        reissue=opts.get("--reissue", "always"), keylog=_keylog_fn(opts.get("--keylog")),
                        psk_hint=opts.get("--psk-hint", "").encode())


def tls_server(argv):
    from microticket.tls.server import TlsServer
    try:
        opts, pos = parse_args(argv, ("--port", "--psk-identity", "--psk", "--cert", "--key", "--keys",
                                      "--keylog", "--host", "--reissue", "--count", "--timeout",
                                      "--psk-hint", "--max-record"),
                               ("--no-tickets",))
        port = int(opts["--port"])
        cfg = make_server_config(opts, driver.wall_clock())
    except (ValueError, KeyError) as e:
        return _die(str(e))
    host = opts.get("--host", "127.0.0.1")
    count = int(opts.get("--count", "0"))
    timeout = int(opts.get("--timeout", "10"))
    ls = socket.socket()
    try:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    except (AttributeError, OSError):
        pass
    ls.bind(socket.getaddrinfo(host, port)[0][-1])
    ls.listen(8)
    print("listening on %s:%d" % (host, port))
    served = 0
    try:
        while not count or served < count:
            conn_sock, _ = ls.accept()
            conn_sock.settimeout(timeout)
            srv = TlsServer(cfg)
            driver.serve_connection(conn_sock, srv, http_or_echo)
            served += 1
            if srv.alert_sent is not None:
                from microticket.tls.const import ALERT_NAMES
                print("connection %d: alert %d (%s) sent" % (served, srv.alert_sent,
                                                           ALERT_NAMES.get(srv.alert_sent, "-")))
    except KeyboardInterrupt:
        pass
    finally:
        ls.close()
    return 0


def tls_client(argv):
    from microticket.tls.client import TlsClient
    from microticket.tls.cache import TicketCache
    try:
        opts, pos = parse_args(argv, ("--psk-identity", "--psk", "--pin-sha256", "--cache", "--send",
                                      "--keylog", "--server-name", "--mfl", "--timeout"),
                               ("--empty-session-id", "--no-ems", "--no-etm"))
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
    from microticket.tls.const import MFL_SIZES, MAX_PLAINTEXT
    if mfl and mfl not in MFL_SIZES:
        return _die("--mfl must be 1..4")
    # a PSK server sends small messages; a certificate chain needs room
    cli = TlsClient(server_id, max_fragment=MFL_SIZES.get(mfl, MAX_PLAINTEXT), hs_cap=8192 if pin else 2048, psk_identity=opts.get("--psk-identity", "Client_identity").encode(), psk=psk,
                    pin_sha256=pin, cache=cache, server_name=name.encode(),
                    session_id="empty" if opts.get("--empty-session-id") else "random",
                    max_fragment_length=mfl, ems=not opts.get("--no-ems"),
                    etm=not opts.get("--no-etm"), keylog=_keylog_fn(opts.get("--keylog")))
    s = socket.socket()
    s.settimeout(int(opts.get("--timeout", "10")))
    s.connect(socket.getaddrinfo(host, port)[0][-1])
    cli.start(driver.wall_clock())
    ok = driver.run_handshake(s, cli)
    if not ok:
        from microticket.tls.const import ALERT_NAMES
        print("handshake failed: alert sent %s (%s), received %s (%s)" % (
            cli.alert_sent, ALERT_NAMES.get(cli.alert_sent, "-"), cli.alert_received,
            ALERT_NAMES.get(cli.alert_received, "-")))
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
