"""tls-client's start: the options checked, the client engine made with its ticket cache. A module of its
own, unloaded by microticket.cli.tls_client before it connects: on a board its code's objects and messages
would otherwise be heap during the handshake, the client's peak. The report after the connection is
microticket.cli.tls_client_report (loading this module again for it was the resumed client's peak)."""

from microticket.cli import parse, fail


def main(argv, f):
    """((client engine class, positional arguments, keyword arguments, (attribute, value) to set on the
    engine or None), options, host, port) for tls-client's ``argv``, or the exit code when there is nothing
    to connect (``--help``: 0; a bad option or an unreadable file: its one error line printed, 2 or 1).
    ``f(g, *args)``: a function calling g(*args) when called (made by the caller: a function made here would
    keep this module alive), for the CA file's opener and the client certificate's loader, which the engine
    calls when it needs them. A damaged ticket cache reads as empty."""
    try:
        a = parse(argv, "tls-client", "empty-session-id no-ems no-etm time-unknown",
                  "psk-identity psk:hex psk-file pin-sha256:hex cache send keylog server-name mfl:1..4 "
                  "timeout:1..86400 suites ca-file max-version psk-modes alpn cert key early-data",
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
        if "alpn" in o and [x for x in o["alpn"].encode().split(b",") if not 0 < len(x) < 256]:
            raise ValueError("--alpn: protocol names of 1..255 bytes, comma-separated")
        cc = None
        cert_room = 0
        if "cert" in o:  # checked now (one error line), read again when a server asks (the loader is tls-server's:
            # microticket.cli.tls_server_config, imported by a name in bytes: no interned name without --cert)
            try:
                cc, cert_room = __import__(b"microticket.cli.tls_server_config".decode(), None, None,
                                           (True,)).client(o, f)
            except ValueError as e:  # an unreadable or damaged file: a runtime failure, status 1
                return fail(e, 1)
        # --early-data TEXT: --send's text (it replaces it), sent as 0-RTT early data when the cached ticket
        # allows it, otherwise (or refused) after the handshake; the reply read as for --send (a key by bytes:
        # no interned text)
        e = o.get(b"early-data".decode())
        if e:
            o["send"] = e
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
    # the client engine for these options, with its ticket cache (read here and by the engine; the driver
    # persists the engine's ticket events). Board-sized buffers: a PSK server sends small messages, a
    # certificate chain needs room; the ClientHello flight is sized to the cached ticket it carries (no
    # ticket: 512 bytes). The drivers send the output after every step, so it holds a flight or one record
    # (plus an alert), not both. (No second function: each name is a board's interned string for good.)
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
    trust = f(open, ca, "rb") if ca else None
    suites = None
    if "suites" in o:
        from microticket.cli.helpers import suite_list
        suites = suite_list(o["suites"])
    # the one client engine, as the class and its arguments: the caller makes it once this module is gone
    # (its buffers are the contiguous runs the heap must find). Its output buffer holds the ClientHello
    # flight (at most ~130 bytes beside the ticket, the name and the identity) and an alert; the records it
    # sends are cut to fit that buffer
    from microticket.tls.client import Client
    # (--early-data: the attribute's name and value, set by the caller: by a bytes name, no interned name
    # without it)
    return (Client, (server_id, ident if psk is not None else b"", psk), dict(
        pin_sha256=pin, cache=cache, suites=suites,
        server_name=name.encode(), session_id=sid_mode, max_fragment_length=mfl,
        ems="no-ems" not in o, etm="no-etm" not in o, keylog=log, max_fragment=max_fragment,
        hs_cap=8192 if pin or ca else 2048,
        out_cap=max(512, wb_cap - 256) + cert_room + (len(e) + 600 if e else 0), trust=trust,
        time_unknown="time-unknown" in o, psk_modes=o.get("psk-modes", b"\x01\x00"),
        max_version=0x0303 if o.get("max-version", "").encode() == b"1.2" else 0x0304,
        alpn=o["alpn"].encode().split(b",") if "alpn" in o else None, client_cert=cc),
        (b"early_data".decode(), e.encode()) if e else None), o, host, port

