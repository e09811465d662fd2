"""Sans-IO minimal IKEv2 initiator (RFC 7296 with the RFC 7815 profile) and RFC 5723 session resumption.

The engine never touches a socket, a clock or the OS random source:

    ini = Initiator(psk, "client.example", idr="gw.example", group=31)
    ini.start(now)                      # or start(now) with ticket=<record from TicketStore.take()>
    for d in ini.datagrams(): send(d)    # bytes, non-ESP marker included when marker=True
    ini.receive(datagram, now)          # a datagram from the peer
    ini.on_timer(now)                   # when now >= ini.deadline(): retransmits (RFC 7296 section 2.1)
    for ev in ini.events(): ...         # ("established", "full"|"resumed"), ("ticket", lifetime, record),
                                        # ("ticket_ack",), ("ticket_nack",), ("ticket_none",),
                                        # ("resume_failed", why), ("child_refused", name), ("failed", why),
                                        # ("closed", why), ("ticket_invalidated", why), ("keys", dict)

Exchanges (window size 1, Message IDs counted per direction):
  IKE_SA_INIT     SA(one proposal: AES-CBC-128, PRF-HMAC-SHA2-256, HMAC-SHA2-256-128, DH 14 and/or 31), KE, Ni,
                  [N(NAT_DETECTION_*)], [N(CHILDLESS_IKEV2_SUPPORTED)]; answers N(COOKIE) and
                  N(INVALID_KE_PAYLOAD) by retrying (section 2.6, 1.2)
  IKE_AUTH        SK{IDi, [IDr], AUTH(PSK, section 2.15), [SAi2, TSi, TSr], [N(TICKET_REQUEST)]}; a Child SA
                  error (e.g. NO_PROPOSAL_CHOSEN) leaves the IKE SA up (RFC 7296 section 1.2)
  IKE_SESSION_RESUME  HDR(new SPIi, SPIr=0), [N(COOKIE)], Ni, N(TICKET_OPAQUE), [N(NAT_DETECTION_*)]
                  (RFC 5723 section 4.3.2); N(TICKET_NACK) -> a full exchange with a fresh SPIi
  IKE_AUTH after resumption: IDi/IDr from the ticket record, AUTH = prf(SK_pi, ...) (keys.resume_auth, in the
                  reading ``auth_mode``: given, else the one stored in the ticket record (learned for that
                  peer), else "message", the deployed gateways' reading; see shared/ARCHITECTURE.md),
                  no CERT, a new N(TICKET_REQUEST) (section 4.3.3)
  A failed resumption never strands a board: TICKET_NACK, an error notify, AUTHENTICATION_FAILED or no
                  answer to its first two requests after 3 transmissions (at 0, 1 and 3 rto: given up at 7)
                  -> ("resume_failed", why) and a full exchange in the same run (initiator_full.fallback);
                  after AUTHENTICATION_FAILED the new ticket's record carries the other reading.
  INFORMATIONAL   request_ticket() (section 4.1), delete() (Delete IKE; the ticket is invalidated, 6.2);
                  requests from the responder are answered (liveness, Delete, a Child SA CREATE_CHILD_SA refused
                  with NO_ADDITIONAL_SAS).
  IKE SA rekey    (RFC 7296 sections 1.3.2, 2.18) rekey(): CREATE_CHILD_SA{SA(IKE, new SPIi), Ni, KE,
                  [N(TICKET_REQUEST)]} -> the new SA, ("rekeyed", "ours"), ("ticket_invalidated", "rekeyed")
                  (RFC 5723 6.2), the ticket events of the response, then Delete of the old SA on the old SA
                  -> ("old_sa_deleted",). A rekey the responder initiates is answered (SA with our new SPI, Nr,
                  KE; then ("rekeyed", "peer"), ("ticket_invalidated", "rekeyed") and, with request_ticket, an
                  INFORMATIONAL TICKET_REQUEST on the new SA, RFC 5723 4.1); on that SA the peer is the
                  original initiator (``orig`` False: SPIi is its SPI, our messages have no I flag). Its Delete
                  of the old SA is answered there and does not end the session.

Ticket records are plain dicts (JSON friendly, hex strings) holding every "from the ticket" item of
RFC 5723 section 5: ticket, expires (absolute, in the caller's ``now`` clock), idi/idr (ID payload bodies),
auth (method), suite (encr, keylen, prf, integ), sk_d. The engine never reuses one: start() with a ticket
record consumes it, and an expired record is never presented (section 4.3.1).

Heap: this module holds the resumption path only. IKE_SA_INIT, the Child SA request, the INFORMATIONAL
exchanges, requests from the responder, rekeying and NAT detection payloads are in initiator_full.py (which
loads DH, the payload codecs and the full key schedule), imported on first use and entered through one
function (``_full``), so this module holds no name of theirs (from ROMFS every name is a heap qstr; the qstr pool grows by doubling, ~3.5 KB at a time). Each
buffer is dropped at its last use: the ticket record once the keys are derived, the first request once AUTH
is computed, the answered request and the message AUTH signed once IKE_AUTH completes. The instance's dict is
sized once, in __init__ (defaults that rarely change are class attributes); a received datagram is kept as a
view, not copied. State names for printing: ``consts.STATE_NAMES``.
"""

