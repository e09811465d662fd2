"""Everything a resumption does not need, kept out of the resumption path (loaded on first use; the
module keeps its old name: it began as the DH module).

- Diffie-Hellman: group 14 (2048-bit MODP, RFC 3526) and group 31 (Curve25519, RFC 8031), both from other
  microticket modules (imported only when a group is used, so a board that uses only group 31 never loads the
  MODP code):  ``keypair(group, rng) -> (private, public_bytes)`` and ``shared(group, private, peer_public)
  -> g^ir bytes``. A peer value of the wrong length or an invalid one raises DecodeError (wrong length or a
  degenerate value).
- The SA, KE, ID, TS, Notify and Delete body codecs (RFC 7296 sections 3.3-3.5, 3.10, 3.11, 3.13), the full
  exchange's SKEYSEED and PSK AUTH: every name in BODIES is also reachable as ``message.<name>`` /
  ``keys.<name>``.
- The initiator's steps outside a resumption (Initiator calls them): IKE_SA_INIT (``init_start``,
  ``init_send``, ``init_response``), the Child SA request (``child_payloads``), INFORMATIONAL exchanges
  (``info_request``, ``info_response``), requests from the responder (``peer_request``), IKE SA rekeying
  (``rekey_request``/``rekey_response`` ours, ``_peer_rekey`` the responder's, ``old_sa`` for the replaced
  SA; ``skeyseed_rekey``, ``select_rekey``, ``answer_sa`` shared with the gateway), the debug key-dump
  (``dump_keys``, KEY_NAMES).
"""

from microticket import crypto
from microticket.errors import DecodeError, IkeNotifyError
from microticket.wire import Reader, Writer
from micropython import const
from microticket.ike import message as M
from microticket.ike import keys as K
from microticket.ike.initiator import _name

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_DH_CURVE25519 = const(31)
_DH_MODP2048 = const(14)
_ATTR_KEY_LENGTH = const(14)
_AUTH_HMAC_SHA2_256_128 = const(12)
_CHILDLESS_IKEV2_SUPPORTED = const(16418)
_COOKIE = const(16390)
_NAT_DETECTION_SOURCE_IP = const(16388)
_NAT_DETECTION_DESTINATION_IP = const(16389)
_ENCR_AES_CBC = const(12)
_ESN_NONE = const(0)
_FLAG_I = const(8)
_IKE_SA_INIT = const(34)
_INFORMATIONAL = const(37)
_CREATE_CHILD_SA = const(36)
_FLAG_R = const(32)
_NO_ADDITIONAL_SAS = const(35)
_TICKET_REQUEST = const(16410)
_TEMPORARY_FAILURE = const(43)
_INFO_SENT = const(5)  # initiator states (initiator.py)
_ESTABLISHED = const(4)
_CLOSED = const(6)
_INVALID_KE_PAYLOAD = const(17)
_MAX_KE_RETRIES = const(2)
_NO_PROPOSAL_CHOSEN = const(14)
_PRF_HMAC_SHA2_256 = const(5)
_PROTO_ESP = const(3)
_PROTO_IKE = const(1)
_PT_DELETE = const(42)
_PT_KE = const(34)
_PT_NONCE = const(40)
_PT_NOTIFY = const(41)
_PT_SA = const(33)
_TS_IPV4_ADDR_RANGE = const(7)
_TT_DH = const(4)
_TT_ENCR = const(1)
_TT_ESN = const(5)
_TT_INTEG = const(3)
_TT_PRF = const(2)

GROUPS = (14, 31)
BODIES = ("decode", "strip_marker", "natd_hash", "sa_body", "parse_sa", "ke_body", "parse_ke", "parse_id",
          "ts_body", "parse_ts", "ike_proposal",
          "select_ike_proposal", "check_ike_choice", "child_proposal", "parse_notify", "delete_body",
          "parse_delete", "skeyseed_full", "prf_psk_key", "psk_auth")


def strip_marker(data):
    """message.strip_marker: remove the RFC 3948 non-ESP marker if present. Returns (data, had_marker).
    A real IKE message never starts with four zero octets (SPIi is never zero)."""
    if len(data) >= 4 and data[0] == 0 and data[1] == 0 and data[2] == 0 and data[3] == 0:
        return data[4:], True
    return data, False


