"""IKEv2 message codec (RFC 7296 section 3) with the RFC 5723 notifies and exchange type.

A message is a 28-byte header and a chain of generic payloads. ``decode_header`` checks the header and its
length field; ``decode_payloads`` walks the chain with a bounded Reader (every length is checked against
its enclosing structure), skips unknown payloads and refuses unknown *critical* ones with
IkeNotifyError(UNSUPPORTED_CRITICAL_PAYLOAD) whose ``payload_type`` is the offending type (RFC 7296
section 2.5). The SK payload (section 3.14) must be the last one; its body is returned undecrypted and
``keys.py`` opens it.

Payload bodies are plain bytes; small ``*_body`` / ``parse_*`` functions build and read each kind.
``encode`` writes a whole message into one bytearray sized up front (no growing buffers).
"""

from microticket.errors import DecodeError, IkeNotifyError
from microticket.wire import Reader, Writer
from micropython import const

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_ATTR_KEY_LENGTH = const(14)
_AUTH_HMAC_SHA2_256_128 = const(12)
_ENCR_AES_CBC = const(12)
_ESN_NONE = const(0)
_FLAG_I = const(8)
_FLAG_R = const(32)
_HDR_LEN = const(28)
_IKE_VERSION = const(32)
_INVALID_MAJOR_VERSION = const(5)
_NO_PROPOSAL_CHOSEN = const(14)
_PRF_HMAC_SHA2_256 = const(5)
_PROTO_ESP = const(3)
_PROTO_IKE = const(1)
_PT_NONE = const(0)
_PT_NOTIFY = const(41)
_PT_SK = const(46)
_PT_SA = const(33)
_PT_EAP = const(48)
_TS_IPV4_ADDR_RANGE = const(7)
_TT_DH = const(4)
_TT_ENCR = const(1)
_TT_ESN = const(5)
_TT_INTEG = const(3)
_TT_PRF = const(2)
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

    def get(self, ptype):
        for p in self.payloads:
            if p[0] == ptype:
                return p[2]
        return None

    def notifies(self):
        """[(type, data, proto, spi)] of every Notify payload."""
        out = []
        for p in self.payloads:
            if p[0] == _PT_NOTIFY:
                proto, spi, ntype, data = parse_notify(p[2])
                out.append((ntype, data, proto, spi))
        return out

    def notify(self, ntype):
        for p in self.payloads:
            if p[0] == _PT_NOTIFY:
                proto, spi, t, data = parse_notify(p[2])
                if t == ntype:
                    return data
        return None

    def error_notify(self):
        """The first error notify type (< 16384) in the message, or None."""
        for p in self.payloads:
            if p[0] == _PT_NOTIFY:
                t = parse_notify(p[2])[2]
                if t < 16384:
                    return t
        return None


def strip_marker(data):
    """Remove the RFC 3948 non-ESP marker if present. Returns (data, had_marker).
    A real IKE message never starts with four zero octets (SPIi is never zero)."""
    if len(data) >= 4 and data[0] == 0 and data[1] == 0 and data[2] == 0 and data[3] == 0:
        return data[4:], True
    return data, False


def decode_header(data):
    """Parse and check the IKE header (RFC 7296 section 3.1). Raises DecodeError on any inconsistency,
    IkeNotifyError(INVALID_MAJOR_VERSION) for a major version other than 2."""
    n = len(data)
    if n < _HDR_LEN or n > MAX_MESSAGE:
        raise DecodeError("bad message size")
    r = Reader(data)
    spi_i = bytes(r.take(8))
    spi_r = bytes(r.take(8))
    first = r.u8()
    ver = r.u8()
    exch = r.u8()
    flags = r.u8()
    msg_id = r.u32()
    length = r.u32()
    if length != n:
        raise DecodeError("length field does not match datagram")
    if ver >> 4 != 2:
        raise IkeNotifyError(_INVALID_MAJOR_VERSION, "major version %d" % (ver >> 4))
    m = Message(spi_i, spi_r, exch, flags, msg_id)
    m.raw = bytes(data)
    m.first = first
    return m


