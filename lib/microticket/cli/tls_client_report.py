"""tls-client's report: what the connection agreed, or why it failed. A small module of its own, loaded by
microticket.cli.tls_client once the connection's buffers are released: loading the whole start module
(microticket.cli.tls_client_config) again for it was a resumed client's peak (ROMFS, measured: 33549 ->
32331 B)."""

from microticket.cli import fail


def report(conn, data):
    """Print what the connection of the client engine ``conn`` agreed (``data``: what the server answered to
    --send, or None), or why its handshake failed; the exit status. (Few new names: each is a board's
    interned string for good, and the resumed ChaCha20 client sits at the edge of a qstr pool.)"""
    cli = conn
    reply = data
    if not cli.handshake_done:
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
    from microticket.tls.engine import suite_name
    # (one text and bytes: a str constant of 10 characters or fewer is an interned string for good)
    yn = b"no yes".split()
    t = "version: TLS 1.%d\nresumed: %s\nsuite: %s\nticket: %s" % (
        3 if cli.suite >> 8 == 0x13 else 2, yn[cli.resumed].decode(), suite_name(cli.suite),
        yn[cli.ticket_received].decode())
    if getattr(cli, "alpn", None) is not None:  # (--alpn given)
        t = "%s\nalpn: %s" % (t, (cli.alpn_protocol or b"none").decode())
    if cli._opt & 0x20000:  # --early-data offered (microticket.tls.client13): accepted (0x40000) or refused
        t += "\nearly data: accepted\nearly data: rejected"[0 if cli._opt & 0x40000 else 21:][:21]
    if reply is not None:
        t = "%s\nreply: %s" % (t, reply.decode())
    if cli.alert_received is None:
        print(t)
        return 0
    # a fatal alert after our Finished: TLS 1.3 servers check a client certificate (or its absence) then
    from microticket.tls.alerts import ALERT_NAMES
    print("%s\nclosed: alert received %d (%s)" % (t, cli.alert_received, ALERT_NAMES.get(cli.alert_received, "-")))
    return 1