def natd_hash(spi_i, spi_r, ip4, port):
    """keys.natd_hash: SHA-1(SPIi | SPIr | IPv4 address (4 bytes) | port) (RFC 7296 section 2.23)."""
    return crypto.sha1(spi_i + spi_r + ip4 + bytes((port >> 8, port & 0xFF)))


def natd(ini):
    """The initiator's N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP) (SPIr zero), or []."""
    if ini.addrs is None:
        return []
    lip, lport, rip, rport = ini.addrs
    z = bytes(8)  # SPIr is zero in the first request
    return [(_PT_NOTIFY, M.notify_body(_NAT_DETECTION_SOURCE_IP, natd_hash(ini.spi_i, z, lip, lport))),
            (_PT_NOTIFY, M.notify_body(_NAT_DETECTION_DESTINATION_IP, natd_hash(ini.spi_i, z, rip, rport)))]


def decode(data):
    """message.decode: header and payloads of a datagram in one call (tests, tools; not the engines)."""
    return M.decode_payloads(M.decode_header(data))


def keypair(group, rng):
    if group == _DH_CURVE25519:
        from microticket import x25519
        priv = rng(32)
        return priv, x25519.x25519_base(priv)
    if group == _DH_MODP2048:
        from microticket import modp
        return modp.dh14_keypair(rng(32))
    raise ValueError("unsupported DH group")


def shared(group, priv, peer):
    if len(peer) != (32 if group == _DH_CURVE25519 else 256):
        raise DecodeError("KE data has the wrong length for its group")
    try:
        if group == _DH_CURVE25519:
            from microticket import x25519
            return x25519.x25519_shared(priv, peer)
        from microticket import modp
        return modp.dh14_shared(priv, peer)
    except ValueError:
        raise DecodeError("degenerate DH public value")


# --- the initiator's IKE_SA_INIT (RFC 7296 sections 1.2, 2.6) ----------------------------------------

def init_start(ini, now):
    """Initiator._start_full: a fresh SPIi, Ni and DH key pair, then IKE_SA_INIT."""
    ini.resumed = False
    ini.spi_i = ini.rng(8)
    ini.spi_r = bytes(8)
    ini.ni = ini.rng(32)
    ini._cookie = None
    ini._cookie_tries = 0
    ini._ke_tries = 0
    ini.msg_id = 0
    ini._dh_priv, ini._dh_pub = keypair(ini.group, ini.rng)
    init_send(ini, now)


def init_send(ini, now):
    pl = []
    if ini._cookie is not None:
        pl.append((_PT_NOTIFY, M.notify_body(_COOKIE, ini._cookie)))
    pl.append((_PT_SA, sa_body([ike_proposal(ini.groups)])))
    pl.append((_PT_KE, ke_body(ini.group, ini._dh_pub)))
    pl.append((_PT_NONCE, ini.ni))
    pl.extend(natd(ini))
    if not ini.child:
        pl.append((_PT_NOTIFY, M.notify_body(_CHILDLESS_IKEV2_SUPPORTED)))
    ini._request(M.encode(ini.spi_i, ini.spi_r, _IKE_SA_INIT, _FLAG_I, 0, pl), now, 1)  # INIT_SENT


