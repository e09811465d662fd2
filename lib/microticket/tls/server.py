"""Sans-IO TLS 1.2 server that resumes sessions from RFC 5077 tickets and keeps no session cache.

    cfg = ServerConfig(ring, psk={b"id": key})            # or cert_chain=[der...], rsa_key=key
    srv = TlsServer(cfg)
    events = srv.receive_data(bytes_from_client, now)
    sock.send(srv.data_to_send())

Flows (RFC 5077 section 3.1): full handshake issuing a ticket (Figure 1), abbreviated handshake from a
ticket with a fresh ticket (Figure 2), a rejected ticket falling back to a full handshake with a new ticket
(Figure 4), resumption without a new ticket (Figure 3, ``reissue="never"``). The session ID of a full
handshake is empty (nothing is cached); on resumption the client's session ID is echoed (section 3.4).
"""

import gc
from micropython import const

from microticket import crypto
from microticket.errors import TlsAlert, DecodeError, TicketRejected, MicroticketError
from microticket.wire import Reader
from microticket.tls import messages as M
from microticket.tls.conn import Connection

F = None  # microticket.tls.msg_full, imported by the first ClientHello
_state = None  # microticket.state, imported by the first ticket issued
# the gc.collect() calls below lay out a MicroPython heap (gc.mem_free exists there only); CPython frees by
# reference counting and gains nothing from a full collection per handshake
_COLLECT = hasattr(gc, "mem_free")

_ST_OPEN = const(100)
_VERSION_TLS12 = const(0x0303)
_HT_CLIENT_HELLO = const(1)
_HT_SERVER_HELLO = const(2)
_HT_SERVER_KEY_EXCHANGE = const(12)
_HT_SERVER_HELLO_DONE = const(14)
_HT_CLIENT_KEY_EXCHANGE = const(16)
_HT_FINISHED = const(20)
_HT_CCS = const(0x100)
_LEVEL_WARNING = const(1)
_UNEXPECTED_MESSAGE = const(10)
_HANDSHAKE_FAILURE = const(40)
_ILLEGAL_PARAMETER = const(47)
_PROTOCOL_VERSION = const(70)
_NO_RENEGOTIATION = const(100)
_UNKNOWN_PSK_IDENTITY = const(115)
_EXT_SERVER_NAME = const(0)
_EXT_MAX_FRAGMENT_LENGTH = const(1)
_EXT_SUPPORTED_GROUPS = const(10)
_EXT_EC_POINT_FORMATS = const(11)
_EXT_SIGNATURE_ALGORITHMS = const(13)
_EXT_ENCRYPT_THEN_MAC = const(22)
_EXT_EXTENDED_MASTER_SECRET = const(23)
_EXT_SESSION_TICKET = const(35)
_EXT_RENEGOTIATION_INFO = const(0xFF01)
_SCSV_RENEGOTIATION = const(0x00FF)
_PSK_WITH_AES_128_CBC_SHA256 = const(0x00AE)
_ECDHE_PSK_WITH_AES_128_CBC_SHA256 = const(0xC037)
_ECDHE_RSA_WITH_AES_128_CBC_SHA256 = const(0xC027)
_GROUP_X25519 = const(29)
_SIG_RSA_PKCS1_SHA256 = const(0x0401)
_MAX_PLAINTEXT = const(16384)

_S_HELLO = const(1)
_S_CKE = const(2)
_S_CCS = const(3)
_S_FIN = const(4)
_S_R_CCS = const(5)
_S_R_FIN = const(6)

REISSUE_ALWAYS = "always"  # a fresh ticket on every resumption (RFC 5077 section 5.8, unlinkability)
REISSUE_RENEW = "renew"    # only when the ticket was sealed under an older key
REISSUE_NEVER = "never"    # Figure 3: resume without a new ticket


