"""The initiator's steps outside a resumption (microticket.ike.initiator enters them through ``op``, loaded
on first use, so the resumption path never loads this module, DH, the payload codecs or the full key
schedule):

- IKE_SA_INIT (RFC 7296 sections 1.2, 2.6): ``init_start``, ``init_send``, ``init_response`` (COOKIE and
  INVALID_KE_PAYLOAD retries), NAT detection payloads (``natd``, section 2.23), the optional Child SA
  request of IKE_AUTH (``child_payloads``) and PSK AUTH (keys_full.psk_auth, section 2.15);
- INFORMATIONAL exchanges (RFC 7296 section 1.4, RFC 5723 sections 4.1 and 6.2): ``info_request``
  (TICKET_REQUEST, Delete), ``info_response``, requests from the responder (``peer_request``, section 2.2:
  each answered once, a retransmission from the cached answer);
- IKE SA rekeying (RFC 7296 sections 1.3.2, 2.18; RFC 5723 section 6.2): ``rekey_request``,
  ``rekey_response`` (ours), ``_peer_rekey`` (the responder's), ``old_sa`` (messages on the replaced SA);
  the pieces shared with the gateway are in rekey.py.

Every step takes the Initiator (``ini``) and works on its attributes: this module imports nothing of
initiator.py (the dependency points one way).
"""

from micropython import const
from microticket.errors import DecodeError, IkeNotifyError
from microticket.ike import message as M
from microticket.ike import keys as K
from microticket.ike import payloads as P
from microticket.ike import keys_full as F
from microticket.ike import rekey as R
from microticket.ike import dh

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_AUTHENTICATION_FAILED = const(24)
_CHILDLESS_IKEV2_SUPPORTED = const(16418)
_CLOSED = const(6)
_COOKIE = const(16390)
_CREATE_CHILD_SA = const(36)
_ESTABLISHED = const(4)
_FLAG_I = const(8)
_FLAG_R = const(32)
_IKE_SA_INIT = const(34)
_INFORMATIONAL = const(37)
_INFO_SENT = const(5)  # initiator states (initiator.py)
_INVALID_KE_PAYLOAD = const(17)
_MAX_KE_RETRIES = const(2)
_NAT_DETECTION_DESTINATION_IP = const(16389)
_NAT_DETECTION_SOURCE_IP = const(16388)
_NO_ADDITIONAL_SAS = const(35)
_PROTO_IKE = const(1)
_PT_DELETE = const(42)
_PT_KE = const(34)
_PT_NONCE = const(40)
_PT_NOTIFY = const(41)
_PT_SA = const(33)
_TEMPORARY_FAILURE = const(43)
_TICKET_REQUEST = const(16410)


def _name(t):
    from microticket.ike.names import notify_name  # the name table: loaded only when a name is printed
    return notify_name(t)


def _dump(*args):
    from microticket.ike.keydump import dump_keys  # only with Initiator(debug_keys=True)
    return dump_keys(*args)


def natd(ini):
    """The initiator's N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP) (SPIr zero), or []."""
    if ini.addrs is None:
        return []
    lip, lport, rip, rport = ini.addrs
    z = bytes(8)  # SPIr is zero in the first request
    return [(_PT_NOTIFY, M.notify_body(_NAT_DETECTION_SOURCE_IP, F.natd_hash(ini.spi_i, z, lip, lport))),
            (_PT_NOTIFY, M.notify_body(_NAT_DETECTION_DESTINATION_IP, F.natd_hash(ini.spi_i, z, rip, rport)))]


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
    ini._dh_priv, ini._dh_pub = dh.keypair(ini.group, ini.rng)
    init_send(ini, now)


def init_send(ini, now):
    pl = []
    if ini._cookie is not None:
        pl.append((_PT_NOTIFY, M.notify_body(_COOKIE, ini._cookie)))
    pl.append((_PT_SA, P.sa_body([P.ike_proposal(ini.groups)])))
    pl.append((_PT_KE, P.ke_body(ini.group, ini._dh_pub)))
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
            ini._dh_priv, ini._dh_pub = dh.keypair(g, ini.rng)
            init_send(ini, now)
            return
        ini._fail("INVALID_KE_PAYLOAD", now)
        return
    if err is not None:
        ini._fail(err, now)
        return
    sa = m.get(_PT_SA)
    ke = m.get(_PT_KE)
    nr = m.get(_PT_NONCE)
    if sa is None or ke is None or nr is None or m.spi_r == bytes(8):
        raise DecodeError("IKE_SA_INIT response lacks SA, KE or Nr")
    grp = P.check_ike_choice(P.parse_sa(sa), ini.groups)
    kg, kdata = P.parse_ke(ke)
    if kg != grp or grp != ini.group:
        raise DecodeError("KE group does not match")
    if not 16 <= len(nr) <= 256:
        raise DecodeError("bad nonce length")
    ini._keyed(m, nr, F.skeyseed_full(ini.ni, nr, dh.shared(ini.group, ini._dh_priv, kdata)))
    ini._dh_priv = ini._dh_pub = None
    ini._send_auth(now)


