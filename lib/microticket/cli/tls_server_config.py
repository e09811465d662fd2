"""tls-server's start: its options checked, then the server's configuration made (key ring, certificate and
key, limits). A module of its own, unloaded by microticket.cli.tls_server once the server is configured: on a
board its code's objects and messages would otherwise stay on the heap for the server's lifetime. (Its
certificate and key loader serves tls-client's --cert/--key too: ``client``. Few functions and names:
each name is a board's interned string for good, and the TLS 1.3 P-256 server sits below its 6th qstr
pool, 7.7 KB.)"""

import gc
import sys

from microticket.cli import parse, fail
from microticket.cli.helpers import keylog, psk_file, suite_list


def main(argv):
    """(ServerConfig, options) for tls-server's ``argv``, or the exit code when there is nothing to serve
    (``--help``: 0; a bad option or an unreadable file: its one error line printed, 2 or 1)."""
    try:
        a = parse(argv, "tls-server", "no-tickets reuse-port", "port:0..65535 psk-identity psk:hex psk-file cert key keys keylog "
                  "host reissue count:0..1000000000 timeout:1..86400 psk-hint max-record:512..16384 "
                  "max-connections:1..100000 sessions:0..1000000 suites max-version psk-modes alpn "
                  "max-early-data:0..1048576", "")
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
        # (option names of 10 characters or fewer as bytes: a str constant that short is a board's interned
        # string for good, and the TLS 1.3 P-256 server sits just below its 6th qstr pool, 7.7 KB)
        max_record = o.get(b"max-record".decode())
        if max_record is None:
            # as the board profiles set it (boards/*/profile.json: 4 KB records on an ESP32, 2 KB on a Pico):
            # 16384 where the heap is large or cannot be told (CPython), 4096 below 192 KB free, 2048 below 96
            # KB, so a small board starts and serves (clients that ask for max_fragment_length, as boards do,
            # are served; others get record_overflow for a larger record)
            free = gc.mem_free() if hasattr(gc, "mem_free") else 1 << 20
            max_record = 16384 if free > 196608 else (4096 if free > 98304 else 2048)
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
        return config(o, psk, max_record, reissue), o
    except (OSError, MicroticketError, ValueError) as e:
        # an unreadable or damaged certificate, key or key file
        return fail(e, 1)


def config(o, psk, max_fragment, reissue):
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
        cert_chain, cert_key = load_credentials(o["cert"], o.get("key", o["cert"]))
    keys = o.get("keys")
    fleet = keys and keys.encode().split(b"://")[0] in (b"redis", b"rediss")  # a fleet's keys in Redis
    ring = None
    tickets = b"no-tickets".decode() not in o
    if tickets or keys:
        if fleet:
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
                       issue_tickets=tickets, reissue=reissue, keylog=keylog(o.get("keylog")),
                       psk_hint=o.get(b"psk-hint".decode(), "").encode(),
                       sessions=o.get("sessions", 8 if sys.implementation.name == "micropython" else 1024),
                       suites=suite_list(o["suites"]) if "suites" in o else None,
                       psk_ke=b"ke" in o.get("psk-modes", "").encode(),
                       alpn=o["alpn"].encode().split(b",") if "alpn" in o else None)
    # --max-version's default, from the free heap as --max-record's: 1.3 where the heap is large or cannot be
    # told (CPython), 1.2 below 144 KB free (a TLS 1.3 handshake from .mpy files takes about 150 KB of heap on
    # the unix port; TLS 1.2 fits in less than half). A board that wants TLS 1.3 in less says --max-version 1.3
    # (from ROMFS, where the code stays in flash, it needs far less: README, "Memory")
    v = o.get("max-version", "").encode()
    if not v and hasattr(gc, "mem_free") and gc.mem_free() <= 147456:
        v = b"1.2"
    if v == b"1.2":  # no TLS 1.3 suite (0x13xx)
        cfg.suites = [x for x in cfg.suites if x >> 8 != 0x13]
    # serve.serve_connection sends the output after every step and every reply, so the output buffer
    # holds a flight or one record (plus an alert), never both: a protected record is at most 69 bytes
    # over its plaintext (header 5, IV 16, MAC 32, padding 16), a protected alert 69 bytes in all
    cfg.out_cap = max(cfg.wb_cap, max_fragment) + 256
    m = o.get("max-early-data")
    if m:  # TLS 1.3 0-RTT (microticket.tls.early13): the attribute by a bytes name, set only then
        setattr(cfg, b"max_early".decode(), m)
        if fleet:
            # a fleet's servers share the list of tickets whose early data was taken (CPython only, as its keys:
            # microticket.fleet.redis_early), so a replay at another server has its early data refused
            setattr(cfg, b"early_used".decode(), __import__(b"microticket.fleet.redis_early".decode(), None, None,
                                                            (True,)).load(keys))
    return cfg


def _read(path):
    # one bytearray of the file's size, filled in place (read() grows its buffer as it goes); the PEM in
    # it is then decoded where it lies (pem.pem_decode_in_place): one buffer per file, nothing else
    with open(path, "rb") as f:
        buf = bytearray(f.seek(0, 2))
        f.seek(0)
        n = f.readinto(buf)
    if n is not None and n < len(buf):
        buf = buf[:n]
    return buf


def load_credentials(cert, key):
    """(DER certificate chain, private key: RSA or P-256, microticket.pk.keys) from the PEM files ``cert`` and
    ``key`` (tls-server's credentials; tls-client's --cert/--key, read when a server asks), then the DER/PEM
    parser is unloaded: needed once, and on a board its code and objects are heap until it goes. (Few
    names: on a board each is an interned string on the heap for good.)"""
    from microticket.pk import der, pem, keys
    from microticket.errors import MicroticketError
    # garbage of the imports is freed first, so that the certificate and the key's integers (long-lived)
    # land in its holes, not on top of the heap where they would split the room the connection's
    # buffers need (measured on the unix port: 3 KB less minimum heap)
    gc.collect()
    what = ("cert", cert)
    try:
        chain = pem.read_pem_certs(_read(cert), True)
        if not chain:
            raise ValueError("no CERTIFICATE block")
        what = ("key", key)
        key = keys.load_private_key(_read(key), True)
    except (OSError, ValueError, MicroticketError) as e:
        raise ValueError("--%s %s: %s" % (what + (e,)))
    if key.kind == "rsa":
        key.d = None  # the CRT signature never uses d: one 2048-bit integer less for the server's lifetime
    der = pem = keys = None
    pk = sys.modules.get("microticket.pk")
    for name in ("keys", "pem", "der"):  # unloaded: out of sys.modules and of their package
        sys.modules.pop("microticket.pk." + name, None)
        if pk is not None and name in pk.__dict__:
            delattr(pk, name)
    return chain, key


def client(o, f):
    """tls-client's --cert/--key (options ``o``), through this module (microticket.cli.tls_client_config imports
    it by a name in bytes, only then): (the loader the engine calls when a server asks, made by
    ``f(load_credentials, cert, key)``; the room the client's flight then needs for the chain and a
    CertificateVerify). Read once now to check them: an unreadable or damaged file is a ValueError naming it
    (one error line)."""
    cert, key = o["cert"], o.get("key", o["cert"])
    chain, k = load_credentials(cert, key)
    room = 64 + (k.size if k.kind == "rsa" else 72)
    for d in chain:
        room += 3 + len(d)
    return f(load_credentials, cert, key), room