def parse_chain(data, first, start=0, end=-1, allow_sk=True):
    """Walk a payload chain; returns (payloads, sk) where sk = (inner_first, body_off, body_len) or None."""
    r = Reader(data, start, end)
    out = []
    sk = None
    nxt = first
    count = 0
    while nxt != _PT_NONE:
        count += 1
        if count > 64:
            raise DecodeError("too many payloads")
        ptype = nxt
        nxt = r.u8()
        flags = r.u8()
        crit = bool(flags & 0x80)
        plen = r.u16()
        if plen < 4:
            raise DecodeError("payload length < 4")
        body_off = r.pos
        r.need(plen - 4)
        r.pos = body_off + plen - 4
        if ptype == _PT_SK:
            if not allow_sk or r.remaining() != 0:
                raise DecodeError("SK payload is not last")
            sk = (nxt, body_off, plen - 4)
            nxt = _PT_NONE
            break
        if ptype < _PT_SA or ptype > _PT_EAP:  # 33..48 are the payload types this codec knows
            if crit:
                e = IkeNotifyError(_UNSUPPORTED_CRITICAL_PAYLOAD, "payload %d" % ptype)
                e.payload_type = ptype
                raise e
            continue
        out.append([ptype, crit, bytes(data[body_off:body_off + plen - 4])])
    if r.remaining() != 0:
        raise DecodeError("trailing bytes after last payload")
    return out, sk


def decode_payloads(m):
    """Fill ``m.payloads`` (and ``m.sk``) from ``m.raw``."""
    m.payloads, m.sk = parse_chain(m.raw, m.first, _HDR_LEN)
    return m


def decode(data):
    return decode_payloads(decode_header(data))


# --- encoding --------------------------------------------------------------------------------------

def chain_len(payloads):
    n = 0
    for p in payloads:
        n += 4 + len(p[1])
    return n


def write_chain(w, payloads, last_next=_PT_NONE):
    """Write [(type, body)] as generic payloads; the last one's Next Payload is ``last_next``."""
    k = len(payloads)
    for i in range(k):
        ptype, body = payloads[i][0], payloads[i][1]
        w.u8(payloads[i + 1][0] if i + 1 < k else last_next)
        w.u8(0)
        w.u16(4 + len(body))
        w.put(body)


def write_header(w, spi_i, spi_r, first, exch, flags, msg_id, length):
    w.put(spi_i)
    w.put(spi_r)
    w.u8(first)
    w.u8(_IKE_VERSION)
    w.u8(exch)
    w.u8(flags)
    w.u32(msg_id)
    w.u32(length)


def encode(spi_i, spi_r, exch, flags, msg_id, payloads):
    """An unencrypted message from [(type, body)]."""
    total = _HDR_LEN + chain_len(payloads)
    buf = bytearray(total)
    w = Writer(buf)
    write_header(w, spi_i, spi_r, payloads[0][0] if payloads else _PT_NONE, exch, flags, msg_id, total)
    write_chain(w, payloads)
    return bytes(buf)


# --- payload bodies --------------------------------------------------------------------------------

def sa_body(proposals):
    """SA payload body (section 3.3). proposals: [(proto, spi, [(ttype, tid, keylen)])], numbered from 1."""
    size = 0
    for proto, spi, tr in proposals:
        size += 8 + len(spi)
        for t in tr:
            size += 8 + (4 if t[2] else 0)
    buf = bytearray(size)
    w = Writer(buf)
    np = len(proposals)
    for i in range(np):
        proto, spi, tr = proposals[i]
        plen = 8 + len(spi)
        for t in tr:
            plen += 8 + (4 if t[2] else 0)
        w.u8(2 if i + 1 < np else 0)
        w.u8(0)
        w.u16(plen)
        w.u8(i + 1)
        w.u8(proto)
        w.u8(len(spi))
        w.u8(len(tr))
        w.put(spi)
        nt = len(tr)
        for j in range(nt):
            ttype, tid, keylen = tr[j]
            w.u8(3 if j + 1 < nt else 0)
            w.u8(0)
            w.u16(12 if keylen else 8)
            w.u8(ttype)
            w.u8(0)
            w.u16(tid)
            if keylen:
                w.u16(0x8000 | _ATTR_KEY_LENGTH)
                w.u16(keylen)
    return bytes(buf)