def init_response(ini, m, now):
    """Initiator._on_init: COOKIE and INVALID_KE_PAYLOAD retries, else SAr1/KEr/Nr -> keys, IKE_AUTH."""
    if ini._cookie_retry(m, now):
        return
    err = m.error_notify()
    if err == _INVALID_KE_PAYLOAD:
        d = m.notify(_INVALID_KE_PAYLOAD)
        g = (d[0] << 8 | d[1]) if d is not None and len(d) == 2 else 0
        if g in ini.groups and g != ini.group and ini._ke_tries < _MAX_KE_RETRIES:
            ini._ke_tries += 1
            ini.group = g
            ini._dh_priv, ini._dh_pub = keypair(g, ini.rng)
            init_send(ini, now)
            return
        ini._fail("INVALID_KE_PAYLOAD")
        return
    if err is not None:
        ini._fail(_name(err))
        return
    sa = m.get(_PT_SA)
    ke = m.get(_PT_KE)
    nr = m.get(_PT_NONCE)
    if sa is None or ke is None or nr is None or m.spi_r == bytes(8):
        raise DecodeError("IKE_SA_INIT response lacks SA, KE or Nr")
    grp = check_ike_choice(parse_sa(sa), ini.groups)
    kg, kdata = parse_ke(ke)
    if kg != grp or grp != ini.group:
        raise DecodeError("KE group does not match")
    if not 16 <= len(nr) <= 256:
        raise DecodeError("bad nonce length")
    ini._keyed(m, nr, skeyseed_full(ini.ni, nr, shared(ini.group, ini._dh_priv, kdata)))
    ini._dh_priv = ini._dh_pub = None
    ini._send_auth(now)


def child_payloads(ini, inner):
    """The optional Child SA request of IKE_AUTH: SAi2, TSi, TSr (any IPv4 address, any protocol)."""
    ini._child_spi = ini.rng(4)
    inner.append((_PT_SA, sa_body([child_proposal(ini._child_spi)])))
    sel = [(0, 0, 65535, b"\x00\x00\x00\x00", b"\xff\xff\xff\xff")]
    inner.append((44, ts_body(sel)))  # PT_TSI
    inner.append((45, ts_body(sel)))  # PT_TSR


# --- the initiator's INFORMATIONAL exchanges (RFC 7296 section 1.4, RFC 5723 sections 4.1, 6.2) -------
# After a rekey the responder initiated we are the original *responder* of the new IKE SA (ini.orig False):
# SPIi is the peer's, our messages carry no I flag and are protected with SK_er / SK_ar.

def _flags(orig, resp=False):
    return (_FLAG_I if orig else 0) | (_FLAG_R if resp else 0)


def _send(ini, exch, inner, now):
    """A new request of ours on the current IKE SA (retransmitted by Initiator.on_timer)."""
    ini._request(K.protect(ini.keys, ini.orig, ini.spi_i, ini.spi_r, exch, _flags(ini.orig), ini.msg_id, inner,
                           ini.rng), now, _INFO_SENT)


def info_request(ini, what, now):
    """Initiator.request_ticket ("ticket") and Initiator.delete ("delete")."""
    if ini.state != _ESTABLISHED:
        raise ValueError("no IKE SA")
    ini._info = what
    if what == "delete":
        p = (_PT_DELETE, delete_body(_PROTO_IKE))
    else:
        p = (_PT_NOTIFY, M.notify_body(_TICKET_REQUEST))
    _send(ini, _INFORMATIONAL, [p], now)
    if what == "delete":
        _invalidate(ini, "deleted")


def info_response(ini, m, now):
    want = _CREATE_CHILD_SA if ini._info == "rekey" else _INFORMATIONAL
    if m.exch != want:
        raise DecodeError("response does not fit the request")
    m.payloads = K.unprotect(ini.keys, m, not ini.orig)
    ini._deadline = None
    ini.msg_id += 1
    if ini._info == "delete":
        ini.state = _CLOSED
        ini._ev.append(("closed", "deleted"))
        return
    ini.state = _ESTABLISHED
    if ini._info == "rekey":
        rekey_response(ini, m, now)
        return
    ini._ticket_notifies(m, now)


