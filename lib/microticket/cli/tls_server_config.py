"""tls-server's start: its options checked, then the server's configuration made (key ring, certificate and
key, limits). A module of its own, unloaded by microticket.cli.tls_server once the server is configured: on a
board its code's objects and messages would otherwise stay on the heap for the server's lifetime."""

import gc
import sys

from microticket.cli import parse, fail
from microticket.cli.helpers import keylog, psk_file, suite_list


def configure(argv):
    """(ServerConfig, options) for tls-server's ``argv``, or the exit code when there is nothing to serve
    (``--help``: 0; a bad option or an unreadable file: its one error line printed, 2 or 1)."""
    try:
        a = parse(argv, "tls-server", "no-tickets reuse-port", "port:0..65535 psk-identity psk:hex psk-file cert key keys keylog "
                  "host reissue count:0..1000000000 timeout:1..86400 psk-hint max-record:512..16384 "
                  "max-connections:1..100000 sessions:0..1000000 suites max-version psk-modes alpn", "")
        if a is None:
            return 0
        o = a[1]
        if "port" not in o:
            raise ValueError("need --port")
        psk = o.get("psk")
        if "psk-file" in o:
            psk = psk_file(o["psk-file"])
        if psk is None and "cert" not in o:
            raise ValueError("need --psk or --cert/--key")
        max_record = o["max-record"] if "max-record" in o else _default_record()
        reissue = o.get("reissue", "always")
        if reissue not in ("always", "renew", "never"):
            raise ValueError("--reissue must be always, renew or never, not %r" % reissue)
        # (bytes: a short str constant is interned on a board's heap for good, a bytes one goes with this module)
        if o.get("max-version", "").encode() not in (b"", b"1.2", b"1.3"):
            raise ValueError("--max-version must be 1.2 or 1.3")
        if o.get("psk-modes", "").encode() not in (b"", b"dhe", b"dhe,ke", b"ke,dhe"):
            raise ValueError("--psk-modes must be dhe or dhe,ke")
        if "alpn" in o and [x for x in o["alpn"].encode().split(b",") if not 0 < len(x) < 256]:
            raise ValueError("--alpn: protocol names of 1..255 bytes, comma-separated")
    except ValueError as e:
        return fail(e)
    except OSError as e:  # an unreadable --psk-file
        return fail(e, 1)
    from microticket.errors import MicroticketError
    try:
        return server_config(o, psk, max_record, reissue), o
    except (OSError, MicroticketError, ValueError) as e:
        # an unreadable or damaged certificate, key or key file
        return fail(e, 1)


def _default_record():
    """--max-record's default, as the board profiles set it (boards/*/profile.json: 4 KB records on an ESP32,
    2 KB on a Pico): 16384 where the heap is large or cannot be told (CPython), 4096 below 192 KB free, 2048
    below 96 KB, so a small board starts and serves (clients that ask for max_fragment_length, as boards
    do, are served; others get record_overflow for a larger record)."""
    try:
        free = gc.mem_free()
    except AttributeError:
        return 16384
    return 16384 if free > 196608 else (4096 if free > 98304 else 2048)


def _default_version():
    """--max-version's default, from the free heap as --max-record's: b"1.3" where the heap is large or cannot
    be told (CPython), b"1.2" below 144 KB free (a TLS 1.3 handshake from .mpy files takes about 150 KB of
    heap on the unix port; TLS 1.2 fits in less than half). A board that wants TLS 1.3 in less says
    --max-version 1.3 (from ROMFS, where the code stays in flash, it needs far less: README, "Memory")."""
    try:
        return b"1.3" if gc.mem_free() > 147456 else b"1.2"
    except AttributeError:
        return b"1.3"


def server_config(o, psk, max_fragment, reissue):
    import time
    from microticket import ticket
    from microticket.errors import MicroticketError
    from microticket.tls.server import ServerConfig
    now = int(time.time())
    cert_chain = None
    cert_key = None
    if psk is not None:
        psk = {o.get("psk-identity", "Client_identity").encode(): psk}
    if "cert" in o:
        from microticket.cli.credentials import load_credentials  # (unloaded with this module: tls_server)
        cert_chain, cert_key = load_credentials(o["cert"], o.get("key", o["cert"]))
    keys = o.get("keys")
    ring = None
    if "no-tickets" not in o or keys:
        if keys and keys.encode().split(b"://")[0] in (b"redis", b"rediss"):
            # a fleet's keys in Redis (CPython only: microticket.fleet.redis_keys, which no board part installs).
            # Imported by a name in bytes, as microticket.tls.record_aead does (__import__ is interned by
            # __main__ already): an import statement would intern two names on every board that loads this
            # module (the RSA board server sits one qstr below its sixth pool, 7.7 KB).
            ring = __import__(b"microticket.fleet.redis_keys".decode(), None, None, (True,)).load(keys, now)
        elif keys:
            try:
                ring = ticket.KeyRing.load(keys, now)
            except OSError:
                ring = None   # no key file yet: made below
            except (ValueError, MicroticketError) as e:
                raise ValueError("--keys %s: %s" % (keys, e))
        if ring is None:
            ring = ticket.KeyRing.generate(now)
            if keys:
                try:
                    ring.save(keys)
                except OSError as e:
                    raise ValueError("--keys %s: %s" % (keys, e))
    cfg = ServerConfig(ring, psk=psk, cert_chain=cert_chain, key=cert_key, max_fragment=max_fragment,
                       issue_tickets="no-tickets" not in o, reissue=reissue, keylog=keylog(o.get("keylog")),
                       psk_hint=o.get("psk-hint", "").encode(),
                       sessions=o.get("sessions", 8 if sys.implementation.name == "micropython" else 1024),
                       suites=suite_list(o["suites"]) if "suites" in o else None,
                       psk_ke=b"ke" in o.get("psk-modes", "").encode(),
                       alpn=o["alpn"].encode().split(b",") if "alpn" in o else None)
    if (o.get("max-version", "").encode() or _default_version()) == b"1.2":  # no TLS 1.3 suite (0x13xx)
        cfg.suites = [x for x in cfg.suites if x >> 8 != 0x13]
    # serve.serve_connection sends the output after every step and every reply, so the output buffer
    # holds a flight or one record (plus an alert), never both: a protected record is at most 69 bytes
    # over its plaintext (header 5, IV 16, MAC 32, padding 16), a protected alert 69 bytes in all
    cfg.out_cap = max(cfg.wb_cap, max_fragment) + 256
    return cfg
