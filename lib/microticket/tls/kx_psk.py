"""The PSK key exchanges, both roles: TLS_PSK (RFC 4279 section 2) and TLS_ECDHE_PSK (RFC 5489 section 2).
Loaded only by a full handshake, so a resuming board never holds it (nor X25519).

PSK: the ServerKeyExchange is optional and carries only the psk_identity_hint; the ClientKeyExchange
carries the psk_identity; the premaster secret is uint16 N | N zero bytes | uint16 N | psk. ECDHE_PSK: the
ServerKeyExchange carries the hint and ServerECDHParams (microticket.tls.ecdhe), the ClientKeyExchange
the identity and our share, and the premaster's other_secret is the ECDH shared secret. The hint is
ignored by the client: a board has one identity per server.

The contract of a key-exchange module (microticket.tls.kx_ecdhe_cert has the same): client_message (the
client's Certificate / ServerKeyExchange / ServerHelloDone; for the last it sends ClientKeyExchange and
returns the premaster secret) for the client;
server_flight (queues Certificate and ServerKeyExchange) and server_client_key_exchange
(returns the premaster secret) for the server.
"""

from micropython import const

from microticket import errors  # TlsAlert: created on the first error (microticket.errors)
from microticket.tls.engine import suite_info


def _ecdhe():
    # microticket.tls.ecdhe, imported by the ECDHE_PSK branches only (plain PSK needs no group); not kept in a
    # global: ecdhe.shared unloads it on MicroPython, and a kept one would be a second copy beside the next
    # handshake's import
    from microticket.tls import ecdhe
    return ecdhe

_HT_CERTIFICATE = const(11)
_HT_SERVER_KEY_EXCHANGE = const(12)
_HT_CERTIFICATE_REQUEST = const(13)
_HT_CLIENT_KEY_EXCHANGE = const(16)
_UNEXPECTED_MESSAGE = const(10)
_DECODE_ERROR = const(50)
_UNKNOWN_PSK_IDENTITY = const(115)
_KX_PSK = const(1)  # microticket.tls.engine.KX_PSK


def premaster(other_secret, psk):
    """RFC 4279 section 2 / RFC 5489 section 2: uint16 len | other_secret | uint16 len | psk (psk up to
    2^16-1 bytes). For plain PSK other_secret is len(psk) zero bytes."""
    n = len(other_secret)
    k = len(psk)
    out = bytearray(4 + n + k)
    out[0] = n >> 8
    out[1] = n & 0xFF
    out[2:2 + n] = other_secret
    out[2 + n] = k >> 8
    out[3 + n] = k & 0xFF
    out[4 + n:] = psk
    return out


def _hint_end(b):
    # after the psk_identity_hint<0..2^16-1> at the start of a ServerKeyExchange
    n = len(b)
    if n < 2 or 2 + ((b[0] << 8) | b[1]) > n:
        raise errors.TlsAlert(_DECODE_ERROR, "ServerKeyExchange")
    return 2 + ((b[0] << 8) | b[1])


# --- client ----------------------------------------------------------------------------------------

def client_message(c, t, b, ok):
    """The client's full handshake: Certificate, ServerKeyExchange or ServerHelloDone (type ``t``, body
    ``b``); ``ok``: the message it must follow came first. For ServerHelloDone: ClientKeyExchange is
    sent and the premaster secret returned."""
    if t == _HT_CERTIFICATE:
        return client_certificate(c, b)
    if t == _HT_SERVER_KEY_EXCHANGE:
        return client_server_key_exchange(c, b, ok)
    if t == _HT_CERTIFICATE_REQUEST:
        raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "CertificateRequest in a PSK suite")
    return client_key_exchange(c, ok)


def client_certificate(c, b):
    raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "Certificate in a PSK suite")


def client_server_key_exchange(c, b, after_certificate):
    p = _hint_end(b)
    if (suite_info(c.suite) & 7) == _KX_PSK:
        if p != len(b):
            raise errors.TlsAlert(_DECODE_ERROR, "ServerKeyExchange")
        return
    g, point, p = _ecdhe().parse_params(b, p)
    c._kx = (g, point)
    if p != len(b):
        raise errors.TlsAlert(_DECODE_ERROR, "ServerKeyExchange")


def client_key_exchange(c, after_server_key_exchange):
    """Send ClientKeyExchange: psk_identity<0..2^16-1>, then for ECDHE_PSK our share (ECPoint<1..255>);
    returns the premaster secret."""
    ident = c.psk_identity
    k = len(ident)
    psk = c.psk
    if (suite_info(c.suite) & 7) == _KX_PSK:
        z = bytes(len(psk))
        m = bytearray(6 + k)
    else:
        if not after_server_key_exchange:
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "ServerHelloDone before ServerKeyExchange")
        g = _ecdhe()
        grp, point = c._kx
        priv, pub = g.keypair(grp, c.rl.rng)
        z = g.shared(grp, priv, point)
        m = bytearray(6 + k + 1 + len(pub))
        m[6 + k] = len(pub)
        m[7 + k:] = pub
    n = len(m) - 4
    m[0] = _HT_CLIENT_KEY_EXCHANGE
    m[2] = n >> 8
    m[3] = n & 0xFF
    m[4] = k >> 8
    m[5] = k & 0xFF
    m[6:6 + k] = ident
    c._send_message(m)
    return premaster(z, psk)


# --- server ----------------------------------------------------------------------------------------

def server_flight(s):
    """The ServerKeyExchange (no Certificate in PSK suites): for plain PSK only when the hint is set."""
    hint = s.cfg.psk_hint
    psk_only = (suite_info(s.suite) & 7) == _KX_PSK
    if psk_only and not hint:
        return
    k = len(hint)
    params = b""
    if not psk_only:
        g = _ecdhe()
        priv, pub = g.keypair(s.group, s.rl.rng)
        s._kx = priv
        params = g.params(s.group, pub)
    n = 2 + k + len(params)
    m = bytearray(4 + n)
    m[0] = _HT_SERVER_KEY_EXCHANGE
    m[2] = n >> 8
    m[3] = n & 0xFF
    m[4] = k >> 8
    m[5] = k & 0xFF
    m[6:6 + k] = hint
    m[6 + k:] = params
    s._queue(m)


def server_client_key_exchange(s, b):
    n = len(b)
    if n < 2 or 2 + ((b[0] << 8) | b[1]) > n:
        raise errors.TlsAlert(_DECODE_ERROR, "ClientKeyExchange")
    p = 2 + ((b[0] << 8) | b[1])
    ident = bytes(b[2:p])
    psk_only = (suite_info(s.suite) & 7) == _KX_PSK
    if psk_only:
        if p != n:
            raise errors.TlsAlert(_DECODE_ERROR, "ClientKeyExchange")
    elif p + 1 > n or p + 1 + b[p] != n or not b[p]:
        raise errors.TlsAlert(_DECODE_ERROR, "ClientKeyExchange")
    psk = s.cfg.psk.get(ident)
    if psk is None:
        raise errors.TlsAlert(_UNKNOWN_PSK_IDENTITY, "unknown PSK identity")
    s.psk_identity = ident
    if psk_only:
        return premaster(bytes(len(psk)), psk)
    z = _ecdhe().shared(s.group, s._kx, b[p + 1:n])
    s._kx = None
    return premaster(z, psk)