from micropython import const
from microticket import crypto
from microticket.errors import DecodeError, IkeNotifyError

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_AUTH_HMAC_SHA2_256_128 = const(12)
_AUTH_PSK = const(2)
_AUTHENTICATION_FAILED = const(24)
_CHILDLESS_IKEV2_SUPPORTED = const(16418)
_DH_MODP2048 = const(14)
_DH_CURVE25519 = const(31)
_COOKIE = const(16390)
_CREATE_CHILD_SA = const(36)
_ENCR_AES_CBC = const(12)
_FLAG_I = const(8)
_FLAG_R = const(32)
_ID_FQDN = const(2)
_ID_IPV4_ADDR = const(1)
_ID_RFC822_ADDR = const(3)
_IKE_AUTH = const(35)
_IKE_SA_INIT = const(34)
_IKE_SESSION_RESUME = const(38)
_INFORMATIONAL = const(37)
_INVALID_KE_PAYLOAD = const(17)
_NO_ADDITIONAL_SAS = const(35)
_PRF_HMAC_SHA2_256 = const(5)
_PROTO_IKE = const(1)
_PT_AUTH = const(39)
_PT_DELETE = const(42)
_PT_IDI = const(35)
_PT_IDR = const(36)
_PT_KE = const(34)
_PT_NONCE = const(40)
_PT_NOTIFY = const(41)
_PT_SA = const(33)
_PT_TSI = const(44)
_PT_TSR = const(45)
_TICKET_ACK = const(16411)
_TICKET_LT_OPAQUE = const(16409)
_TICKET_NACK = const(16412)
_TICKET_OPAQUE = const(16413)
_TICKET_REQUEST = const(16410)
from microticket.ike import message as M
from microticket.ike import keys as K

# Child SA errors (RFC 7296 section 1.2, RFC 7815 section 2): the IKE SA itself is up
# NO_PROPOSAL_CHOSEN, SINGLE_PAIR_REQUIRED, NO_ADDITIONAL_SAS, INTERNAL_ADDRESS_FAILURE, FAILED_CP_REQUIRED,
# TS_UNACCEPTABLE, INVALID_SELECTORS


def _name(t):
    from microticket.ike.names import notify_name
    return notify_name(t)


# The steps outside a resumption live in initiator_full.py (the full exchange, INFORMATIONAL exchanges,
# requests from the responder, rekeying, the debug key-dump), loaded on first use (the import points down:
# that module imports nothing of this one) and entered through ONE function, initiator_full.op(n, ...), so
# this module names none of them (every name is a qstr, and the qstr pool grows by doubling).
_OP_INIT_START = const(0)
_OP_INIT_SEND = const(1)
_OP_INIT_RESPONSE = const(2)
_OP_INFO_RESPONSE = const(3)
_OP_INFO_REQUEST = const(4)
_OP_REKEY_REQUEST = const(5)
_OP_PEER_REQUEST = const(6)
_OP_OLD_SA = const(7)
_OP_PSK_AUTH = const(8)
_OP_CHILD_PAYLOADS = const(9)
_OP_DUMP_KEYS = const(10)
_OP_NATD = const(11)
_OP_FALLBACK = const(12)


def _full(n, *args):
    from microticket.ike import initiator_full
    return initiator_full.op(n, *args)


# states
_IDLE = const(0)
INIT_SENT = const(1)
AUTH_SENT = const(2)
_RESUME_SENT = const(3)  # (private: no name in the heap; tests and initiator_full.py use the number)
ESTABLISHED = const(4)
INFO_SENT = const(5)
CLOSED = const(6)
FAILED = const(7)