def peer_request(ini, m, now):
    """A request from the responder on our IKE SA (RFC 7296 section 2.2: answer each once, resend the
    cached answer to a retransmission)."""
    if ini.keys is None or m.spi_r != ini.spi_r or m.is_initiator() == ini.orig:
        raise DecodeError("not for our SA")
    nxt = getattr(ini, "_peer_next", 0)  # next Message ID expected in a request from the responder
    cached = getattr(ini, "_peer_resp", None)  # our cached response to the last one
    if cached is not None and m.msg_id + 1 == nxt:
        ini._out.append(cached)
        return
    if m.msg_id != nxt:
        raise DecodeError("bad message id")
    M.decode_payloads(m)
    inner = K.unprotect(ini.keys, m, ini.orig is False)
    m.payloads = inner
    resp = []
    closing = False
    new = None
    if m.exch == _INFORMATIONAL:
        for p in inner:
            if p[0] == _PT_DELETE and parse_delete(p[2])[0] == _PROTO_IKE:
                closing = True
    elif m.exch == _CREATE_CHILD_SA:
        new = _peer_rekey(ini, m, resp)
    else:
        raise DecodeError("unexpected request")
    raw = K.protect(ini.keys, ini.orig, ini.spi_i, ini.spi_r, m.exch, _flags(ini.orig, True), m.msg_id, resp,
                    ini.rng)
    ini._peer_next = nxt + 1
    ini._peer_resp = ini._emit(raw)
    if closing:
        _invalidate(ini, "deleted by peer")
        ini.state = _CLOSED
        ini._deadline = None
        ini._ev.append(("closed", "deleted by peer"))
    elif new is not None:
        # the responder rekeyed the IKE SA (RFC 7296 section 2.18): it is the original initiator of the new one
        _switch(ini, new[0], new[1], new[2], False)
        ini._ev.append(("rekeyed", "peer"))
        _invalidate(ini, "rekeyed")
        if ini.want_ticket:
            # RFC 5723 section 4.1: a new ticket for the new SA, asked for in an INFORMATIONAL exchange
            info_request(ini, "ticket", now)


def _peer_rekey(ini, m, resp):
    """CREATE_CHILD_SA from the responder: an IKE SA rekey gets SA (our new SPI), Nr, KE in ``resp`` and
    returns (SPIi, SPIr, keys) of the new SA; anything else (a Child SA) is refused. Only when no request of
    ours is outstanding (else TEMPORARY_FAILURE: RFC 7296 section 2.25)."""
    sa = m.get(_PT_SA)
    ni = m.get(_PT_NONCE)
    ke = m.get(_PT_KE)
    props = parse_sa(sa) if sa is not None else ()
    if not props or props[0][1] != _PROTO_IKE or ni is None or ke is None:
        resp.append((_PT_NOTIFY, M.notify_body(_NO_ADDITIONAL_SAS)))
        return None
    if ini.state != _ESTABLISHED:
        resp.append((_PT_NOTIFY, M.notify_body(_TEMPORARY_FAILURE)))
        return None
    if not 16 <= len(ni) <= 256:
        raise DecodeError("bad nonce length")
    try:
        num, spi, group, kdata = select_rekey(props, ke, ini.groups)
    except IkeNotifyError as e:
        resp.append((_PT_NOTIFY, M.notify_body(e.notify_type, getattr(e, "data", b""))))
        return None
    priv, pub = keypair(group, ini.rng)
    g = shared(group, priv, kdata)
    my_spi = ini.rng(8)
    nr = ini.rng(32)
    resp.append((_PT_SA, answer_sa(num, group, my_spi)))
    resp.append((_PT_NONCE, nr))
    resp.append((_PT_KE, ke_body(group, pub)))
    ini.group = group
    return spi, my_spi, K.IkeSaKeys(skeyseed_rekey(ini.keys.sk_d, g, ni, nr), ni, nr, spi, my_spi)


def rekey_request(ini, now):
    """Initiator.rekey: CREATE_CHILD_SA {SA(IKE, new SPIi), Ni, KE, [N(TICKET_REQUEST)]} (RFC 7296 1.3.2)."""
    if ini.state != _ESTABLISHED:
        raise ValueError("no IKE SA")
    ini._info = "rekey"
    ini._rk_spi = ini.rng(8)
    ini._rk_ni = ini.rng(32)
    ini._dh_priv, ini._dh_pub = keypair(ini.group, ini.rng)
    inner = [(_PT_SA, sa_body([ike_proposal((ini.group,), ini._rk_spi)])), (_PT_NONCE, ini._rk_ni),
             (_PT_KE, ke_body(ini.group, ini._dh_pub))]
    if ini.want_ticket:
        inner.append((_PT_NOTIFY, M.notify_body(_TICKET_REQUEST)))
    _send(ini, _CREATE_CHILD_SA, inner, now)


