"""The ServerHello builder both versions' servers use: TLS 1.2's (microticket.tls.server) and TLS 1.3's
(microticket.tls.codec13.server_hello13, for microticket.tls.server13). A module of its own so that the TLS
1.3 modules need nothing of microticket.tls.server, which loads them (no import cycle); its name is the
function's, an interned string a server has anyway."""

from micropython import const

from microticket.tls.engine import put_extensions

_HT_SERVER_HELLO = const(2)


def server_hello(random, session_id, suite, b):
    """A ServerHello with the extensions ``b``: (type, bytes) in sending order."""
    elen = 0
    for _, d in b:
        elen += 4 + len(d)
    k = len(session_id)
    body = 2 + 32 + 1 + k + 3 + (2 + elen if b else 0)
    m = bytearray(4 + body)
    m[0] = _HT_SERVER_HELLO
    m[2] = body >> 8
    m[3] = body & 0xFF
    m[4] = 3
    m[5] = 3
    m[6:38] = random
    m[38] = k
    m[39:39 + k] = session_id
    p = 39 + k
    m[p] = suite >> 8
    m[p + 1] = suite & 0xFF
    p += 3  # compression: null
    if b:
        put_extensions(m, p, b, elen)
    return m
