"""IKEv2 message codec (RFC 7296 section 3) with the RFC 5723 notifies and exchange type.

A message is a 28-byte header and a chain of generic payloads. ``decode_header`` checks the header and its
length field; ``decode_payloads`` walks the chain with explicit bounds checks (every length is checked
against its enclosing structure), skips unknown payloads and refuses unknown *critical* ones with
IkeNotifyError(UNSUPPORTED_CRITICAL_PAYLOAD) whose ``payload_type`` is the offending type (RFC 7296
section 2.5). The SK payload (section 3.14) must be the last one; its body is returned undecrypted and
``keys.py`` opens it.

Payload bodies are plain bytes; small ``*_body`` / ``parse_*`` functions build and read each kind.
``encode`` writes a whole message into one bytearray sized up front (no growing buffers).

Heap: a resuming initiator keeps this module loaded, and from ROMFS every name in it is a qstr in the heap's
qstr pool (which grows by doubling): parameters reuse the few short names microticket.crypto already has
(``a``, ``b``, ``n``, ``data``).

This module holds only what every exchange needs (a resuming initiator loads nothing else). The SA, KE,
TS, Notify and Delete bodies of the full exchange and rekeying, and ``decode`` (header and payloads in one
call, which no engine uses) and ``strip_marker``, are in payloads.py.
"""

from microticket.errors import DecodeError, IkeNotifyError
from micropython import const

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_FLAG_I = const(8)
_FLAG_R = const(32)
_HDR_LEN = const(28)
_IKE_VERSION = const(32)
_INVALID_MAJOR_VERSION = const(5)
_PROTO_IKE = const(1)
_PT_NONE = const(0)
_PT_NOTIFY = const(41)
_PT_SK = const(46)
_PT_SA = const(33)
_PT_EAP = const(48)
_UNSUPPORTED_CRITICAL_PAYLOAD = const(1)

MAX_MESSAGE = 3000  # bounded receive size; larger datagrams are dropped (no fragmentation support)


class Message:
    """A decoded (or to-be-encoded) IKE message. ``payloads`` is a list of [type, critical, body]."""

    def __init__(self, spi_i, spi_r, exch, flags, msg_id, payloads=None):
        self.spi_i = spi_i
        self.spi_r = spi_r
        self.exch = exch
        self.flags = flags
        self.msg_id = msg_id
        self.payloads = payloads if payloads is not None else []
        self.raw = None  # the octets as received (no non-ESP marker)
        self.first = _PT_NONE  # type of the first payload
        self.sk = None  # (first inner type, offset of the SK body in raw, body length) when present

    def is_response(self):
        return bool(self.flags & _FLAG_R)

    def is_initiator(self):
        return bool(self.flags & _FLAG_I)

    def get(self, n):
        for p in self.payloads:
            if p[0] == n:
                return p[2]
        return None

    def notify(self, n, a=False):
        """The data of the first Notify of type ``n`` (a copy; with ``a`` == 2 a memoryview of it); with
        ``a`` True, the first error notify type (< 16384) instead (or None)."""
        for p in self.payloads:
            if p[0] == _PT_NOTIFY:
                b = p[2]
                if len(b) < 4 or 4 + b[1] > len(b):  # (RFC 7296 section 3.10: the SPI inside the body)
                    raise DecodeError("truncated")
                t = (b[2] << 8) | b[3]
                if a is True:
                    if t < 16384:
                        return t
                elif t == n:
                    return memoryview(b)[4 + b[1]:] if a else bytes(b[4 + b[1]:])
        return None

    def error_notify(self):
        """The first error notify type (< 16384) in the message, or None."""
        return self.notify(0, True)


def decode_header(data, b=False):
    """Parse and check the IKE header (RFC 7296 section 3.1). Raises DecodeError on any inconsistency,
    IkeNotifyError(INVALID_MAJOR_VERSION) for a major version other than 2. ``m.raw`` is a copy of ``data``
    unless ``b`` (the caller guarantees ``data`` never changes, e.g. a view into a received bytes object)."""
    n = len(data)
    if n < _HDR_LEN or n > MAX_MESSAGE:
        raise DecodeError("bad message size")
    if (data[24] << 24) | (data[25] << 16) | (data[26] << 8) | data[27] != n:
        raise DecodeError("length field does not match datagram")
    ver = data[17]
    if ver >> 4 != 2:
        raise IkeNotifyError(_INVALID_MAJOR_VERSION, "major version %d" % (ver >> 4))
    m = Message(bytes(data[0:8]), bytes(data[8:16]), data[18], data[19],
                (data[20] << 24) | (data[21] << 16) | (data[22] << 8) | data[23])
    m.raw = data if b else bytes(data)
    m.first = data[16]
    return m