class ServerConfig:
    """Settings shared by all connections of one server.

    ring           microticket.ticket.KeyRing that seals and opens tickets (None: never issue)
    psk            {identity bytes: key bytes} for the PSK suites
    psk_hint       psk_identity_hint sent in ServerKeyExchange (RFC 4279 section 2): ECDHE_PSK always sends
                   the field, plain PSK sends a ServerKeyExchange only when the hint is not empty
    cert_chain     list of DER certificates, leaf first, and rsa_key (microticket.rsa) for ECDHE_RSA
    suites         preference order; defaults to every suite the credentials allow
    issue_tickets  issue a ticket in full handshakes (when the client asks with the extension)
    reissue        REISSUE_ALWAYS / REISSUE_RENEW / REISSUE_NEVER on resumption
    accept_rfc4507 accept the double-length SessionTicket encoding of RFC 4507 (RFC 5077 appendix A)
    """

    def __init__(self, ring=None, psk=None, cert_chain=None, rsa_key=None, suites=None, issue_tickets=True,
                 reissue=REISSUE_ALWAYS, accept_rfc4507=True, max_fragment=_MAX_PLAINTEXT, keylog=None,
                 hs_cap=0, psk_hint=b"", out_cap=0):
        self.ring = ring
        self.psk_hint = psk_hint
        self.psk = psk or {}
        self.cert_chain = cert_chain or []
        self.rsa_key = rsa_key
        if suites is None:
            suites = []
            if self.psk:
                suites.append(_PSK_WITH_AES_128_CBC_SHA256)
                suites.append(_ECDHE_PSK_WITH_AES_128_CBC_SHA256)
            if self.cert_chain and rsa_key is not None:
                suites.append(_ECDHE_RSA_WITH_AES_128_CBC_SHA256)
        self.suites = suites
        self.issue_tickets = issue_tickets
        self.reissue = reissue
        self.accept_rfc4507 = accept_rfc4507
        self.max_fragment = max_fragment
        self.keylog = keylog
        # hs_cap bounds an incoming message (a ClientHello with a ticket): 4096, or with smaller records
        # (a board profile) one record's plaintext, the largest ClientHello the record layer takes in one
        # record, but never under 2048 (a client may split a ClientHello over records)
        self.hs_cap = hs_cap or min(4096, max(2048, max_fragment))
        # wb_cap: the largest flight the engine composes before framing it, from the credentials' sizes:
        # ServerHello (<= 128 bytes with every extension) | Certificate | ServerKeyExchange (header 4,
        # hint, ECDH params 36, signature) | ServerHelloDone; or ServerHello | NewSessionTicket; or
        # NewSessionTicket | Finished
        first = 128 + 4 + 2 + len(psk_hint) + 36 + 4
        if rsa_key is not None:
            first += 4 + rsa_key.size + 7
            for c in self.cert_chain:
                first += len(c) + 3
        nst = 128 + 10 + (ring.max_ticket if ring is not None else 0) + 16
        self.wb_cap = (first if first > nst else nst) + 64
        # the output buffer; 0: a flight plus one full record (see Connection)
        self.out_cap = out_cap


