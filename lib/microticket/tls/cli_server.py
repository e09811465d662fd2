"""`python -m microticket tls-server ...` (see microticket.tls.cli for the options): loaded only when the
server subcommand runs."""

import gc
import socket
import sys
import time

from microticket.tls.cli import parse_args, _keylog_fn, _die, alert_name
from microticket.tls.server import ServerConfig, TlsServer
from microticket import ticket


serve = None  # microticket.tls.serve, imported once the first connection's buffers exist


def _read(path):
    # one bytearray of the file's size, filled in place (read() grows its buffer as it goes); the PEM in
    # it is then decoded where it lies (der.pem_decode_in_place): one buffer per file, nothing else
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
    from microticket import der, rsa
    # garbage of the imports is freed first, so that the certificate and the key's integers (long-lived)
    # land in its holes, not on top of the heap where they would split the room the connection's
    # buffers need (measured on the unix port: 3 KB less minimum heap)
    gc.collect()
    chain = der.read_pem_certs(_read(cert_path), True)
    key = rsa.load_private_key_pem(_read(key_path), True)
    key.d = None  # the CRT signature never uses d: one 2048-bit integer less for the server's lifetime
    der = None
    _unload("microticket.der")
    return chain, key


def _unload(name):
    sys.modules.pop(name, None)
    pkg, _, attr = name.rpartition(".")
    parent = sys.modules.get(pkg)
    if parent is not None and attr in parent.__dict__:
        delattr(parent, attr)


HTTP_PAGE = b"<html><body>microticket</body></html>\r\n"


def http_or_echo(data):
    if data[:4] == b"GET ":
        head = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + \
            str(len(HTTP_PAGE)).encode() + b"\r\nConnection: close\r\n\r\n"
        return (head + HTTP_PAGE, True)
    return data


def make_server_config(opts, now):
    psk = None
    cert_chain = None
    rsa_key = None
    if "--psk" in opts:
        psk = {opts.get("--psk-identity", "Client_identity").encode(): bytes.fromhex(opts["--psk"])}
    if "--cert" in opts:
        cert_chain, rsa_key = _load_credentials(opts["--cert"], opts.get("--key", opts["--cert"]))
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
    if psk is None and cert_chain is None:
        raise ValueError("need --psk or --cert/--key")
    max_record = int(opts.get("--max-record", "16384"))
    if max_record < 512 or max_record > 16384:
        raise ValueError("--max-record must be 512..16384")
    cfg = ServerConfig(ring, psk=psk, cert_chain=cert_chain, rsa_key=rsa_key, max_fragment=max_record,
                       issue_tickets=not opts.get("--no-tickets"),
                       reissue=opts.get("--reissue", "always"), keylog=_keylog_fn(opts.get("--keylog")),
                       psk_hint=opts.get("--psk-hint", "").encode())
    # serve.serve_connection sends the output after every step and every reply, so the output buffer
    # holds a flight or one record (plus an alert), never both: a protected record is at most 69 bytes
    # over its plaintext (header 5, IV 16, MAC 32, padding 16), a protected alert 69 bytes in all
    cfg.out_cap = max(cfg.wb_cap, max_record) + 256
    return cfg


def _serve_one(ls, cfg, timeout, srv):
    """Accept and serve one connection with a TlsServer that takes over the buffers of the previous one
    (connections are served one at a time: no buffer allocated per connection); returns it when
    finished."""
    conn_sock, _ = ls.accept()
    conn_sock.settimeout(timeout)
    srv = TlsServer(cfg, reuse=srv)
    serve.serve_connection(conn_sock, srv, http_or_echo)
    return srv


def tls_server(argv):
    global serve
    try:
        opts, pos = parse_args(argv, ("--port", "--psk-identity", "--psk", "--cert", "--key", "--keys",
                                      "--keylog", "--host", "--reissue", "--count", "--timeout",
                                      "--psk-hint", "--max-record"),
                               ("--no-tickets",))
        port = int(opts["--port"])
        cfg = make_server_config(opts, int(time.time()))
    except (ValueError, KeyError) as e:
        return _die(str(e))
    srv = TlsServer(cfg)  # the first connection's buffers, taken over by every later connection
    from microticket.tls import serve  # after the buffers: its code fills holes, not room they need
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
            srv = _serve_one(ls, cfg, timeout, srv)
            served += 1
            sent = srv.alert_sent
            if sent is not None:
                print("connection %d: alert %d (%s) sent" % (served, sent, alert_name(sent)))
    except KeyboardInterrupt:
        pass
    finally:
        ls.close()
    return 0