_MAX_COOKIE_RETRIES = const(3)
_MAX_KE_RETRIES = const(2)
_MAX_TICKET = const(2048)
_RESUME_TRIES = const(3)  # transmissions of a resumption's request before the full exchange (sent at 0, 1, 3 rto)
SUITE = [_ENCR_AES_CBC, 128, _PRF_HMAC_SHA2_256, _AUTH_HMAC_SHA2_256_128]


def make_id(name):
    """(id type, data) for an identity string: dotted IPv4 -> ID_IPV4_ADDR, with '@' -> ID_RFC822_ADDR,
    else ID_FQDN. A (type, bytes) tuple is passed through."""
    if isinstance(name, tuple):
        return name
    try:
        return _ID_IPV4_ADDR, K.ip4_bytes(name)
    except ValueError:
        pass
    if "@" in name:
        return _ID_RFC822_ADDR, name.encode()
    return _ID_FQDN, name.encode()


class Initiator:
    orig = True  # we are the original initiator of the IKE SA (False after a rekey the responder initiated)
    _old = None  # set by initiator_full.py after a rekey: the replaced IKE SA until its Delete is done
    # Defaults as class attributes: an instance's dict holds only what differs (a smaller table in the heap)
    dropped = _cookie_tries = 0
    _cookie = _rt = idr_body = addrs = _auth_i = None
    group = 31
    rng = staticmethod(crypto.urandom)  # (staticmethod: a function as a class attribute would be bound)
    want_ticket = True
    child = marker = debug_keys = False
    auth_mode = K.AUTH_MESSAGE  # the deployed gateways' reading of the resumed AUTH (libreswan 5.2+)
    rto = 1  # seconds (ints: a float constant is a heap object on most ports)
    max_tries = 5

    def __init__(self, psk, idi, idr=None, group=31, groups=None, rng=None, request_ticket=True,
                 child=False, marker=False, addrs=None, auth_mode=None, ticket=None,
                 rto=1, max_tries=5, debug_keys=False):
        self.psk = psk
        t, d = make_id(idi)
        self.idi_body = M.id_body(t, d)
        if idr is not None:
            t, d = make_id(idr)
            self.idr_body = M.id_body(t, d)
        if group != 31:
            self.group = group
        self.groups = groups or ((group,) + tuple([g for g in (_DH_MODP2048, _DH_CURVE25519) if g != group]))
        if group not in self.groups:
            raise ValueError("group not offered")
        if rng is not None:
            self.rng = rng
        # only what differs from the class defaults goes into the instance's dict (it stays one table size
        # smaller through a resumption: a rehash is a new table while the old one is still held). A resuming
        # CLI instance holds 23 attributes: a 23-slot table (368 bytes); one more and it is 29 slots (464).
        if not request_ticket:
            self.want_ticket = False
        if child:
            self.child = child
        if marker:
            self.marker = marker
        if addrs is not None:
            self.addrs = addrs  # (local_ip4, local_port, remote_ip4, remote_port) for NAT detection, or None
        if auth_mode is None and type(ticket) is dict:
            # the reading of the resumed AUTH that this peer took (stored with its ticket); else the default
            auth_mode = ticket.get("auth_mode")
        if auth_mode == K.AUTH_SIGNED:
            self.auth_mode = auth_mode
        if ticket is not None:
            self._rt = ticket  # the record start() presents (it is taken from here: never used twice; start()
            # replaces it with the bytes the exchange needs of it)
        if rto != 1:
            self.rto = rto
        if max_tries != 5:
            self.max_tries = max_tries
        if debug_keys:
            self.debug_keys = debug_keys
        self.state = _IDLE
        self._out = []
        self._ev = []
        # what every exchange sets, created now: the instance's dict reaches its final size here, while the
        # heap is still in one piece, instead of being rehashed (a new table) in the middle of an exchange
        self.spi_i = self.spi_r = self.ni = self.nr = self.keys = self._req = self._deadline = None
        self._init_raw = self._resp_raw = None
        self.new_ticket = None  # the record of a ticket received on this SA
        self.ticket_status = None  # "lifetime" | "ack" | "nack" | "none"
        self.msg_id = self._tries = 0
        self.resumed = False
        # set by initiator_full.py when used: _ke_tries (INVALID_KE_PAYLOAD retries), _dh_priv/_dh_pub, _info,
        # _peer_next/_peer_resp (requests from the responder: next Message ID, our cached response)

    # ---- caller API -------------------------------------------------------------------------------
    def datagrams(self):
        out = self._out
        self._out = []
        return out

    def events(self):
        ev = self._ev
        self._ev = []
        return ev

    def deadline(self):
        return self._deadline

    def start(self, now):
        t = self._rt
        if t is not None:
            self._rt = None
            exp = t.get("expires") if isinstance(t, dict) else None
            why = "ticket_unusable"
            if not isinstance(exp, (int, float)):
                pass
            elif now >= exp:
                # RFC 5723 section 4.3.1: never present a ticket known to be expired
                why = "ticket_expired"
            else:
                # a stored record is only used when every field is present and well formed (a damaged store
                # file must not crash the engine or send garbage)
                try:
                    r = (bytes.fromhex(t["ticket"]), bytes.fromhex(t["sk_d"]), bytes.fromhex(t["idi"]),
                         bytes.fromhex(t["idr"]))
                    if t.get("suite") == SUITE and t.get("auth") == _AUTH_PSK and r[0] and len(r[1]) == 32 \
                            and len(r[2]) >= 4 and len(r[3]) >= 4:
                        why = None
                except (KeyError, ValueError, TypeError, AttributeError):
                    pass
            if why is None:
                self.resumed = True
                # what the exchange needs of the record, as bytes: (ticket, SK_d, IDi body, IDr body); the
                # record (its hex strings, ~1 KB) leaves the heap here, before the first request is built
                self._rt = r
                t = r = None
                self.spi_i = self.rng(8)
                self.spi_r = bytes(8)
                self.ni = self.rng(32)
                if self._cookie_tries:  # (a second start() on this object)
                    self._cookie = None
                    self._cookie_tries = 0
                self.msg_id = 0
                self._send_resume(now)
                return
            self._ev.append((why,))
        _full(_OP_INIT_START, self, now)

    def on_timer(self, now):
        if self._deadline is None or now < self._deadline:
            return
        if self._tries >= (_RESUME_TRIES if self.resumed and self.state < ESTABLISHED else self.max_tries):
            self._fail("timeout", now)  # (a resumption's: a full exchange now, see _fail)
            return
        self._tries += 1
        self._out.append(self._req)
        self._deadline = now + self.rto * (1 << (self._tries - 1))

    def receive(self, data, now):
        try:
            # a received bytes object never changes: the message is a view of it (no copy without the marker)
            # (the RFC 3948 non-ESP marker: a real IKE message never starts with four zero octets)
            keep = type(data) is bytes
            if len(data) >= 4 and not (data[0] | data[1] | data[2] | data[3]):
                data = memoryview(data)[4:] if keep else data[4:]
            m = M.decode_header(data, keep)
            if m.spi_i != self.spi_i:
                if self._old is None:
                    raise DecodeError("not our SA")
                _full(_OP_OLD_SA, self, m, now)
                return
            if not m.is_response():
                _full(_OP_PEER_REQUEST, self, m, now)
                return
            if self._deadline is None or m.msg_id != self.msg_id or m.is_initiator() == self.orig:
                raise DecodeError("unexpected response")
            M.decode_payloads(m)
            st = self.state
            if st == INIT_SENT and m.exch == _IKE_SA_INIT:
                _full(_OP_INIT_RESPONSE, self, m, now)
            elif st == _RESUME_SENT and m.exch == _IKE_SESSION_RESUME:
                self._on_resume(m, now)
            elif st == AUTH_SENT and m.exch == _IKE_AUTH and m.spi_r == self.spi_r:
                self._on_auth(m, now)
            elif st == INFO_SENT and m.spi_r == self.spi_r:  # INFORMATIONAL, or CREATE_CHILD_SA (rekey)
                _full(_OP_INFO_RESPONSE, self, m, now)
            else:
                raise DecodeError("response does not fit the state")
        except (DecodeError, IkeNotifyError):
            # RFC 7296 section 2.21.1: an unauthenticated or malformed response is dropped
            self.dropped += 1

    def request_ticket(self, now):
        """Ask for a ticket in an INFORMATIONAL exchange (RFC 5723 section 4.1)."""
        _full(_OP_INFO_REQUEST, self, "ticket", now)

    def rekey(self, now):
        """Rekey the IKE SA (RFC 7296 section 2.18) with N(TICKET_REQUEST) (RFC 5723 section 4.1); the old
        SA's ticket is invalidated (section 6.2) and the old SA deleted."""
        _full(_OP_REKEY_REQUEST, self, now)

    def delete(self, now):
        """Delete the IKE SA (RFC 7296 section 1.4.1); the ticket of this SA is invalidated (RFC 5723 6.2)."""
        _full(_OP_INFO_REQUEST, self, "delete", now)

    # ---- sending ----------------------------------------------------------------------------------
    def _emit(self, raw):
        # RFC 3948 non-ESP marker; a message built with room for it (a bytearray from encode/protect with
        # pre=4: the resumption path) already has it
        d = b"\x00\x00\x00\x00" + raw if self.marker and type(raw) is bytes else raw
        self._out.append(d)
        return d

    def _request(self, raw, now, state):
        """Send a new request (retransmitted by on_timer) and enter ``state``."""
        d = self._emit(raw)
        if state == INIT_SENT or state == _RESUME_SENT:
            # the RealMessage that AUTH signs: a view of the datagram kept for retransmission, not a copy
            self._init_raw = memoryview(d)[4:] if self.marker else d
        self.state = state
        self._req = d
        self._tries = 1
        self._deadline = now + self.rto

    def _send_resume(self, now):
        pl = []
        if self._cookie is not None:
            pl.append((_PT_NOTIFY, M.notify_body(_COOKIE, self._cookie)))
        pl.append((_PT_NONCE, self.ni))
        pl.append((_PT_NOTIFY, M.notify_body(_TICKET_OPAQUE, self._rt[0])))
        if self.addrs is not None:
            pl.extend(_full(_OP_NATD, self))  # N(NAT_DETECTION_*) (initiator_full.natd)
        self._request(M.encode(self.spi_i, self.spi_r, _IKE_SESSION_RESUME, _FLAG_I, 0, pl, self.marker and 4),
                      now, _RESUME_SENT)

    def _keyed(self, m, nr, skeyseed):
        """The IKE SA keys from SKEYSEED once the first response is accepted."""
        self.spi_r = m.spi_r
        self.nr = nr
        self._resp_raw = m.raw
        self.keys = K.IkeSaKeys(skeyseed, self.ni, nr, self.spi_i, self.spi_r)
        self._deadline = None

    def _send_auth(self, now):
        k = self.keys
        if self.resumed:
            auth = K.resume_auth(self.auth_mode, k.sk_pi, self._init_raw, self.nr, self.idi_body)
        else:
            auth = _full(_OP_PSK_AUTH, self.psk, self._init_raw, self.nr, k.sk_pi, self.idi_body)
        if self.debug_keys:  # (the key dump shows it)
            self._auth_i = auth
        # the first request (and the view of it AUTH signed) is done with: out of the heap before IKE_AUTH
        self._init_raw = self._req = None
        inner = [(_PT_IDI, self.idi_body)]
        if self.idr_body is not None:
            inner.append((_PT_IDR, self.idr_body))
        inner.append((_PT_AUTH, M.auth_body(_AUTH_PSK, auth)))
        if self.child:
            _full(_OP_CHILD_PAYLOADS, self, inner)
        if self.want_ticket:
            inner.append((_PT_NOTIFY, M.notify_body(_TICKET_REQUEST)))
        self.msg_id = 1
        self._request(K.protect(k, True, self.spi_i, self.spi_r, _IKE_AUTH, _FLAG_I, 1, inner, self.rng,
                                self.marker and 4), now, AUTH_SENT)

    # ---- receiving --------------------------------------------------------------------------------
    def _cookie_retry(self, m, now):
        c = m.notify(_COOKIE)
        if c is None:
            return False
        if not 1 <= len(c) <= 64 or self._cookie_tries >= _MAX_COOKIE_RETRIES:
            self._fail("COOKIE", now)
            return True
        self._cookie_tries += 1
        self._cookie = c
        if self.resumed:  # (re)send the first request with the cookie
            self._send_resume(now)
        else:
            _full(_OP_INIT_SEND, self, now)
        return True

    def _on_resume(self, m, now):
        if self._cookie_retry(m, now):
            return
        if m.notify(_TICKET_NACK) is not None:
            # RFC 5723 section 4.3.2: the ticket is refused; run a regular exchange (_fail)
            self._fail(_TICKET_NACK, now)
            return
        err = m.error_notify()
        if err is not None:
            self._fail(err, now)
            return
        nr = m.get(_PT_NONCE)
        if nr is None or m.spi_r == bytes(8) or not 16 <= len(nr) <= 256:
            raise DecodeError("IKE_SESSION_RESUME response lacks Nr")
        t = self._rt
        # the ticket's identities for IKE_AUTH (RFC 5723 section 4.3.3); ours, when they differ, kept for a
        # fallback (_fail) (no tuple in the heap when they are the same, as they are unless --id changed)
        self._rt = None if t[2] == self.idi_body and t[3] == self.idr_body else (self.idi_body, self.idr_body)
        self.idi_body = t[2]
        self.idr_body = t[3]
        self._keyed(m, nr, K.skeyseed_resume(t[1], self.ni, nr))
        t = None  # the ticket's last use: out of the heap before IKE_AUTH
        self._send_auth(now)

    def _on_auth(self, m, now):
        m.payloads = K.unprotect(self.keys, m, False)
        err = m.error_notify()
        auth = m.get(_PT_AUTH)
        if auth is None:
            self._fail("no AUTH" if err is None else err, now)
            return
        idr = m.get(_PT_IDR)
        if idr is None:
            raise DecodeError("IKE_AUTH response lacks IDr")
        if self.idr_body is not None and idr != self.idr_body:
            self._fail("IDr mismatch", now)
            return
        meth, got = M.parse_auth(auth)
        k = self.keys
        if self.resumed:
            want = K.resume_auth(self.auth_mode, k.sk_pr, self._resp_raw, self.ni, idr)
        else:
            want = _full(_OP_PSK_AUTH, self.psk, self._resp_raw, self.ni, k.sk_pr, idr)
        if meth != _AUTH_PSK or not crypto.ct_equal(want, got):
            self._fail(_AUTHENTICATION_FAILED, now)
            return
        self.idr_body = idr
        self._deadline = None
        self.msg_id = 2
        self.state = ESTABLISHED
        if self.debug_keys:
            self._ev.append(("keys", _full(_OP_DUMP_KEYS, k, self._auth_i, got, self.spi_i, self.spi_r)))
        # what only the first two exchanges needed (the messages AUTH signs, the ticket record used, the
        # request now answered)
        self._init_raw = self._resp_raw = self._rt = self._req = None
        if self.debug_keys:
            self._auth_i = None
        if self._cookie is not None:
            self._cookie = None
        self._ev.append(("established", "resumed" if self.resumed else "full"))
        if err is not None and (err == 14 or 34 <= err <= 39):
            self._ev.append(("child_refused", _name(err)))
        if self.want_ticket:
            self._ticket_notifies(m, now)

    def _ticket_notifies(self, m, now):
        lt = m.notify(_TICKET_LT_OPAQUE, 2)  # a view: the ticket is not copied before its hex is made
        if lt is not None and 5 <= len(lt) <= 4 + _MAX_TICKET:
            life = (lt[0] << 24) | (lt[1] << 16) | (lt[2] << 8) | lt[3]
            rec = {"ticket": lt[4:].hex(), "expires": now + life, "lifetime": life,
                   "idi": self.idi_body.hex(), "idr": self.idr_body.hex(), "auth": _AUTH_PSK,
                   "suite": SUITE, "sk_d": self.keys.sk_d.hex(), "auth_mode": self.auth_mode}
            self.new_ticket = rec
            self.ticket_status = "lifetime"
            self._ev.append(("ticket", life, rec))
            return
        if m.notify(_TICKET_ACK) is not None:
            st = "ack"
        elif m.notify(_TICKET_NACK) is not None:
            st = "nack"
        else:
            # e.g. strongSwan: the request is ignored (no RFC 5723 support)
            st = "none"
        self.ticket_status = st
        self._ev.append(("ticket_" + st,))

    def _fail(self, why, now):
        """The exchange failed for ``why`` (text, or a notify type). A resumption never strands a board: when
        it fails (TICKET_NACK, an error notify, AUTHENTICATION_FAILED, no answer) a full exchange starts now
        (initiator_full.fallback: ("resume_failed", why) first)."""
        if self.resumed and self.state < ESTABLISHED:
            _full(_OP_FALLBACK, self, why, now)
            return
        self.state = FAILED
        self._deadline = None
        self._ev.append(("failed", why if type(why) is str else _name(why)))
