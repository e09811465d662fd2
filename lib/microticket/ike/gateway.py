"""Sans-IO IKEv2 responder ("gateway") with RFC 5723 tickets by value or by reference.

    gw = Gateway(psk, "gw.example", ring=KeyRing.generate(now), tickets="value")
    for reply in gw.handle(datagram, now, peer_key): send(reply)   # replies go to the datagram's source
    for ev in gw.events(): ...

``peer_key`` is any bytes naming the sender (IP | port): it feeds the COOKIE (RFC 7296 section 2.6).
A datagram that starts with the RFC 3948 non-ESP marker is answered with one.

Floods (RFC 7296 section 2.6): COOKIEs are asked for always (cookie=True) or, by default, while
``cookie_threshold`` (8) or more SAs are half-open (events ("cookies", "on"|"off", n)); half-open SAs are at
most ``max_half`` (max_sas // 2, the oldest pushed out first, established SAs last) and expire after
``half_open_timeout`` (30 s). A ticket is in flight from its IKE_SESSION_RESUME on: one half-open SA at most
resumes with it (a replay replaces the one before: ("resume_replaced",)), used once IKE_AUTH succeeds.

Requests handled (window 1 per SA, retransmitted requests answered from the cached response):
  IKE_SA_INIT        SAi1 / KEi / Ni -> SAr1 / KEr / Nr (suite of message.ike_proposal, DH 31 or 14);
                     N(INVALID_KE_PAYLOAD), N(NO_PROPOSAL_CHOSEN), N(COOKIE) (when ``cookie`` is on),
                     N(UNSUPPORTED_CRITICAL_PAYLOAD)
  IKE_SESSION_RESUME N(TICKET_OPAQUE) opened (ticket.open_value / open_reference, invalid ticket list
                     checked) -> HDR, Nr; any refusal -> unprotected N(TICKET_NACK) (RFC 5723 4.3.2)
  IKE_AUTH           PSK AUTH (RFC 7296 2.15) or, after a resumption, AUTH = prf(SK_pi, ...) in the
                     ``auth_mode`` reading (keys.resume_auth) with IDi/IDr equal to the ticket's;
                     N(TICKET_REQUEST) -> N(TICKET_LT_OPAQUE) (or ACK/NACK by ``ticket_policy``);
                     a Child SA request gets N(NO_PROPOSAL_CHOSEN) (this gateway is IKE-only).
                     A resumed IKE_AUTH whose AUTH checks claims the ticket (one call: ``used.add`` or
                     ``refs.remove`` says whether this call made the claim; a shared store makes it one
                     atomic step), answered only if the claim is its own, else AUTHENTICATION_FAILED; the
                     old SA is silently deleted (RFC 5723 4.3.4).
  INFORMATIONAL      Delete (tickets of that SA revoked, 6.2 / 9.8), TICKET_REQUEST, liveness.
  CREATE_CHILD_SA    IKE SA rekey (RFC 7296 2.18): SA(IKE, SPIi), Ni, KE -> SA(new SPIr), Nr, KE; the new
                     SA takes over, the old SA's tickets are revoked (RFC 5723 6.2), N(TICKET_REQUEST) gets a
                     ticket for the NEW SA; the initiator deletes the old SA. A Child SA -> N(NO_ADDITIONAL_SAS).
Ticket lifetime = min(IKE SA lifetime, re-authentication time) - always finite (RFC 5723 section 6.2).

``refs`` and ``used`` (default: ticket.RefStore, ticket.UsedTickets in this process) may be stores shared by a
fleet of gateways (microticket.fleet.redis_ike): they do I/O, as the key ring may, injected like it. A store
that cannot answer raises TicketRejected from ``get``/``in``/``put`` (TICKET_NACK, no ticket issued by
reference) and answers False from ``add``/``remove`` (no claim): resumption fails closed.
"""