def parse_chain(data, first, start=0, end=-1, b=True):
    """Walk a payload chain (an SK payload allowed, as the last one, if ``b``); returns (payloads, sk) where
    sk = (inner_first, body_off, body_len) or None."""
    if end < 0:
        end = len(data)
    if start < 0 or start > end or end > len(data):
        raise DecodeError("bad bounds")
    pos = start
    out = []
    sk = None
    nxt = first
    count = 0
    while nxt != _PT_NONE:
        count += 1
        if count > 64:
            raise DecodeError("too many payloads")
        ptype = nxt
        if pos + 4 > end:
            raise DecodeError("truncated")
        nxt = data[pos]
        crit = bool(data[pos + 1] & 0x80)
        plen = (data[pos + 2] << 8) | data[pos + 3]
        if plen < 4:
            raise DecodeError("payload length < 4")
        body_off = pos + 4
        pos += plen
        if pos > end:
            raise DecodeError("truncated")
        if ptype == _PT_SK:
            if not b or pos != end:
                raise DecodeError("SK payload is not last")
            sk = (nxt, body_off, plen - 4)
            break
        if ptype < _PT_SA or ptype > _PT_EAP:  # 33..48 are the payload types this codec knows
            if crit:
                e = IkeNotifyError(_UNSUPPORTED_CRITICAL_PAYLOAD, "payload %d" % ptype)
                e.payload_type = ptype
                raise e
            continue
        out.append([ptype, crit, bytes(data[body_off:pos])])
    if pos != end:
        raise DecodeError("trailing bytes after last payload")
    return out, sk


def decode_payloads(m):
    """Fill ``m.payloads`` (and ``m.sk``) from ``m.raw``."""
    m.payloads, m.sk = parse_chain(m.raw, m.first, _HDR_LEN)
    return m


# --- encoding --------------------------------------------------------------------------------------

def chain_len(payloads):
    n = 0
    for p in payloads:
        n += 4 + len(p[1])
    return n


def write_chain(data, a, payloads, b=_PT_NONE):
    """Write [(type, body)] as generic payloads into buffer ``data`` at offset ``a``; the last one's Next
    Payload is ``b``. Returns the offset after the chain."""
    k = len(payloads)
    for i in range(k):
        body = payloads[i][1]
        n = len(body) + 4
        data[a] = payloads[i + 1][0] if i + 1 < k else b
        data[a + 1] = 0
        data[a + 2] = n >> 8
        data[a + 3] = n & 0xFF
        data[a + 4:a + n] = body
        a += n
    return a


def write_header(data, spi_i, spi_r, first, exch, flags, msg_id, n):
    """The 28-byte header at the start of buffer ``data``; ``n`` is the message length."""
    data[0:8] = spi_i
    data[8:16] = spi_r
    data[16] = first
    data[17] = _IKE_VERSION
    data[18] = exch
    data[19] = flags
    for i in range(4):
        data[20 + i] = (msg_id >> (24 - 8 * i)) & 0xFF
        data[24 + i] = (n >> (24 - 8 * i)) & 0xFF


def encode(spi_i, spi_r, exch, flags, msg_id, payloads, pre=0):
    """An unencrypted message from [(type, body)]; with ``pre`` (see keys.protect) the bytearray with
    ``pre`` zero bytes (the non-ESP marker) before it."""
    total = _HDR_LEN + chain_len(payloads)
    buf = bytearray(pre + total)
    mv = memoryview(buf)
    if pre:
        mv = mv[pre:]
    write_header(mv, spi_i, spi_r, payloads[0][0] if payloads else _PT_NONE, exch, flags, msg_id, total)
    write_chain(mv, _HDR_LEN, payloads)
    return buf if pre else bytes(buf)


# --- payload bodies --------------------------------------------------------------------------------

def id_body(a, data):
    """An ID payload body (ID type ``a``), and, the same layout, an AUTH body (auth method ``a``)."""
    return bytes((a, 0, 0, 0)) + data


auth_body = id_body


def parse_auth(data):
    if len(data) < 4:
        raise DecodeError("truncated")
    return data[0], bytes(data[4:])


def notify_body(n, data=b"", a=0, b=b""):
    """A Notify body: type ``n``, notification data, protocol ID ``a``, SPI ``b``."""
    return bytes((a, len(b), n >> 8, n & 0xFF)) + b + data
