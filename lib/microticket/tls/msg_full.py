"""Handshake messages of full handshakes only (RFC 5246 section 7.4, RFC 4279/5489/8422 key exchanges):
ClientHello decoding with its extensions, NewSessionTicket encoding, Certificate, ServerKeyExchange,
ClientKeyExchange, the PSK premaster secret. A resuming client never loads this module; see
microticket.tls.messages for the conventions.
"""

from micropython import const

from microticket.errors import DecodeError
from microticket.wire import Reader
from microticket.tls.messages import Hello, read_extensions, begin_handshake

_HT_NEW_SESSION_TICKET = const(4)
_HT_CERTIFICATE = const(11)
_GROUP_X25519 = const(29)
_CURVE_NAMED = const(3)


# --- ClientHello -----------------------------------------------------------------------------------

def parse_server_name(data):
    """RFC 6066 section 3: the host_name entry of a ServerNameList (b"" when absent)."""
    r = Reader(data)
    lr = r.sub(2, 1, 0xFFFF)
    r.done()
    name = b""
    while lr.remaining():
        t = lr.u8()
        v = lr.vec(2, 1, 0xFFFF)
        if t == 0:
            if name:
                raise DecodeError("two host names")
            name = bytes(v)
    return name


def parse_u16_list(data, width=2, lo=2):
    """supported_groups / signature_algorithms: a vector of uint16."""
    r = Reader(data)
    lr = r.sub(width, lo, 0xFFFF)
    r.done()
    if lr.remaining() & 1:
        raise DecodeError("odd list length")
    out = []
    while lr.remaining():
        out.append(lr.u16())
    return out


def parse_point_formats(data):
    r = Reader(data)
    lr = r.sub(1, 1, 255)
    r.done()
    return bytes(lr.take(lr.remaining()))


def decode_client_hello(r):
    h = Hello()
    h.version = r.u16()
    h.random = bytes(r.take(32))
    h.session_id = bytes(r.vec(1, 0, 32))
    sr = r.sub(2, 2, 0xFFFE)
    if sr.remaining() & 1:
        raise DecodeError("odd cipher suite list")
    suites = []
    while sr.remaining():
        suites.append(sr.u16())
    h.suites = suites
    h.compression = bytes(r.vec(1, 1, 255))
    h.exts = read_extensions(r)
    r.done()
    return h


def encode_new_session_ticket(w, lifetime_hint, ticket):
    mark = begin_handshake(w, _HT_NEW_SESSION_TICKET)
    w.u32(lifetime_hint)
    w.vec(2, ticket)
    w.end(mark)


# --- Certificate (RFC 5246 section 7.4.2) ----------------------------------------------------------

def encode_certificate(w, certs):
    mark = begin_handshake(w, _HT_CERTIFICATE)
    m = w.begin(3)
    for c in certs:
        w.vec(3, c)
    w.end(m)
    w.end(mark)


def decode_certificate(r):
    lr = r.sub(3, 0, 0xFFFFFF)
    r.done()
    certs = []
    while lr.remaining():
        certs.append(bytes(lr.vec(3, 1, 0xFFFFFF)))
    return certs


# --- key exchanges ---------------------------------------------------------------------------------

def encode_ecdh_params(w, public):
    """ServerECDHParams with a named curve (RFC 8422 section 5.4): X25519 only."""
    w.u8(_CURVE_NAMED)
    w.u16(_GROUP_X25519)
    w.vec(1, public)


def decode_ecdh_params(r):
    """Returns (group, public point, the params' bytes as signed)."""
    start = r.pos
    if r.u8() != _CURVE_NAMED:
        raise DecodeError("curve type")
    group = r.u16()
    point = bytes(r.vec(1, 1, 255))
    return group, point, bytes(r.data[start:r.pos])


def decode_ske_psk(r):
    """ServerKeyExchange of PSK (RFC 4279 section 2): psk_identity_hint."""
    hint = bytes(r.vec(2, 0, 0xFFFF))
    r.done()
    return hint


def decode_ske_ecdhe_psk(r):
    """RFC 5489 section 2: psk_identity_hint then ServerECDHParams."""
    hint = bytes(r.vec(2, 0, 0xFFFF))
    group, point, _ = decode_ecdh_params(r)
    r.done()
    return hint, group, point


def decode_ske_ecdhe_rsa(r):
    """RFC 8422 section 5.4 with a TLS 1.2 DigitallySigned: params, sig alg, signature."""
    group, point, params = decode_ecdh_params(r)
    alg = r.u16()
    sig = bytes(r.vec(2, 1, 0xFFFF))
    r.done()
    return group, point, params, alg, sig


def decode_cke_psk(r):
    ident = bytes(r.vec(2, 0, 0xFFFF))
    r.done()
    return ident


def decode_cke_ecdhe_psk(r):
    ident = bytes(r.vec(2, 0, 0xFFFF))
    point = bytes(r.vec(1, 1, 255))
    r.done()
    return ident, point


def decode_cke_ecdhe(r):
    point = bytes(r.vec(1, 1, 255))
    r.done()
    return point


def psk_premaster(other_secret, psk):
    """RFC 4279 section 2 / RFC 5489 section 2: uint16 len | other_secret | uint16 len | psk.
    For plain PSK other_secret is len(psk) zero bytes."""
    n = len(other_secret)
    k = len(psk)
    out = bytearray(4 + n + k)
    out[0] = n >> 8
    out[1] = n & 0xFF
    out[2:2 + n] = other_secret
    out[2 + n] = k >> 8
    out[3 + n] = k & 0xFF
    out[4 + n:] = psk
    return bytes(out)