from micropython import const
from microticket import crypto
from microticket.errors import DecodeError, IkeNotifyError, TicketRejected

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_AUTHENTICATION_FAILED = const(24)
_AUTH_PSK = const(2)
_CHILDLESS_IKEV2_SUPPORTED = const(16418)
_COOKIE = const(16390)
_CREATE_CHILD_SA = const(36)
_FLAG_R = const(32)
_IKE_AUTH = const(35)
_IKE_SA_INIT = const(34)
_IKE_SESSION_RESUME = const(38)
_INFORMATIONAL = const(37)
_INVALID_KE_PAYLOAD = const(17)
_INVALID_MAJOR_VERSION = const(5)
_INVALID_SYNTAX = const(7)
_NO_ADDITIONAL_SAS = const(35)
_NO_PROPOSAL_CHOSEN = const(14)
_PROTO_IKE = const(1)
_PT_AUTH = const(39)
_PT_CERT = const(37)
_PT_DELETE = const(42)
_PT_IDI = const(35)
_PT_IDR = const(36)
_PT_KE = const(34)
_PT_NONCE = const(40)
_PT_NOTIFY = const(41)
_PT_SA = const(33)
_TICKET_ACK = const(16411)
_TICKET_LT_OPAQUE = const(16409)
_TICKET_NACK = const(16412)
_TICKET_OPAQUE = const(16413)
_TICKET_REQUEST = const(16410)
from microticket.ike import message as M
from microticket.ike import keys as K
from microticket.ike import dh
from microticket.ike import payloads as P
from microticket.ike import keys_full as F
from microticket.ike import rekey as R
from microticket.ike import ticket as T
from microticket.ike.initiator import make_id

_MARKER = b"\x00\x00\x00\x00"  # RFC 3948 non-ESP marker

HALF_OPEN = const(1)
ESTABLISHED = const(2)

_NONCE_LEN = const(32)
_MAX_EVENTS = const(64)


class _Sa:
    def __init__(self, spi_i, spi_r, peer, now):
        self.spi_i = spi_i
        self.spi_r = spi_r
        self.peer = peer
        self.created = now
        self.state = HALF_OPEN
        self.next_id = 1  # next request Message ID expected
        self.last_resp = None  # (msg_id, datagram) cache for retransmitted requests
        self.resumed = None  # TicketState when created by IKE_SESSION_RESUME
        self.resumed_token = None
        self.resumed_ref = None
        self.tokens = []  # tickets issued for this SA (by-value tokens or by-reference refs)
        self.inflight = None  # the token of the ticket this half-open SA resumes with (Gateway._inflight)
        self.auth_time = now
        self.idi = None
        self.idr = None
        self.marker = False