def rekey_response(ini, m, now):
    """The answer to our rekey: the new SA, then Delete of the old one on the old one (RFC 7296 2.18)."""
    priv = ini._dh_priv
    ini._dh_priv = ini._dh_pub = None
    err = m.error_notify()
    sa = m.get(_PT_SA)
    ke = m.get(_PT_KE)
    nr = m.get(_PT_NONCE)
    if err is not None or sa is None or ke is None or nr is None:
        ini._ev.append(("rekey_failed", _name(err) if err is not None else "no SA, KE or Nr"))
        return
    try:
        props = parse_sa(sa)
        grp = check_ike_choice(props, (ini.group,))
        kg, kdata = parse_ke(ke)
        if kg != grp or len(props[0][2]) != 8 or not 16 <= len(nr) <= 256:
            raise DecodeError("bad rekey response")
        g = shared(grp, priv, kdata)
    except DecodeError as e:
        # authenticated but unusable: the old SA stays (it is still good); tell the caller
        ini._ev.append(("rekey_failed", str(e)))
        return
    ni = ini._rk_ni
    spi_r = props[0][2]
    _switch(ini, ini._rk_spi, spi_r, K.IkeSaKeys(skeyseed_rekey(ini.keys.sk_d, g, ni, nr), ni, nr, ini._rk_spi,
                                                 spi_r), True)
    ini._ev.append(("rekeyed", "ours"))
    _invalidate(ini, "rekeyed")
    if ini.want_ticket:
        ini._ticket_notifies(m, now)
    # the initiator of the rekey deletes the old IKE SA, on the old IKE SA
    o = ini._old
    raw = K.protect(o[2], o[3], o[0], o[1], _INFORMATIONAL, _flags(o[3]), o[4], [(_PT_DELETE, delete_body(_PROTO_IKE))],
                    ini.rng)
    ini._info = "old"
    ini._request(raw, now, _INFO_SENT)


def _switch(ini, spi_i, spi_r, keys, orig):
    """Move to the new IKE SA; the old one is kept as ini._old = [SPIi, SPIr, keys, orig, our next Message ID,
    the peer's next Message ID, our cached response to the peer's last request on it]."""
    ini._old = [ini.spi_i, ini.spi_r, ini.keys, ini.orig, ini.msg_id, getattr(ini, "_peer_next", 0),
                getattr(ini, "_peer_resp", None)]
    ini.spi_i = spi_i
    ini.spi_r = spi_r
    ini.keys = keys
    ini.orig = orig
    ini.msg_id = 0
    ini._peer_next = 0
    ini._peer_resp = None
    if ini.debug_keys:
        ini._ev.append(("keys", dump_keys(keys, None, None, spi_i, spi_r)))


def old_sa(ini, m, now):
    """A message on the IKE SA a rekey replaced: the peer's Delete of it (answered; NOT the end of our
    session), a retransmission of the peer's CREATE_CHILD_SA (answered from the cache) or the response to
    our Delete of it. Anything else is dropped."""
    o = ini._old
    if m.spi_i != o[0] or m.spi_r != o[1] or m.is_initiator() == o[3]:
        raise DecodeError("not our SA")
    if m.is_response():
        if ini.state != _INFO_SENT or ini._info != "old" or m.msg_id != o[4] or m.exch != _INFORMATIONAL:
            raise DecodeError("unexpected response")
        M.decode_payloads(m)
        K.unprotect(o[2], m, not o[3])
        ini._deadline = None
        ini.state = _ESTABLISHED
        ini._old = None
        ini._ev.append(("old_sa_deleted",))
        return
    if o[6] is not None and m.msg_id + 1 == o[5]:
        ini._out.append(o[6])
        return
    if m.msg_id != o[5] or m.exch != _INFORMATIONAL:
        raise DecodeError("bad message id")
    M.decode_payloads(m)
    inner = K.unprotect(o[2], m, not o[3])
    closing = False
    for p in inner:
        if p[0] == _PT_DELETE and parse_delete(p[2])[0] == _PROTO_IKE:
            closing = True
    raw = K.protect(o[2], o[3], o[0], o[1], _INFORMATIONAL, _flags(o[3], True), m.msg_id, [], ini.rng)
    o[5] += 1
    o[6] = ini._emit(raw)
    if closing:
        ini._ev.append(("old_sa_deleted",))
        if ini.state == _INFO_SENT and ini._info == "old":
            # both ends deleted it at once: our Delete needs no answer any more
            ini._deadline = None
            ini.state = _ESTABLISHED