def parse_sa(body):
    """[(num, proto, spi, [(ttype, tid, keylen)])]; keylen 0 = none, -1 = an attribute we do not know."""
    r = Reader(body)
    out = []
    more = True
    while more:
        if len(out) >= 16:
            raise DecodeError("too many proposals")
        last = r.u8()
        if last not in (0, 2):
            raise DecodeError("bad proposal substructure type")
        r.u8()
        plen = r.u16()
        if plen < 8:
            raise DecodeError("proposal too short")
        pr = r.sub_n(plen - 4)
        num = pr.u8()
        proto = pr.u8()
        spi_size = pr.u8()
        ntr = pr.u8()
        spi = bytes(pr.take(spi_size))
        trs = []
        for _ in range(ntr):
            tlast = pr.u8()
            if tlast not in (0, 3):
                raise DecodeError("bad transform substructure type")
            pr.u8()
            tlen = pr.u16()
            if tlen < 8:
                raise DecodeError("transform too short")
            tr = pr.sub_n(tlen - 4)
            ttype = tr.u8()
            tr.u8()
            tid = tr.u16()
            keylen = 0
            while tr.remaining():
                at = tr.u16()
                if at & 0x8000:
                    val = tr.u16()
                    if at & 0x7FFF == _ATTR_KEY_LENGTH:
                        keylen = val
                    else:
                        keylen = -1
                else:
                    tr.vec(2)
                    keylen = -1
            trs.append((ttype, tid, keylen))
        pr.done()
        out.append((num, proto, spi, trs))
        more = last == 2
    r.done()
    return out


def ke_body(group, data):
    buf = bytearray(4 + len(data))
    buf[0] = group >> 8
    buf[1] = group & 0xFF
    buf[4:] = data
    return bytes(buf)


def parse_ke(body):
    r = Reader(body)
    group = r.u16()
    r.u16()
    return group, bytes(r.take(r.remaining()))


def id_body(idtype, data):
    return bytes((idtype, 0, 0, 0)) + data


def parse_id(body):
    r = Reader(body)
    t = r.u8()
    r.skip(3)
    return t, bytes(r.take(r.remaining()))


def auth_body(method, data):
    return bytes((method, 0, 0, 0)) + data


def parse_auth(body):
    r = Reader(body)
    m = r.u8()
    r.skip(3)
    return m, bytes(r.take(r.remaining()))


def notify_body(ntype, data=b"", proto=0, spi=b""):
    buf = bytearray(4 + len(spi) + len(data))
    w = Writer(buf)
    w.u8(proto)
    w.u8(len(spi))
    w.u16(ntype)
    w.put(spi)
    w.put(data)
    return bytes(buf)


def parse_notify(body):
    r = Reader(body)
    proto = r.u8()
    spi_size = r.u8()
    ntype = r.u16()
    spi = bytes(r.take(spi_size))
    return proto, spi, ntype, bytes(r.take(r.remaining()))


def delete_body(proto, spis=()):
    size = len(spis[0]) if spis else 0
    buf = bytearray(4 + size * len(spis))
    w = Writer(buf)
    w.u8(proto)
    w.u8(0 if proto == _PROTO_IKE else size)
    w.u16(len(spis))
    for s in spis:
        w.put(s)
    return bytes(buf)


def parse_delete(body):
    r = Reader(body)
    proto = r.u8()
    size = r.u8()
    n = r.u16()
    spis = []
    for _ in range(n):
        spis.append(bytes(r.take(size)))
    r.done()
    return proto, spis