class Gateway:
    def __init__(self, psk, idr, ring=None, tickets="value", rng=None, lifetime=3600, reauth=None,
                 cookie=None, auth_mode=None, groups=(31, 14), max_sas=64, ref_capacity=64,
                 ticket_policy="issue", psks=None, resume="accept", max_half=None, cookie_threshold=8,
                 half_open_timeout=30, refs=None, used=None, used_capacity=512):
        if tickets not in ("value", "reference"):
            raise ValueError("tickets must be 'value' or 'reference'")
        if lifetime <= 0 or (reauth is not None and reauth <= 0):
            raise ValueError("ticket lifetime must be finite and positive")
        self.psk = psk
        self.psks = psks or {}  # IDi payload body -> PSK, overrides ``psk``
        t, d = make_id(idr)
        self.idr_body = M.id_body(t, d)
        self.ring = ring
        self.mode = tickets
        self.rng = rng or crypto.urandom
        self.lifetime = lifetime
        self.reauth = reauth
        # RFC 7296 section 2.6: COOKIEs always (True), never (False), or (None, the default) while the
        # half-open SAs number ``cookie_threshold`` or more; half-open SAs are at most ``max_half`` (the oldest
        # goes first) and expire after ``half_open_timeout`` seconds
        self.cookie = cookie
        self.cookie_threshold = cookie_threshold
        self.max_half = max_half or max(1, max_sas // 2)
        self.half_open_timeout = half_open_timeout
        self._cookies_on = False
        self._swept = 0
        self._inflight = {}  # ticket token -> SPIr of the one half-open SA resuming with that ticket
        # the readings of a resumed AUTH accepted (keys.resume_auth): both by default, the deployed gateways'
        # (AUTH_MESSAGE) first; the response's AUTH is computed in the reading the initiator's matched
        self.auth_modes = (K.AUTH_MESSAGE, K.AUTH_SIGNED) if auth_mode is None else (auth_mode,)
        if resume not in ("accept", "nack", "drop"):
            raise ValueError("resume must be 'accept', 'nack' or 'drop'")
        self.resume = resume  # IKE_SESSION_RESUME: answered, refused with TICKET_NACK, or dropped (no RFC 5723)
        self.groups = groups
        self.max_sas = max_sas
        self.ticket_policy = ticket_policy
        self.max_ticket_life = lifetime if reauth is None else min(lifetime, reauth)
        self.refs = T.RefStore(ref_capacity) if refs is None else refs  # (an empty RefStore is falsy)
        # the one-time-use list: sized for ``used_capacity`` tickets used per ticket lifetime (a board's
        # default, 1 KB a generation; tools and servers size it to their load: ike-gateway on CPython)
        self.used = T.UsedTickets(self.max_ticket_life, capacity=used_capacity) if used is None else used
        self._cookie_secret = self.rng(32)
        self._sas = {}  # SPIr -> _Sa
        self._order = []  # SPIr, oldest first
        self._half = {}  # (SPIi, peer) -> _Sa for retransmitted first messages
        self._ev = []
        self.dropped = 0

    def _event(self, ev):
        if len(self._ev) >= _MAX_EVENTS:  # bounded if the caller never drains them
            self._ev.pop(0)
        self._ev.append(ev)

    def events(self):
        ev = self._ev
        self._ev = []
        return ev

    def sa_count(self):
        return len(self._sas)

    # ---- entry point ------------------------------------------------------------------------------
    def handle(self, data, now, peer=b""):
        data, marker = P.strip_marker(data)
        try:
            out = self._handle(data, now, peer)
        except IkeNotifyError as e:
            # RFC 7296 section 2.5: another major version -> unauthenticated INVALID_MAJOR_VERSION to an
            # IKE_SA_INIT request; otherwise dropped
            out = None
            if e.notify_type == _INVALID_MAJOR_VERSION and data[18] == _IKE_SA_INIT and not data[19] & _FLAG_R:
                out = M.encode(bytes(data[:8]), bytes(8), _IKE_SA_INIT, _FLAG_R, 0,
                               [(_PT_NOTIFY, M.notify_body(_INVALID_MAJOR_VERSION))])
            else:
                self.dropped += 1
                self._event(("dropped", str(e)))
        except (DecodeError, TicketRejected) as e:
            self.dropped += 1
            self._event(("dropped", str(e)))
            return []
        if out is None:
            return []
        return [_MARKER + out if marker else out]

    def _handle(self, data, now, peer):
        m = M.decode_header(data)
        if m.is_response() or not m.is_initiator():
            raise DecodeError("not a request from an original initiator")
        if m.exch in (_IKE_SA_INIT, _IKE_SESSION_RESUME):
            if m.spi_r != bytes(8) or m.msg_id != 0:
                raise DecodeError("first message with SPIr or Message ID set")
            again = self._half.get((m.spi_i, peer))
            if again is not None and again.last_resp is not None and again.state == HALF_OPEN:
                return again.last_resp[1]
            self._expire(now)
            try:
                M.decode_payloads(m)
            except IkeNotifyError as e:
                return self._plain_notify(m, e.notify_type, bytes((getattr(e, "payload_type", 0),)))
            if m.exch == _IKE_SA_INIT:
                return self._on_init(m, now, peer)
            return self._on_resume(m, now, peer)
        sa = self._sas.get(m.spi_r)
        if sa is None or sa.spi_i != m.spi_i:
            raise DecodeError("unknown IKE SA")
        if sa.last_resp is not None and m.msg_id == sa.last_resp[0]:
            return sa.last_resp[1]
        if m.msg_id != sa.next_id:
            raise DecodeError("unexpected Message ID")
        M.decode_payloads(m)
        try:
            inner = K.unprotect(sa.keys, m, True)
        except IkeNotifyError as e:
            return self._reply(sa, m, [(_PT_NOTIFY, M.notify_body(e.notify_type,
                                                                  bytes((getattr(e, "payload_type", 0),))))])
        m.payloads = inner
        if m.exch == _IKE_AUTH and sa.state == HALF_OPEN:
            return self._on_auth(sa, m, now)
        if sa.state != ESTABLISHED:
            raise DecodeError("exchange before IKE_AUTH")
        if m.exch == _INFORMATIONAL:
            return self._on_info(sa, m, now)
        if m.exch == _CREATE_CHILD_SA:
            return self._on_rekey(sa, m, now)
        raise DecodeError("unsupported exchange")

    # ---- helpers ----------------------------------------------------------------------------------
    def _plain_notify(self, m, ntype, data=b""):
        """An unprotected error/status response to a first message (SPIr = 0)."""
        return M.encode(m.spi_i, bytes(8), m.exch, _FLAG_R, 0, [(_PT_NOTIFY, M.notify_body(ntype, data))])

    def _cookie_value(self, m, peer):
        ni = m.get(_PT_NONCE) or b""
        return b"\x01" + crypto.Hmac(self._cookie_secret).mac(ni, peer, m.spi_i)[:16]

    def _expire(self, now):
        """Half-open SAs older than half_open_timeout go (looked for at most once a second)."""
        if now - self._swept < 1:
            return
        self._swept = now
        for sa in [sa for sa in self._half.values() if now - sa.created >= self.half_open_timeout]:
            self._drop_sa(sa.spi_r)
            self._event(("half_open_expired", sa.spi_r.hex()))

    def _cookie_ok(self, m, peer):
        """RFC 7296 section 2.6: N(COOKIE) must be the first payload and match, when COOKIEs are on: always
        (cookie=True) or, by default, while the half-open SAs number cookie_threshold or more (events
        ("cookies", "on"|"off", half-open count) when that changes)."""
        on = self.cookie
        if on is None:
            on = len(self._half) >= self.cookie_threshold
            if on != self._cookies_on:
                self._cookies_on = on
                self._event(("cookies", "on" if on else "off", len(self._half)))
        if not on:
            return True
        if not m.payloads or m.payloads[0][0] != _PT_NOTIFY:
            return False
        proto, spi, t, data = P.parse_notify(m.payloads[0][2])
        return t == _COOKIE and crypto.ct_equal(data, self._cookie_value(m, peer))

    def _new_sa(self, m, peer, now):
        # bounded tables: half-open SAs at most max_half (a flood of first messages pushes out the oldest
        # half-open ones, never an established SA), max_sas SAs in all (a table full of established SAs
        # gives up its oldest one: not an exchange in flight while half-open SAs are within their bound)
        while self._order and (len(self._order) >= self.max_sas or len(self._half) >= self.max_half):
            half = len(self._half) >= self.max_half
            victim = self._order[0]
            for spi in self._order:
                if (self._sas[spi].state == HALF_OPEN) == half:
                    victim = spi
                    break
            self._drop_sa(victim)
        spi_r = self.rng(8)
        sa = _Sa(m.spi_i, spi_r, peer, now)
        self._sas[spi_r] = sa
        self._order.append(spi_r)
        self._half[(m.spi_i, peer)] = sa
        return sa

    def _drop_sa(self, spi_r):
        sa = self._sas.pop(spi_r, None)
        if spi_r in self._order:
            self._order.remove(spi_r)
        if sa is not None:
            if self._half.get((sa.spi_i, sa.peer)) is sa:
                self._half.pop((sa.spi_i, sa.peer))
            if sa.inflight is not None:
                self._inflight.pop(sa.inflight, None)
        return sa

    def _reply(self, sa, m, inner):
        raw = K.protect(sa.keys, False, sa.spi_i, sa.spi_r, m.exch, _FLAG_R, m.msg_id, inner, self.rng)
        sa.last_resp = (m.msg_id, raw)
        sa.next_id = m.msg_id + 1
        return raw

    # ---- IKE_SA_INIT ------------------------------------------------------------------------------
    def _on_init(self, m, now, peer):
        if not self._cookie_ok(m, peer):
            if self.cookie:  # (an event per COOKIE only when always on: a flood makes no event per datagram)
                self._event(("cookie_sent",))
            return self._plain_notify(m, _COOKIE, self._cookie_value(m, peer))
        sa_p = m.get(_PT_SA)
        ke = m.get(_PT_KE)
        ni = m.get(_PT_NONCE)
        if sa_p is None or ke is None or ni is None or not 16 <= len(ni) <= 256:
            return self._plain_notify(m, _INVALID_SYNTAX)
        try:
            num, offered = P.select_ike_proposal(P.parse_sa(sa_p), self.groups)
        except IkeNotifyError:
            return self._plain_notify(m, _NO_PROPOSAL_CHOSEN)
        group, kdata = P.parse_ke(ke)
        if group not in offered:
            want = offered[0]
            for g in self.groups:
                if g in offered:
                    want = g
                    break
            return self._plain_notify(m, _INVALID_KE_PAYLOAD, bytes((want >> 8, want & 0xFF)))
        priv, pub = dh.keypair(group, self.rng)
        shared = dh.shared(group, priv, kdata)
        sa = self._new_sa(m, peer, now)
        nr = self.rng(_NONCE_LEN)
        sar = P.sa_body([P.ike_proposal((group,))])
        sar_fixed = bytearray(sar)
        sar_fixed[4] = num  # proposal number echoes the one chosen
        sa.sar = bytes(sar_fixed)
        sa.ni = ni
        sa.nr = nr
        sa.keys = K.IkeSaKeys(F.skeyseed_full(ni, nr, shared), ni, nr, m.spi_i, sa.spi_r)
        pl = [(_PT_SA, sa.sar), (_PT_KE, P.ke_body(group, pub)), (_PT_NONCE, nr)]
        if m.notify(_CHILDLESS_IKEV2_SUPPORTED) is not None:
            pl.append((_PT_NOTIFY, M.notify_body(_CHILDLESS_IKEV2_SUPPORTED)))
        raw = M.encode(m.spi_i, sa.spi_r, _IKE_SA_INIT, _FLAG_R, 0, pl)
        sa.req_raw = m.raw
        sa.resp_raw = raw
        sa.last_resp = (0, raw)
        return raw

    # ---- IKE_SESSION_RESUME (RFC 5723 section 4.3.2) ----------------------------------------------
    def _on_resume(self, m, now, peer):
        if self.resume == "drop":
            raise DecodeError("IKE_SESSION_RESUME not answered (resume=drop)")
        if not self._cookie_ok(m, peer):
            if self.cookie:
                self._event(("cookie_sent",))
            return self._plain_notify(m, _COOKIE, self._cookie_value(m, peer))
        ni = m.get(_PT_NONCE)
        tk = m.notify(_TICKET_OPAQUE)
        if ni is None or tk is None or not 16 <= len(ni) <= 256:
            return self._plain_notify(m, _INVALID_SYNTAX)
        try:
            if self.resume == "nack":
                raise TicketRejected("policy")
            st, token, ref = self._open_ticket(tk, now)
        except TicketRejected as e:
            self._event(("ticket_rejected", e.reason))
            return self._plain_notify(m, _TICKET_NACK)
        # the ticket is in flight from now on: one half-open SA at most resumes with it, the latest (a
        # replayed IKE_SESSION_RESUME replaces the one before instead of adding state; refusing it instead
        # would let one replay every half_open_timeout keep the ticket's owner from resuming). It is used
        # only once IKE_AUTH succeeds (RFC 5723 section 4.3.1).
        tok = T.ticket_token(tk)
        if tok in self._inflight:
            self._drop_sa(self._inflight[tok])
            self._event(("resume_replaced",))
        sa = self._new_sa(m, peer, now)
        sa.inflight = tok
        self._inflight[tok] = sa.spi_r
        nr = self.rng(_NONCE_LEN)
        sa.ni = ni
        sa.nr = nr
        sa.sar = st.sa
        sa.resumed = st
        sa.resumed_token = token
        sa.resumed_ref = ref
        sa.auth_time = st.auth_time
        sa.keys = K.IkeSaKeys(K.skeyseed_resume(st.sk_d, ni, nr), ni, nr, m.spi_i, sa.spi_r)
        raw = M.encode(m.spi_i, sa.spi_r, _IKE_SESSION_RESUME, _FLAG_R, 0, [(_PT_NONCE, nr)])
        sa.req_raw = m.raw
        sa.resp_raw = raw
        sa.last_resp = (0, raw)
        return raw

    def _open_ticket(self, tk, now):
        if self.ring is None:
            raise TicketRejected("no-keys")
        if self.mode == "value":
            st = T.open_value(self.ring, tk, now, self.max_ticket_life)
            token = T.ticket_token(tk)
            if token in self.used:
                raise TicketRejected("reused")
            return st, token, None
        st, ref = T.open_reference(self.ring, self.refs, tk, now, self.max_ticket_life)
        return st, None, ref

    # ---- IKE_AUTH ---------------------------------------------------------------------------------
    def _on_auth(self, sa, m, now):
        idi = m.get(_PT_IDI)
        auth = m.get(_PT_AUTH)
        if idi is None or auth is None:
            return self._auth_failed(sa, m)
        meth, got = M.parse_auth(auth)
        idr_req = m.get(_PT_IDR)
        st = sa.resumed
        if st is not None:
            # RFC 5723 section 4.3.3: IDi and IDr must equal the ticket's, and no CERT
            if idi != st.idi or (idr_req is not None and idr_req != st.idr) or m.get(_PT_CERT) is not None:
                return self._auth_failed(sa, m)
            idr = st.idr
            mode = None
            for a in self.auth_modes:
                if crypto.ct_equal(K.resume_auth(a, sa.keys.sk_pi, sa.req_raw, sa.nr, idi), got):
                    mode = a
            # the ticket is used now (RFC 5723 4.3.1): claimed in one call that says whether the claim is
            # this one's (not checked here and marked later: a ticket raced at two gateways sharing the
            # list is accepted by one), only once its AUTH checks (a replayed ticket without SK_d burns none)
            if meth != _AUTH_PSK or mode is None or not (
                    self.used.add(sa.resumed_token, now) if sa.resumed_ref is None else self.refs.remove(sa.resumed_ref)):
                return self._auth_failed(sa, m)
            auth_r = K.resume_auth(mode, sa.keys.sk_pr, sa.resp_raw, sa.ni, idr)
        else:
            if idr_req is not None and idr_req != self.idr_body:
                return self._auth_failed(sa, m)
            psk = self.psks.get(idi, self.psk)
            if psk is None:
                return self._auth_failed(sa, m)
            idr = self.idr_body
            want = F.psk_auth(psk, sa.req_raw, sa.nr, sa.keys.sk_pi, idi)
            if meth != _AUTH_PSK or not crypto.ct_equal(want, got):
                return self._auth_failed(sa, m)
            auth_r = F.psk_auth(psk, sa.resp_raw, sa.ni, sa.keys.sk_pr, idr)
        sa.idi = idi
        sa.idr = idr
        sa.state = ESTABLISHED
        self._half.pop((sa.spi_i, sa.peer), None)
        if sa.inflight is not None:
            self._inflight.pop(sa.inflight, None)
            sa.inflight = None
        sa.req_raw = sa.resp_raw = None
        if st is not None:
            # the SA the ticket came from goes silently (4.3.4)
            old = self._sas.get(st.spi_r)
            if old is not None and old.spi_i == st.spi_i and old is not sa:
                self._drop_sa(st.spi_r)
                self._event(("replaced", st.spi_r.hex()))
        out = [(_PT_IDR, idr), (_PT_AUTH, M.auth_body(_AUTH_PSK, auth_r))]
        if m.get(_PT_SA) is not None:
            out.append((_PT_NOTIFY, M.notify_body(_NO_PROPOSAL_CHOSEN)))
        if m.notify(_TICKET_REQUEST) is not None:
            out.append(self._ticket_notify(sa, now))
        # (a resumed SA's event names the reading of the resumed AUTH that the initiator used)
        self._event(("established", "full", idi[4:]) if st is None else ("established", "resumed", idi[4:], mode))
        return self._reply(sa, m, out)

    def _auth_failed(self, sa, m):
        raw = self._reply(sa, m, [(_PT_NOTIFY, M.notify_body(_AUTHENTICATION_FAILED))])
        self._drop_sa(sa.spi_r)
        self._event(("auth_failed",))
        return raw

    def _ticket_notify(self, sa, now):
        pol = self.ticket_policy
        if pol == "ack":
            return (_PT_NOTIFY, M.notify_body(_TICKET_ACK))
        if pol == "nack" or self.ring is None:
            return (_PT_NOTIFY, M.notify_body(_TICKET_NACK))
        now_i = int(now)
        exp = now_i + self.lifetime
        if self.reauth is not None and sa.auth_time + self.reauth < exp:
            exp = int(sa.auth_time) + self.reauth
        life = exp - now_i
        if life <= 0:
            return (_PT_NOTIFY, M.notify_body(_TICKET_NACK))
        st = T.TicketState(sa.idi, sa.idr, sa.spi_i, sa.spi_r, sa.sar, sa.keys.sk_d, _AUTH_PSK, exp,
                           int(sa.auth_time))
        if self.mode == "value":
            tk = T.seal_value(self.ring, st, self.rng)
            sa.tokens.append(T.ticket_token(tk))
        else:
            try:
                tk = T.seal_reference(self.ring, self.refs, st, self.rng)
            except TicketRejected as e:  # a shared store that cannot hold the state now
                self._event(("ticket_rejected", e.reason))
                return (_PT_NOTIFY, M.notify_body(_TICKET_NACK))
            sa.tokens.append(bytes(tk[13:13 + T.REF_LEN]))
        if len(sa.tokens) > 4:
            sa.tokens.pop(0)
        self._event(("ticket_issued", self.mode, life))
        data = bytes(((life >> 24) & 0xFF, (life >> 16) & 0xFF, (life >> 8) & 0xFF, life & 0xFF)) + tk
        return (_PT_NOTIFY, M.notify_body(_TICKET_LT_OPAQUE, data))

    # ---- CREATE_CHILD_SA: IKE SA rekey (RFC 7296 sections 1.3.2, 2.18) -----------------------------
    def _on_rekey(self, sa, m, now):
        """SA(IKE, new SPIi), Ni, KE -> SA(our new SPIr), Nr, KE [, N(TICKET_LT_OPAQUE) for the NEW SA]. The
        new SA takes over (the initiator deletes the old one); the old SA's tickets are revoked (RFC 5723
        section 6.2). A Child SA request gets N(NO_ADDITIONAL_SAS)."""
        sa_p = m.get(_PT_SA)
        ni = m.get(_PT_NONCE)
        ke = m.get(_PT_KE)
        props = P.parse_sa(sa_p) if sa_p is not None else ()
        if not props or props[0][1] != _PROTO_IKE or ni is None or ke is None:
            return self._reply(sa, m, [(_PT_NOTIFY, M.notify_body(_NO_ADDITIONAL_SAS))])
        if not 16 <= len(ni) <= 256:
            return self._reply(sa, m, [(_PT_NOTIFY, M.notify_body(_INVALID_SYNTAX))])
        try:
            num, spi_i, group, kdata = R.select_rekey(props, ke, self.groups)
        except IkeNotifyError as e:
            return self._reply(sa, m, [(_PT_NOTIFY, M.notify_body(e.notify_type, getattr(e, "data", b"")))])
        priv, pub = dh.keypair(group, self.rng)
        g = dh.shared(group, priv, kdata)
        nr = self.rng(_NONCE_LEN)
        # the new SA (not counted as half-open: it is authenticated by the old one)
        while len(self._order) >= self.max_sas:
            self._drop_sa(self._order[0] if self._order[0] != sa.spi_r else self._order[-1])
        spi_r = self.rng(8)
        new = _Sa(spi_i, spi_r, sa.peer, now)
        new.state = ESTABLISHED
        new.next_id = 0
        new.idi = sa.idi
        new.idr = sa.idr
        new.auth_time = sa.auth_time  # a rekey is no re-authentication (RFC 7296 section 2.8)
        new.marker = sa.marker
        new.sar = R.answer_sa(num, group, b"")
        new.keys = K.IkeSaKeys(R.skeyseed_rekey(sa.keys.sk_d, g, ni, nr), ni, nr, spi_i, spi_r)
        self._sas[spi_r] = new
        self._order.append(spi_r)
        self._revoke(sa, now)
        out = [(_PT_SA, R.answer_sa(num, group, spi_r)), (_PT_NONCE, nr), (_PT_KE, P.ke_body(group, pub))]
        if m.notify(_TICKET_REQUEST) is not None:
            out.append(self._ticket_notify(new, now))
        self._event(("rekeyed", sa.spi_r.hex(), spi_r.hex()))
        return self._reply(sa, m, out)

    # ---- INFORMATIONAL ----------------------------------------------------------------------------
    def _on_info(self, sa, m, now):
        out = []
        closing = False
        for p in m.payloads:
            if p[0] == _PT_DELETE and P.parse_delete(p[2])[0] == _PROTO_IKE:
                closing = True
        if not closing and m.notify(_TICKET_REQUEST) is not None:
            out.append(self._ticket_notify(sa, now))
        raw = self._reply(sa, m, out)
        if closing:
            self._revoke(sa, now)
            self._drop_sa(sa.spi_r)
            self._event(("deleted", sa.spi_r.hex()))
        return raw

    def _revoke(self, sa, now):
        """RFC 5723 section 6.2 / 9.8: tickets of a deleted SA must not resume it."""
        for t in sa.tokens:
            if self.mode == "value":
                self.used.add(t, now)
            else:
                self.refs.remove(t)
        sa.tokens = []


# --- blocking UDP service (the ike-gateway command is microticket.cli.ike_gateway) ----------------

def _peer_key(addr):
    if isinstance(addr, tuple):
        try:
            return K.ip4_bytes(addr[0]) + bytes((addr[1] >> 8, addr[1] & 0xFF))
        except ValueError:
            return str(addr).encode()
    return bytes(addr)


def serve(gw, port, host="0.0.0.0", ready=None, stop=None, after=None, sock=None):
    """Answer IKE datagrams on (host, port) forever (or until ``stop()`` is true); ``after()`` runs after
    each datagram (the CLI prints the gateway's events there). ``sock``: a UDP socket already bound (then
    host and port are not used; the ike-gateway command binds its own to learn the port of --port 0)."""
    import socket
    import select
    import time
    s = sock
    if s is None:
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
        s = socket.socket(ai[0], socket.SOCK_DGRAM)
        s.bind(ai[-1])
    if ready is not None:
        ready()
    poller = select.poll()
    poller.register(s, select.POLLIN)
    try:
        while stop is None or not stop():
            if not poller.poll(500):
                continue
            try:
                data, addr = s.recvfrom(M.MAX_MESSAGE)
            except OSError:
                continue
            for d in gw.handle(data, time.time(), _peer_key(addr)):
                try:
                    s.sendto(d, addr)
                except OSError:
                    pass
            if after is not None:
                after()
    finally:
        s.close()