class TlsServer(Connection):
    is_client = False

    def __init__(self, config, rng=None, reuse=None):
        # reuse: a finished TlsServer of the same config whose buffers this one takes over
        Connection.__init__(self, rng, config.keylog, config.max_fragment, config.hs_cap, config.wb_cap,
                            config.out_cap, reuse)
        self.cfg = config
        self.state = _S_HELLO
        self.server_name = b""
        self.psk_identity = b""
        self.ticket_offered = False
        self.ticket_rejected = None  # reason of a refused ticket (Figure 4)
        self.ticket_issued = False
        self._issue = False
        self._created = 0
        self._ticket_ext_reply = b""
        self._eph = None

    # --- ClientHello -----------------------------------------------------------------------------

    def _on_client_hello(self, body):
        # the full-handshake codec is imported with the first ClientHello: its code then fills the holes
        # the handshake's short-lived allocations leave (measured: a smaller heap than importing it first)
        global F
        if F is None:
            if _COLLECT:
                gc.collect()  # garbage out of the way first: the module's objects take its holes
            from microticket.tls import msg_full as F
        ch = F.decode_client_hello(Reader(body))
        if ch.version < _VERSION_TLS12:
            raise TlsAlert(_PROTOCOL_VERSION, "TLS 1.2 only")
        if 0 not in ch.compression:
            raise TlsAlert(_ILLEGAL_PARAMETER, "no null compression")
        self.client_random = ch.random
        exts = ch.exts
        # RFC 5746 section 3.6: an initial handshake carries the SCSV or an empty renegotiation_info
        self._secure_reneg = _SCSV_RENEGOTIATION in ch.suites
        if _EXT_RENEGOTIATION_INFO in exts:
            if M.parse_renegotiation_info(exts[_EXT_RENEGOTIATION_INFO]) != b"":
                raise TlsAlert(_HANDSHAKE_FAILURE, "renegotiation_info not empty")
            self._secure_reneg = True
        if _EXT_SERVER_NAME in exts:
            self.server_name = F.parse_server_name(exts[_EXT_SERVER_NAME])
        mfl = 0
        if _EXT_MAX_FRAGMENT_LENGTH in exts:
            try:
                mfl = M.parse_mfl(exts[_EXT_MAX_FRAGMENT_LENGTH])
            except DecodeError:
                raise TlsAlert(_ILLEGAL_PARAMETER, "max_fragment_length")
        client_ems = _EXT_EXTENDED_MASTER_SECRET in exts
        if client_ems:
            M.expect_empty(exts[_EXT_EXTENDED_MASTER_SECRET])
        if _EXT_ENCRYPT_THEN_MAC in exts:
            M.expect_empty(exts[_EXT_ENCRYPT_THEN_MAC])
            self.etm = True
        groups = None
        if _EXT_SUPPORTED_GROUPS in exts:
            groups = F.parse_u16_list(exts[_EXT_SUPPORTED_GROUPS])
        sigalgs = None
        if _EXT_SIGNATURE_ALGORITHMS in exts:
            sigalgs = F.parse_u16_list(exts[_EXT_SIGNATURE_ALGORITHMS])
        if _EXT_EC_POINT_FORMATS in exts:
            F.parse_point_formats(exts[_EXT_EC_POINT_FORMATS])

        state = None
        if _EXT_SESSION_TICKET in exts:
            self.ticket_offered = True
            state = self._open_ticket(exts[_EXT_SESSION_TICKET])
        if state is not None:
            state = self._check_resumable(state, ch, client_ems)

        self.server_random = self.rng(32)
        ring = self.cfg.ring
        if state is not None:
            self.resumed = True
            self.suite = state.cipher_suite
            self.ems = state.ems
            self.master = bytes(state.master_secret)
            self.psk_identity = bytes(state.identity)
            if not self.server_name:
                self.server_name = bytes(state.server_name)
            self._created = ring.created
            r = self.cfg.reissue
            self._issue = r == REISSUE_ALWAYS or (r == REISSUE_RENEW and ring.should_renew)
        else:
            self.suite = self._choose_suite(ch.suites, groups, sigalgs)
            self.ems = client_ems
            self._created = self.now
            self._issue = self.ticket_offered and self.cfg.issue_tickets and ring is not None
        if mfl:
            self._set_max_fragment(256 << mfl)

        # ServerHello
        sh = M.Hello()
        sh.random = self.server_random
        sh.session_id = ch.session_id if self.resumed else b""
        sh.suites = [self.suite]
        ext = []
        if self._secure_reneg:
            ext.append((_EXT_RENEGOTIATION_INFO, b"\x00"))
        if self.ems:
            ext.append((_EXT_EXTENDED_MASTER_SECRET, b""))
        if self.etm:
            ext.append((_EXT_ENCRYPT_THEN_MAC, b""))
        if self._issue:
            ext.append((_EXT_SESSION_TICKET, self._ticket_ext_reply))
        if mfl:
            ext.append((_EXT_MAX_FRAGMENT_LENGTH, bytes((mfl,))))
        if not self.resumed and self.suite != _PSK_WITH_AES_128_CBC_SHA256 and \
                _EXT_EC_POINT_FORMATS in exts:
            ext.append((_EXT_EC_POINT_FORMATS, b"\x01\x00"))
        w = self._w
        s = w.pos
        M.encode_hello(w, _HT_SERVER_HELLO, sh, ext)
        self._msg_done(s)

        if self.resumed:
            self._make_keys()
            if self._issue:
                self._send_ticket()
            self._send_ccs()
            self._send_finished()
            self.state = _S_R_CCS
            return
        # the ClientHello's objects (extensions, suites, ...) are done with: the signature gets their room
        ch = exts = sh = ext = groups = sigalgs = None
        if self.suite == _ECDHE_RSA_WITH_AES_128_CBC_SHA256:
            s = w.pos
            F.encode_certificate(w, self.cfg.cert_chain)
            self._msg_done(s)
        if self.suite != _PSK_WITH_AES_128_CBC_SHA256 or self.cfg.psk_hint:
            self._send_ske()
        s = w.pos
        w.u8(_HT_SERVER_HELLO_DONE)
        w.u24(0)
        self._msg_done(s)
        self._flush()
        self.state = _S_CKE

    def _open_ticket(self, data):
        """The StatePlaintext of an offered ticket, or None (empty, or rejected: Figure 4)."""
        ring = self.cfg.ring
        n = len(data)
        if n == 2 and data[0] == 0 and data[1] == 0 and self.cfg.accept_rfc4507:
            # RFC 5077 appendix A: an empty extension in RFC 4507 encoding; answer the same way
            self._ticket_ext_reply = b"\x00\x00"
            return None
        if n == 0 or ring is None:
            return None
        raw = None
        try:
            # zero-copy: the state is decoded straight from the ring's buffer, before its next use
            raw = ring.state_view(ring.open_into(data, self.now))
        except TicketRejected as e:
            self.ticket_rejected = e.reason
            # RFC 4507 double length: uint16 ticket length inside the extension data. Our tickets start
            # with a 16-byte key name, so a length prefix is told apart by the key name lookup failing.
            if self.cfg.accept_rfc4507 and n > 2 and ((data[0] << 8) | data[1]) == n - 2 and \
                    e.reason in ("unknown-key", "malformed"):
                try:
                    raw = ring.state_view(ring.open_into(data[2:], self.now))
                    self.ticket_rejected = None
                except TicketRejected as e2:
                    self.ticket_rejected = e2.reason
        if raw is None:
            return None
        from microticket.state import StatePlaintext
        try:
            return StatePlaintext.decode(raw)
        except DecodeError:
            self.ticket_rejected = "malformed"
            return None

    def _check_resumable(self, st, ch, client_ems):
        """RFC 5077 section 3.1 / RFC 7627 section 5.3 / RFC 6066 section 3 conditions for resuming."""
        cfg = self.cfg
        if st.version != _VERSION_TLS12 or st.cipher_suite not in ch.suites or \
                st.cipher_suite not in cfg.suites or st.compression != 0:
            self.ticket_rejected = "parameters"
            return None
        if st.ems and not client_ems:
            # RFC 7627 section 5.3: the original session used the extended master secret; abort
            raise TlsAlert(_HANDSHAKE_FAILURE, "resumption without extended_master_secret")
        if client_ems and not st.ems:
            self.ticket_rejected = "ems-mismatch"  # MUST NOT resume: full handshake
            return None
        if st.server_name and self.server_name and bytes(st.server_name) != self.server_name:
            self.ticket_rejected = "server-name"
            return None
        from microticket.state import AUTH_PSK
        if st.auth_type == AUTH_PSK and bytes(st.identity) not in cfg.psk:
            self.ticket_rejected = "identity"
            return None
        return st

    def _choose_suite(self, offered, groups, sigalgs):
        cfg = self.cfg
        for s in cfg.suites:
            if s not in offered:
                continue
            if s != _PSK_WITH_AES_128_CBC_SHA256 and groups is not None and _GROUP_X25519 not in groups:
                continue
            if s == _ECDHE_RSA_WITH_AES_128_CBC_SHA256 and \
                    (sigalgs is None or _SIG_RSA_PKCS1_SHA256 not in sigalgs):
                continue
            return s
        raise TlsAlert(_HANDSHAKE_FAILURE, "no shared cipher suite")

    def _send_ske(self):
        pub = None
        if self.suite != _PSK_WITH_AES_128_CBC_SHA256:
            from microticket import x25519
            self._eph = self.rng(32)
            pub = x25519.x25519_base(self._eph)
        w = self._w
        s = w.pos
        mark = M.begin_handshake(w, _HT_SERVER_KEY_EXCHANGE)
        if self.suite == _PSK_WITH_AES_128_CBC_SHA256:
            w.vec(2, self.cfg.psk_hint)
        elif self.suite == _ECDHE_PSK_WITH_AES_128_CBC_SHA256:
            w.vec(2, self.cfg.psk_hint)
            F.encode_ecdh_params(w, pub)
        else:
            p0 = w.pos
            F.encode_ecdh_params(w, pub)
            h = crypto.hash_new("sha256", self.client_random)
            h.update(self.server_random)
            h.update(self._wv[p0:w.pos])  # the params as they lie in the flight buffer
            digest = h.digest()
            h = pub = None
            # the signature is the handshake's peak: its big-int temporaries need runs of free blocks, so
            # the garbage of the handshake so far is freed first and they start from the lowest holes
            if _COLLECT:
                gc.collect()
            sig = self.cfg.rsa_key.sign_pkcs1_sha256(digest)
            w.u16(_SIG_RSA_PKCS1_SHA256)
            w.vec(2, sig)
        w.end(mark)
        self._msg_done(s)

    def _send_ticket(self):
        """NewSessionTicket (RFC 5077 section 3.3); a zero-length ticket when sealing fails after the
        ServerHello already promised one."""
        global _state
        if _state is None:
            if _COLLECT:
                gc.collect()  # as for msg_full: measured, a smaller minimum heap than importing into garbage
            from microticket import state as _state
        ring = self.cfg.ring
        ticket = b""
        hint = 0
        try:
            # the client authenticates with the PSK, or not at all (ECDHE_RSA without client certificates)
            auth = _state.AUTH_PSK if self.suite != _ECDHE_RSA_WITH_AES_128_CBC_SHA256 else \
                _state.AUTH_ANONYMOUS
            st = _state.StatePlaintext(_VERSION_TLS12, self.suite, self.master, auth_type=auth,
                                       identity=self.psk_identity, timestamp=self.now, ems=self.ems,
                                       created=self._created, server_name=self.server_name)
            ticket = ring.seal(st.encode(), self.now, self._created)
            hint = ring.lifetime - (self.now - self._created)
            if hint < 0:
                hint = 0
        except (MicroticketError, ValueError):
            ticket = b""
            hint = 0
        w = self._w
        s = w.pos
        F.encode_new_session_ticket(w, hint, ticket)
        self._msg_done(s)
        self.ticket_issued = len(ticket) > 0

    # --- ClientKeyExchange .. Finished -----------------------------------------------------------

    def _on_client_key_exchange(self, body):
        r = Reader(body)
        suite = self.suite
        if suite == _PSK_WITH_AES_128_CBC_SHA256:
            ident = F.decode_cke_psk(r)
            psk = self._lookup(ident)
            pms = F.psk_premaster(bytes(len(psk)), psk)
        elif suite == _ECDHE_PSK_WITH_AES_128_CBC_SHA256:
            ident, point = F.decode_cke_ecdhe_psk(r)
            psk = self._lookup(ident)
            pms = F.psk_premaster(self._shared(point), psk)
        else:
            point = F.decode_cke_ecdhe(r)
            pms = self._shared(point)
        self._make_master(pms)
        self._make_keys()
        self.state = _S_CCS

    def _lookup(self, ident):
        psk = self.cfg.psk.get(ident)
        if psk is None:
            raise TlsAlert(_UNKNOWN_PSK_IDENTITY, "unknown PSK identity")
        self.psk_identity = ident
        return psk

    def _shared(self, point):
        from microticket import x25519
        if len(point) != 32:
            raise TlsAlert(_ILLEGAL_PARAMETER, "X25519 point length")
        try:
            z = x25519.x25519_shared(self._eph, point)
        except ValueError:
            raise TlsAlert(_ILLEGAL_PARAMETER, "X25519 shared secret is zero")
        self._eph = None
        return z

    def _on_ccs(self, body):
        self._on_ccs_activate()
        self.state = _S_FIN if self.state == _S_CCS else _S_R_FIN

    def _on_finished(self, body):
        self._check_peer_finished(body)
        if self.state == _S_FIN:
            if self._issue:
                self._send_ticket()
            self._send_ccs()
            self._send_finished()
        self.state = _ST_OPEN
        self.handshake_done = True
        self.events.append(("handshake_done",))

    def _after_handshake(self, mtype, body):
        if mtype == _HT_CLIENT_HELLO:
            # no renegotiation (RFC 5746 section 4.4 leaves refusing to the server)
            self._alert(_LEVEL_WARNING, _NO_RENEGOTIATION)
            return
        raise TlsAlert(_UNEXPECTED_MESSAGE, "handshake message after the handshake")


# keys: state << 9 | message type (ints: no tuple per entry or per lookup)
TlsServer._TABLE = {
    _S_HELLO << 9 | _HT_CLIENT_HELLO: TlsServer._on_client_hello,
    _S_CKE << 9 | _HT_CLIENT_KEY_EXCHANGE: TlsServer._on_client_key_exchange,
    _S_CCS << 9 | _HT_CCS: TlsServer._on_ccs,
    _S_FIN << 9 | _HT_FINISHED: TlsServer._on_finished,
    _S_R_CCS << 9 | _HT_CCS: TlsServer._on_ccs,
    _S_R_FIN << 9 | _HT_FINISHED: TlsServer._on_finished,
}
