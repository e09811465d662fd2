"""A certificate chain and its private key from PEM files: tls-server's --cert/--key (read at start) and
tls-client's --cert/--key (read when a server asks for a client certificate). A module of its own, unloaded
after use: a server needs it once, and a client only in a full handshake that asks."""

import gc
import sys


def read_file(path):
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
        chain = pem.read_pem_certs(read_file(cert), True)
        if not chain:
            raise ValueError("no CERTIFICATE block")
        what = ("key", key)
        key = keys.load_private_key(read_file(key), True)
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
    """tls-client's --cert/--key (options ``o``): (the loader the engine calls when a server asks, made by
    ``f(load_credentials, cert, key)``; the room the client's flight then needs for the chain and a
    CertificateVerify). Read once now to check them: an unreadable or damaged file is a ValueError naming it
    (one error line)."""
    cert, key = o["cert"], o.get("key", o["cert"])
    chain, k = load_credentials(cert, key)
    room = 64 + (k.size if k.kind == "rsa" else 72)
    for d in chain:
        room += 3 + len(d)
    return f(load_credentials, cert, key), room
