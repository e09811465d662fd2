"""IKEv2 payload bodies of the exchanges a resumption never runs (RFC 7296 section 3): SA with its
proposals and transforms (3.3), KE (3.4), ID (3.5), Notify (3.10), Delete (3.11), Traffic Selectors (3.13),
the proposal of the RFC 7815 profile and its selection on either side, and two message helpers for
tools, tests and the gateway (``decode``: header and payloads in one call; ``strip_marker``: the RFC 3948
non-ESP marker).

What every exchange needs (header, payload chain, ID/AUTH/Notify bodies) is in message.py; this module
is loaded by the full exchange, rekeying and the gateway, never by a resumption.
"""

from micropython import const
from microticket.errors import DecodeError, IkeNotifyError
from microticket.wire import Reader, Writer
from microticket.ike import message as M

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_ATTR_KEY_LENGTH = const(14)
_AUTH_HMAC_SHA2_256_128 = const(12)
_ENCR_AES_CBC = const(12)
_ESN_NONE = const(0)
_NO_PROPOSAL_CHOSEN = const(14)
_PRF_HMAC_SHA2_256 = const(5)
_PROTO_ESP = const(3)
_PROTO_IKE = const(1)
_TS_IPV4_ADDR_RANGE = const(7)
_TT_DH = const(4)
_TT_ENCR = const(1)
_TT_ESN = const(5)
_TT_INTEG = const(3)
_TT_PRF = const(2)


def strip_marker(data):
    """Remove the RFC 3948 non-ESP marker if present. Returns (data, had_marker).
    A real IKE message never starts with four zero octets (SPIi is never zero)."""
    if len(data) >= 4 and data[0] == 0 and data[1] == 0 and data[2] == 0 and data[3] == 0:
        return data[4:], True
    return data, False


def decode(data):
    """Header and payloads of a datagram in one call (tests, tools; not the engines)."""
    return M.decode_payloads(M.decode_header(data))


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


def parse_id(body):
    r = Reader(body)
    t = r.u8()
    r.skip(3)
    return t, bytes(r.take(r.remaining()))


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


def parse_notify(body):
    if len(body) < 4 or 4 + body[1] > len(body):
        raise DecodeError("truncated")
    ntype = (body[2] << 8) | body[3]
    n = 4 + body[1]
    return body[0], bytes(body[4:n]), ntype, bytes(body[n:])


def delete_body(proto, spis=()):
    size = len(spis[0]) if spis else 0
    n = len(spis)
    return bytes((proto, 0 if proto == _PROTO_IKE else size, n >> 8, n & 0xFF)) + b"".join(spis)


def parse_delete(body):
    if len(body) < 4:
        raise DecodeError("truncated")
    size = body[1]
    n = (body[2] << 8) | body[3]
    if len(body) != 4 + size * n:
        raise DecodeError("truncated" if len(body) < 4 + size * n else "trailing bytes")
    spis = []
    for i in range(n):
        spis.append(bytes(body[4 + i * size:4 + (i + 1) * size]))
    return body[0], spis