def fallback(ini, why, now):
    """A resumption failed (Initiator._fail, ``why``: text or a notify type): ("resume_failed", REASON), then a
    full exchange with a fresh SPIi in the same run, so a failed resumption never strands a board. When the
    gateway refused the resumed AUTH (AUTHENTICATION_FAILED), it may read the AUTH octets the other way
    (shared/ARCHITECTURE.md, "RFC 5723 in the field"; keys.resume_auth): the ticket of the full exchange
    carries the other reading (its "auth_mode"), the one the next resumption with this peer uses."""
    if why == _AUTHENTICATION_FAILED:
        ini.auth_mode = K.AUTH_SIGNED if ini.auth_mode == K.AUTH_MESSAGE else K.AUTH_MESSAGE
    ini._ev.append(("resume_failed", why if type(why) is str else _name(why)))
    t = ini._rt  # after the resumption's response: our own IDi and IDr bodies (the ticket's were in use)
    if t is not None and len(t) == 2:
        ini.idi_body, ini.idr_body = t
    ini._rt = ini.keys = ini.nr = ini._resp_raw = None  # the ticket's bytes, the resumed SA's keys
    init_start(ini, now)


def child_payloads(ini, inner):
    """The optional Child SA request of IKE_AUTH: SAi2, TSi, TSr (any IPv4 address, any protocol)."""
    ini._child_spi = ini.rng(4)
    inner.append((_PT_SA, P.sa_body([P.child_proposal(ini._child_spi)])))
    sel = [(0, 0, 65535, b"\x00\x00\x00\x00", b"\xff\xff\xff\xff")]
    inner.append((44, P.ts_body(sel)))  # PT_TSI
    inner.append((45, P.ts_body(sel)))  # PT_TSR


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
        p = (_PT_DELETE, P.delete_body(_PROTO_IKE))
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
            if p[0] == _PT_DELETE and P.parse_delete(p[2])[0] == _PROTO_IKE:
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
    props = P.parse_sa(sa) if sa is not None else ()
    if not props or props[0][1] != _PROTO_IKE or ni is None or ke is None:
        resp.append((_PT_NOTIFY, M.notify_body(_NO_ADDITIONAL_SAS)))
        return None
    if ini.state != _ESTABLISHED:
        resp.append((_PT_NOTIFY, M.notify_body(_TEMPORARY_FAILURE)))
        return None
    if not 16 <= len(ni) <= 256:
        raise DecodeError("bad nonce length")
    try:
        num, spi, group, kdata = R.select_rekey(props, ke, ini.groups)
    except IkeNotifyError as e:
        resp.append((_PT_NOTIFY, M.notify_body(e.notify_type, getattr(e, "data", b""))))
        return None
    priv, pub = dh.keypair(group, ini.rng)
    g = dh.shared(group, priv, kdata)
    my_spi = ini.rng(8)
    nr = ini.rng(32)
    resp.append((_PT_SA, R.answer_sa(num, group, my_spi)))
    resp.append((_PT_NONCE, nr))
    resp.append((_PT_KE, P.ke_body(group, pub)))
    ini.group = group
    return spi, my_spi, K.IkeSaKeys(R.skeyseed_rekey(ini.keys.sk_d, g, ni, nr), ni, nr, spi, my_spi)


def rekey_request(ini, now):
    """Initiator.rekey: CREATE_CHILD_SA {SA(IKE, new SPIi), Ni, KE, [N(TICKET_REQUEST)]} (RFC 7296 1.3.2)."""
    if ini.state != _ESTABLISHED:
        raise ValueError("no IKE SA")
    ini._info = "rekey"
    ini._rk_spi = ini.rng(8)
    ini._rk_ni = ini.rng(32)
    ini._dh_priv, ini._dh_pub = dh.keypair(ini.group, ini.rng)
    inner = [(_PT_SA, P.sa_body([P.ike_proposal((ini.group,), ini._rk_spi)])), (_PT_NONCE, ini._rk_ni),
             (_PT_KE, P.ke_body(ini.group, ini._dh_pub))]
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
        props = P.parse_sa(sa)
        grp = P.check_ike_choice(props, (ini.group,))
        kg, kdata = P.parse_ke(ke)
        if kg != grp or len(props[0][2]) != 8 or not 16 <= len(nr) <= 256:
            raise DecodeError("bad rekey response")
        g = dh.shared(grp, priv, kdata)
    except DecodeError as e:
        # authenticated but unusable: the old SA stays (it is still good); tell the caller
        ini._ev.append(("rekey_failed", str(e)))
        return
    ni = ini._rk_ni
    spi_r = props[0][2]
    _switch(ini, ini._rk_spi, spi_r, K.IkeSaKeys(R.skeyseed_rekey(ini.keys.sk_d, g, ni, nr), ni, nr, ini._rk_spi,
                                                 spi_r), True)
    ini._ev.append(("rekeyed", "ours"))
    _invalidate(ini, "rekeyed")
    if ini.want_ticket:
        ini._ticket_notifies(m, now)
    # the initiator of the rekey deletes the old IKE SA, on the old IKE SA
    o = ini._old
    raw = K.protect(o[2], o[3], o[0], o[1], _INFORMATIONAL, _flags(o[3]), o[4], [(_PT_DELETE, P.delete_body(_PROTO_IKE))],
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
        ini._ev.append(("keys", _dump(keys, None, None, spi_i, spi_r)))


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
        if p[0] == _PT_DELETE and P.parse_delete(p[2])[0] == _PROTO_IKE:
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


def op(n, *args):
    """Step ``n`` of the initiator (the order of initiator._OP_*) with ``args``."""
    return (init_start, init_send, init_response, info_response, info_request, rekey_request, peer_request,
            old_sa, F.psk_auth, child_payloads, _dump, natd, fallback)[n](*args)
