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
           [--keylog FILE] [--server-name NAME] [--mfl 1..4] [--empty-session-id] [--full-client]
    Prints "resumed: yes|no", "suite: NAME", "ticket: yes|no", "client: CLASS", then the reply to --send.
    With --psk the compact PskClient runs (microticket.tls.psk_client); --pin-sha256 (ECDHE_RSA) or
    --full-client runs TlsClient.
    --mfl asks for max_fragment_length (1..4 = 512..4096 bytes) and sizes the record buffers to it: the
    server must agree, else its first large record is a record_overflow.

Arguments are parsed by hand (no argparse on boards). The client and the server each have their own
module (cli_client, cli_server), imported only by their subcommand.
"""


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


def _die(s):
    print("error: " + s)
    return 2


def alert_name(code):
    from microticket.tls.alerts import ALERT_NAMES
    return ALERT_NAMES.get(code, "-")


def tls_server(argv):
    # the server's command line lives in its own module: a client never loads it
    return _run("server", argv)


def tls_client(argv):
    return _run("client", argv)


# Collect after every GC_THRESHOLD bytes allocated (MicroPython's gc.threshold): imports and the
# handshake's short-lived objects are then cleared before they scatter holes between the objects that
# stay, so a smaller heap suffices (measured, ROMFS: client 51.1 -> 46.5 KB). Restored on return; CPython's
# gc has no threshold(). The cost is a collection of a small heap per 2 KB allocated.
GC_THRESHOLD = 2048


def _run(name, argv):
    import gc
    th = gc.threshold() if hasattr(gc, "threshold") else None
    if th is not None:
        gc.threshold(GC_THRESHOLD)
    try:
        if name == "client":
            from microticket.tls.cli_client import tls_client as main
        else:
            from microticket.tls.cli_server import tls_server as main
        return main(argv)
    finally:
        if th is not None:
            gc.threshold(th)
