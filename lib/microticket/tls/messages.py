"""Handshake message codec (RFC 5246 section 7.4, RFC 5077 section 3, RFC 4279/5489/8422 key exchanges).

Decoders take a wire.Reader bounded to one message body and raise DecodeError on anything malformed;
encoders write into a wire.Writer (a caller's fixed buffer) and raise BufferFull when it does not fit.

This module holds what every handshake needs (the hellos, extensions, NewSessionTicket, Finished): all a
resuming client loads. The messages of full handshakes (Certificate, the key exchanges, the ClientHello
decoder) are in microticket.tls.msg_full, also reachable here as messages.NAME (loaded on first use).
"""

from micropython import const

from microticket.errors import DecodeError
from microticket.wire import Reader

_VERSION_TLS12 = const(0x0303)
_HT_CLIENT_HELLO = const(1)


def begin_handshake(w, msg_type):
    """Write a handshake header (RFC 5246 section 7.4); close it with w.end(mark)."""
    w.u8(msg_type)
    return w.begin(3)


# --- extensions ------------------------------------------------------------------------------------

def read_extensions(r):
    """The optional extensions block of a hello: {type: bytes}. Duplicates are a decode error."""
    exts = {}
    if r.remaining() == 0:
        return exts
    er = r.sub(2, 0, 0xFFFF)
    while er.remaining():
        t = er.u16()
        data = bytes(er.vec(2))
        if t in exts:
            raise DecodeError("duplicate extension")
        exts[t] = data
    return exts


def parse_renegotiation_info(data):
    r = Reader(data)
    v = r.vec(1, 0, 255)
    r.done()
    return bytes(v)


def parse_mfl(data):
    if len(data) != 1 or not 1 <= data[0] <= 4:
        raise DecodeError("max_fragment_length")  # RFC 6066 section 4: illegal_parameter
    return data[0]


def expect_empty(data):
    if len(data):
        raise DecodeError("extension must be empty")


# --- hellos ----------------------------------------------------------------------------------------

class Hello:
    """ClientHello or ServerHello fields. For a ServerHello ``suites`` holds the one chosen suite."""

    def __init__(self):
        self.version = _VERSION_TLS12
        self.random = b""
        self.session_id = b""
        self.suites = []
        self.compression = b"\x00"
        self.exts = {}


def decode_server_hello(r):
    h = Hello()
    h.version = r.u16()
    h.random = bytes(r.take(32))
    h.session_id = bytes(r.vec(1, 0, 32))
    h.suites = [r.u16()]
    h.compression = bytes(r.take(1))
    h.exts = read_extensions(r)
    r.done()
    return h


def encode_hello(w, msg_type, h, ext_list):
    """ClientHello / ServerHello; ``ext_list`` is a list of (type, bytes) in sending order."""
    mark = begin_handshake(w, msg_type)
    w.u16(h.version)
    w.put(h.random)
    w.vec(1, h.session_id)
    if msg_type == _HT_CLIENT_HELLO:
        m = w.begin(2)
        for s in h.suites:
            w.u16(s)
        w.end(m)
        w.vec(1, b"\x00")
    else:
        w.u16(h.suites[0])
        w.u8(0)
    if ext_list:
        m = w.begin(2)
        for t, data in ext_list:
            w.u16(t)
            w.vec(2, data)
        w.end(m)
    w.end(mark)


# --- NewSessionTicket (RFC 5077 section 3.3; the encoder is in msg_full) ----------------------------

def decode_new_session_ticket(r):
    hint = r.u32()
    ticket = bytes(r.vec(2, 0, 0xFFFF))
    r.done()
    return hint, ticket


def decode_finished(r):
    v = bytes(r.take(12))
    r.done()
    return v


def __getattr__(name):
    # the full-handshake codec, loaded on first use
    from microticket.tls import msg_full
    return getattr(msg_full, name)