def _invalidate(ini, why):
    ini.new_ticket = None
    ini._ev.append(("ticket_invalidated", why))


# --- IKE SA rekey pieces shared with the gateway (RFC 7296 sections 1.3.2, 2.18) ----------------------

def skeyseed_rekey(sk_d, shared, ni, nr):
    """SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)."""
    return crypto.Hmac(sk_d).mac(shared, ni, nr)


def select_rekey(proposals, ke, groups):
    """Responder side of an IKE rekey: (proposal number, the peer's new SPI, DH group, KE data) for the
    first proposal with our suite and an 8-octet SPI whose DH group is the KE's; IkeNotifyError
    NO_PROPOSAL_CHOSEN or INVALID_KE_PAYLOAD (its ``data``: the group we want) otherwise."""
    kg, kdata = parse_ke(ke)
    want = None
    for num, proto, spi, trs in proposals:
        if proto != _PROTO_IKE or len(spi) != 8:
            continue
        try:
            n, offered = select_ike_proposal([(num, proto, b"", trs)], groups)
        except IkeNotifyError:
            continue
        if kg in offered:
            return num, spi, kg, kdata
        if want is None:
            for g in groups:
                if g in offered:
                    want = g
                    break
    if want is None:
        raise IkeNotifyError(_NO_PROPOSAL_CHOSEN, "no acceptable IKE rekey proposal")
    e = IkeNotifyError(_INVALID_KE_PAYLOAD, "KE group")
    e.data = bytes((want >> 8, want & 0xFF))
    raise e


def answer_sa(num, group, spi):
    """SAr of a rekey: our one proposal (numbered as the chosen one) with our new SPI."""
    b = bytearray(sa_body([ike_proposal((group,), spi)]))
    b[4] = num
    return bytes(b)


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


# --- the full exchange's key schedule and AUTH (keys.<name>) ----------------------------------------

def skeyseed_full(ni, nr, shared):
    return crypto.Hmac(ni + nr).mac(shared)


def prf_psk_key(psk):
    return crypto.Hmac(crypto.Hmac(psk).mac(b"Key Pad for IKEv2"))


def psk_auth(psk, real_message, nonce_peer, sk_p, id_body):
    """RFC 7296 section 2.15: prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | Nonce | prf(SK_p, ID'))."""
    maced = crypto.Hmac(sk_p).mac(id_body)
    return prf_psk_key(psk).mac(real_message, nonce_peer, maced)


# --- the explicit debug key-dump (Initiator(debug_keys=True), ike-initiate --debug-keys) --------------

KEY_NAMES = ("SKEYSEED", "SK_d", "SK_ai", "SK_ar", "SK_ei", "SK_er", "SK_pi", "SK_pr", "AUTH_i", "AUTH_r", "SPIi",
             "SPIr")


def dump_keys(k, auth_i=None, auth_r=None, spi_i=None, spi_r=None):
    """Hex of every key of ``k`` (keys.IkeSaKeys.dump), with AUTH and SPIs when given."""
    vals = (k.skeyseed, k.sk_d, k.sk_ai, k.sk_ar, k.sk_ei, k.sk_er, k.sk_pi, k.sk_pr, auth_i, auth_r, spi_i, spi_r)
    d = {}
    for i in range(12):
        if vals[i] is not None:
            d[KEY_NAMES[i]] = vals[i].hex()
    return d


# --- the Initiator's entry (initiator._dh): one name there instead of one per step ------------------------

STATE_NAMES = ("idle", "init-sent", "auth-sent", "resume-sent", "established", "info-sent", "closed", "failed")


def op(n, *args):
    """Step ``n`` of the initiator (the order of initiator._OP_*) with ``args``."""
    return (init_start, init_send, init_response, info_response, info_request, rekey_request, peer_request,
            old_sa, psk_auth, child_payloads, dump_keys, natd)[n](*args)
