"""`tls-server --port P ...`: serves TLS 1.2 connections one at a time (echo, or a short page for an HTTP
GET). Options: microticket.cli.usage (``tls-server --help``)."""

import gc
import socket
import sys

from microticket.cli import parse, fail, out
from microticket.cli.helpers import keylog, bind, psk_file

_GC_THRESHOLD = 2048  # see microticket.cli.tls_client (the server measured best with 2 KB)


def main(argv):
    th = gc.threshold() if hasattr(gc, "threshold") else None  # (CPython's gc has no threshold())
    if th is not None:
        gc.threshold(_GC_THRESHOLD)
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
        a = parse(argv, "tls-server", "no-tickets", "port:0..65535 psk-identity psk:hex psk-file cert key keys keylog "
                  "host reissue count:0..1000000000 timeout:1..86400 psk-hint max-record:512..16384", "")
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
        max_record = o.get("max-record", 16384)
        reissue = o.get("reissue", "always")
        if reissue not in ("always", "renew", "never"):
            raise ValueError("--reissue must be always, renew or never, not %r" % reissue)
    except ValueError as e:
        return fail(e)
    except OSError as e:  # an unreadable --psk-file
        return fail(e, 1)
    from microticket.errors import MicroticketError
    try:
        cfg = server_config(o, psk, max_record, reissue)
    except (OSError, MicroticketError, ValueError) as e:
        # an unreadable or damaged certificate, key or key file
        return fail(e, 1)
    from microticket.tls.server import TlsServer
    srv = TlsServer(cfg)  # the first connection's buffers, taken over by every later connection
    from microticket.tls import serve  # after the buffers: its code fills holes, not room they need
    from microticket.tls.alerts import ALERT_NAMES
    host = o.get("host", "127.0.0.1")
    port = o["port"]
    count = o.get("count", 0)
    ls = socket.socket()
    try:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    except (AttributeError, OSError):
        pass
    try:
        port = bind(ls, host, port)
        ls.listen(8)
    except OSError as e:
        ls.close()
        return fail("%s:%d: %s" % (host, port, e), 1)
    out("listening on %s:%d" % (host, port))
    served = 0
    try:
        while not count or served < count:
            conn_sock, _ = ls.accept()
            conn_sock.settimeout(o.get("timeout", 10))
            # a new TlsServer on the previous one's buffers: connections are served one at a time, so
            # nothing is allocated per connection but the object itself
            srv = TlsServer(cfg, reuse=srv)
            serve.serve_connection(conn_sock, srv, http_or_echo())
            served += 1
            sent = srv.alert_sent
            if sent is not None:
                out("connection %d: alert %d (%s) sent" % (served, sent, ALERT_NAMES.get(sent, "-")))
    except KeyboardInterrupt:
        pass
    finally:
        ls.close()
    return 0


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


def _load_credentials(cert_path, key_path):
    """(DER certificate chain, RsaPrivateKey) from PEM files, then the DER/PEM parser is unloaded: a
    server needs it only at start, and on a board its code and objects are heap until it goes."""
    from microticket.pk import der, pem, rsa_sign
    from microticket.errors import MicroticketError
    # garbage of the imports is freed first, so that the certificate and the key's integers (long-lived)
    # land in its holes, not on top of the heap where they would split the room the connection's
    # buffers need (measured on the unix port: 3 KB less minimum heap)
    gc.collect()
    what = "--cert " + cert_path
    try:
        chain = pem.read_pem_certs(_read(cert_path), True)
        if not chain:
            raise ValueError("no CERTIFICATE block")
        what = "--key " + key_path
        key = rsa_sign.load_private_key_pem(_read(key_path), True)
    except (OSError, ValueError, MicroticketError) as e:
        raise ValueError("%s: %s" % (what, e))
    key.d = None  # the CRT signature never uses d: one 2048-bit integer less for the server's lifetime
    der = pem = None
    _unload("microticket.pk.pem")
    _unload("microticket.pk.der")
    return chain, key


def _unload(name):
    sys.modules.pop(name, None)
    pkg, _, attr = name.rpartition(".")
    parent = sys.modules.get(pkg)
    if parent is not None and attr in parent.__dict__:
        delattr(parent, attr)


HTTP_PAGE = b"<html><body>microticket</body></html>\r\n"


_HTTP_HEAD_MAX = 8192  # a request header larger than this is refused (431) rather than buffered


def http_or_echo():
    """The handler of one connection (microticket.tls.serve): what the peer sends first decides. "GET " is
    an HTTP request, answered with a short page once its header is complete (it may come in any number of
    records), then closed; anything else is echoed, as it arrives, whatever the records' boundaries."""
    st = [None, b""]  # mode (None: not known yet, "echo", "http"), bytes held

    def handle(data):
        if st[0] == "echo":
            return data
        b = st[1] + data
        if st[0] is None:
            if b"GET "[:len(b)] == b[:4] and len(b) < 4:
                st[1] = b  # "G", "GE", "GET": not known yet
                return b""
            st[0] = "http" if b[:4] == b"GET " else "echo"
            if st[0] == "echo":
                st[1] = b""
                return b
        if b.find(b"\r\n\r\n") >= 0:
            head = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + \
                str(len(HTTP_PAGE)).encode() + b"\r\nConnection: close\r\n\r\n"
            return (head + HTTP_PAGE, True)
        if len(b) > _HTTP_HEAD_MAX:
            return (b"HTTP/1.0 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n", True)
        st[1] = b
        return b""
    return handle


def server_config(o, psk, max_record, reissue):
    import time
    from microticket import ticket
    from microticket.errors import MicroticketError
    from microticket.tls.server import ServerConfig
    now = int(time.time())
    cert_chain = None
    rsa_key = None
    if psk is not None:
        psk = {o.get("psk-identity", "Client_identity").encode(): psk}
    if "cert" in o:
        cert_chain, rsa_key = _load_credentials(o["cert"], o.get("key", o["cert"]))
    keys = o.get("keys")
    ring = None
    if "no-tickets" not in o or keys:
        if keys:
            try:
                ring = ticket.KeyRing.load(keys)
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
    cfg = ServerConfig(ring, psk=psk, cert_chain=cert_chain, rsa_key=rsa_key, max_fragment=max_record,
                       issue_tickets="no-tickets" not in o, reissue=reissue, keylog=keylog(o.get("keylog")),
                       psk_hint=o.get("psk-hint", "").encode())
    # serve.serve_connection sends the output after every step and every reply, so the output buffer
    # holds a flight or one record (plus an alert), never both: a protected record is at most 69 bytes
    # over its plaintext (header 5, IV 16, MAC 32, padding 16), a protected alert 69 bytes in all
    cfg.out_cap = max(cfg.wb_cap, max_record) + 256
    return cfg