def ts_body(selectors):
    """TSi/TSr body (section 3.13); selectors: [(ip_proto, start_port, end_port, start4, end4)]."""
    buf = bytearray(4 + 16 * len(selectors))
    w = Writer(buf)
    w.u8(len(selectors))
    w.zeros(3)
    for proto, sp, ep, sa, ea in selectors:
        w.u8(_TS_IPV4_ADDR_RANGE)
        w.u8(proto)
        w.u16(16)
        w.u16(sp)
        w.u16(ep)
        w.put(sa)
        w.put(ea)
    return bytes(buf)


def parse_ts(body):
    r = Reader(body)
    n = r.u8()
    r.skip(3)
    out = []
    for _ in range(n):
        t = r.u8()
        proto = r.u8()
        ln = r.u16()
        if ln < 8:
            raise DecodeError("bad selector length")
        s = r.sub_n(ln - 4)
        if t == _TS_IPV4_ADDR_RANGE and ln == 16:
            out.append((proto, s.u16(), s.u16(), bytes(s.take(4)), bytes(s.take(4))))
    r.done()
    return out


def ike_proposal(groups, spi=b""):
    """The single IKE proposal of the RFC 7815 profile, offering the given DH groups (first preferred)."""
    tr = [(_TT_ENCR, _ENCR_AES_CBC, 128), (_TT_PRF, _PRF_HMAC_SHA2_256, 0),
          (_TT_INTEG, _AUTH_HMAC_SHA2_256_128, 0)]
    for g in groups:
        tr.append((_TT_DH, g, 0))
    return (_PROTO_IKE, spi, tr)


def select_ike_proposal(proposals, groups):
    """Responder side: the first proposal offering our suite. Returns (num, [groups offered that we support])
    or raises IkeNotifyError(NO_PROPOSAL_CHOSEN)."""
    for num, proto, spi, trs in proposals:
        if proto != _PROTO_IKE or spi:
            continue
        enc = prf = integ = False
        dh = []
        for ttype, tid, kl in trs:
            if ttype == _TT_ENCR and tid == _ENCR_AES_CBC and kl == 128:
                enc = True
            elif ttype == _TT_PRF and tid == _PRF_HMAC_SHA2_256 and kl == 0:
                prf = True
            elif ttype == _TT_INTEG and tid == _AUTH_HMAC_SHA2_256_128 and kl == 0:
                integ = True
            elif ttype == _TT_DH and tid in groups and kl == 0:
                dh.append(tid)
        if enc and prf and integ and dh:
            return num, dh
    raise IkeNotifyError(_NO_PROPOSAL_CHOSEN, "no acceptable IKE proposal")


def check_ike_choice(proposals, groups):
    """Initiator side: the responder's SAr1 must hold exactly one proposal with one of each transform type,
    all from what we offered. Returns the chosen DH group."""
    if len(proposals) != 1:
        raise DecodeError("SAr must carry one proposal")
    num, proto, spi, trs = proposals[0]
    if proto != _PROTO_IKE:
        raise DecodeError("SAr is not an IKE proposal")
    seen = {}
    for ttype, tid, kl in trs:
        if ttype in seen:
            raise DecodeError("SAr repeats a transform type")
        seen[ttype] = (tid, kl)
    if seen.get(_TT_ENCR) != (_ENCR_AES_CBC, 128) or seen.get(_TT_PRF) != (_PRF_HMAC_SHA2_256, 0) \
            or seen.get(_TT_INTEG) != (_AUTH_HMAC_SHA2_256_128, 0):
        raise DecodeError("SAr chose transforms we did not offer")
    dh = seen.get(_TT_DH)
    if dh is None or dh[0] not in groups:
        raise DecodeError("SAr chose a DH group we did not offer")
    return dh[0]


def child_proposal(spi):
    """An ESP proposal (AES-CBC-128, HMAC-SHA2-256-128, no ESN) for the optional Child SA."""
    return (_PROTO_ESP, spi, [(_TT_ENCR, _ENCR_AES_CBC, 128), (_TT_INTEG, _AUTH_HMAC_SHA2_256_128, 0),
                               (_TT_ESN, _ESN_NONE, 0)])
