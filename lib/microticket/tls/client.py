"""Sans-IO TLS 1.2 client that resumes with RFC 5077 session tickets.

    cli = TlsClient("example:443", psk_identity=b"id", psk=key, cache=TicketCache(path))
    cli.start(now); sock.send(cli.data_to_send())
    events = cli.receive_data(bytes_from_server, now)

Resumption detection (RFC 5077 section 3.4): with a non-empty session ID the server's echo says
"resumed"; with an empty one (``session_id="empty"``) the message after the ServerHello decides:
NewSessionTicket or ChangeCipherSpec means resumed, Certificate / ServerKeyExchange / ServerHelloDone
means a full handshake.

ECDHE_RSA servers are authenticated by pinning: ``pin_sha256`` is the SHA-256 of the server's DER
certificate or of its SubjectPublicKeyInfo. No X.509 path validation is done (out of scope).
"""

from micropython import const

from microticket import crypto
from microticket.errors import TlsAlert, DecodeError
from microticket.wire import Reader
from microticket.tls import const as C
from microticket.tls import messages as M
from microticket.tls.conn import Connection, ST_OPEN, ext_bytes_u16_list
from microticket.tls.cache import CacheEntry

C_SH = const(1)
C_AFTER_SH = const(2)
C_SKE = const(3)
C_SHD = const(4)
C_F_WAIT = const(5)
C_F_CCS = const(6)
C_F_FIN = const(7)
C_R_CCS = const(8)
C_R_FIN = const(9)

_PSK_SUITES = (C.ECDHE_PSK_WITH_AES_128_CBC_SHA256, C.PSK_WITH_AES_128_CBC_SHA256)


class TlsClient(Connection):
    is_client = True

    def __init__(self, server_id, psk_identity=None, psk=None, pin_sha256=None, cache=None, suites=None,
                 server_name=b"", request_ticket=True, session_id="random", max_fragment_length=0,
                 reuse_tickets=True, ems=True, etm=True, rng=None, keylog=None,
                 max_fragment=C.MAX_PLAINTEXT, hs_cap=8192, wb_cap=2560):
        # hs_cap bounds an incoming message (the server's Certificate is the largest); wb_cap the
        # ClientHello with its ticket (the cache keeps tickets up to 2 KB)
        Connection.__init__(self, rng, keylog, max_fragment, hs_cap, wb_cap)
        self.server_id = server_id
        self.psk_identity = psk_identity or b""
        self.psk = psk
        self.pin = pin_sha256
        self.cache = cache
        if suites is None:
            suites = []
            if psk is not None:
                suites.extend(_PSK_SUITES)
            if pin_sha256 is not None:
                suites.append(C.ECDHE_RSA_WITH_AES_128_CBC_SHA256)
        self.suites = suites
        self.server_name = server_name
        self.request_ticket = request_ticket
        self.session_id_mode = session_id
        self.mfl = max_fragment_length
        self.reuse_tickets = reuse_tickets
        self.want_ems = ems
        self.want_etm = etm
        self.offered = None        # the CacheEntry offered in the ClientHello
        self.new_ticket = None     # (hint, ticket) from a NewSessionTicket, kept until Finished verifies
        self.ticket_hint = 0
        self._sid = b""
        self._echoed = False
        self._expect_nst = False
        self._eph = None
        self._server_key = None
        self.cache_error = None

    # --- ClientHello -----------------------------------------------------------------------------

    def start(self, now):
        self.now = now
        self.client_random = self.rng(32)
        entry = None
        if self.cache is not None and self.request_ticket:
            entry = self.cache.get(self.server_id, now)
            if entry is not None and entry.suite not in self.suites:
                entry = None
        self.offered = entry
        ch = M.Hello()
        ch.random = self.client_random
        if entry is not None and self.session_id_mode == "random":
            self._sid = self.rng(32)
        ch.session_id = self._sid
        ch.suites = self.suites
        ext = []
        if self.server_name:
            n = len(self.server_name)
            sni = bytearray(5 + n)
            sni[0] = (n + 3) >> 8
            sni[1] = (n + 3) & 0xFF
            sni[2] = 0
            sni[3] = n >> 8
            sni[4] = n & 0xFF
            sni[5:] = self.server_name
            ext.append((C.EXT_SERVER_NAME, bytes(sni)))
        if self.mfl:
            ext.append((C.EXT_MAX_FRAGMENT_LENGTH, bytes((self.mfl,))))
        if any_ecdhe(self.suites):
            ext.append((C.EXT_SUPPORTED_GROUPS, ext_bytes_u16_list([C.GROUP_X25519])))
            ext.append((C.EXT_EC_POINT_FORMATS, b"\x01\x00"))
        if C.ECDHE_RSA_WITH_AES_128_CBC_SHA256 in self.suites:
            ext.append((C.EXT_SIGNATURE_ALGORITHMS, ext_bytes_u16_list([C.SIG_RSA_PKCS1_SHA256])))
        if self.request_ticket:
            ext.append((C.EXT_SESSION_TICKET, entry.ticket if entry is not None else b""))
        if self.want_etm:
            ext.append((C.EXT_ENCRYPT_THEN_MAC, b""))
        if self.want_ems:
            ext.append((C.EXT_EXTENDED_MASTER_SECRET, b""))
        ext.append((C.EXT_RENEGOTIATION_INFO, b"\x00"))
        self._sent_exts = [t for t, _ in ext]
        w = self._w
        s = w.pos
        M.encode_hello(w, C.HT_CLIENT_HELLO, ch, ext)
        self._msg_done(s)
        self._flush()
        self.state = C_SH

    # --- ServerHello -----------------------------------------------------------------------------

    def _on_server_hello(self, body):
        sh = M.decode_server_hello(Reader(body))
        if sh.version != C.VERSION_TLS12:
            raise TlsAlert(C.PROTOCOL_VERSION, "server version")
        if sh.suites[0] not in self.suites:
            raise TlsAlert(C.ILLEGAL_PARAMETER, "suite not offered")
        if sh.compression != b"\x00":
            raise TlsAlert(C.ILLEGAL_PARAMETER, "compression")
        exts = sh.exts
        for t in exts:
            if t not in self._sent_exts:
                raise TlsAlert(C.UNSUPPORTED_EXTENSION, "extension not offered")
        if C.EXT_RENEGOTIATION_INFO in exts and \
                M.parse_renegotiation_info(exts[C.EXT_RENEGOTIATION_INFO]) != b"":
            raise TlsAlert(C.HANDSHAKE_FAILURE, "renegotiation_info not empty")
        if C.EXT_EXTENDED_MASTER_SECRET in exts:
            M.expect_empty(exts[C.EXT_EXTENDED_MASTER_SECRET])
            self.ems = True
        if C.EXT_ENCRYPT_THEN_MAC in exts:
            M.expect_empty(exts[C.EXT_ENCRYPT_THEN_MAC])
            self.etm = True
        if C.EXT_MAX_FRAGMENT_LENGTH in exts:
            if M.parse_mfl(exts[C.EXT_MAX_FRAGMENT_LENGTH]) != self.mfl:
                raise TlsAlert(C.ILLEGAL_PARAMETER, "max_fragment_length")
            self._set_max_fragment(C.MFL_SIZES[self.mfl])
        if C.EXT_SESSION_TICKET in exts:
            # RFC 5077 section 3.2: the server's extension is empty (RFC 4507 servers may send 00 00)
            d = exts[C.EXT_SESSION_TICKET]
            if d != b"" and d != b"\x00\x00":
                raise TlsAlert(C.DECODE_ERROR, "session_ticket extension in ServerHello")
            self._expect_nst = True
        self.server_random = sh.random
        self.suite = sh.suites[0]
        self._echoed = self.offered is not None and len(self._sid) > 0 and sh.session_id == self._sid
        self.state = C_AFTER_SH

    def _begin_resumed(self):
        """The server accepted the offered ticket: take the cached master secret (RFC 5077 Figure 2)."""
        e = self.offered
        if e is None or (self._sid and not self._echoed):
            raise TlsAlert(C.UNEXPECTED_MESSAGE, "abbreviated handshake without an accepted ticket")
        if self.suite != e.suite:
            raise TlsAlert(C.ILLEGAL_PARAMETER, "resumed suite differs")
        if self.ems != e.ems:
            raise TlsAlert(C.HANDSHAKE_FAILURE, "extended_master_secret changed on resumption")
        self.resumed = True
        self.master = e.master
        self._make_keys()

    def _check_full(self):
        if self._echoed:
            raise TlsAlert(C.UNEXPECTED_MESSAGE, "session ID echoed but full handshake")

    # --- full handshake --------------------------------------------------------------------------

    def _on_certificate(self, body):
        self._check_full()
        if self.suite != C.ECDHE_RSA_WITH_AES_128_CBC_SHA256:
            raise TlsAlert(C.UNEXPECTED_MESSAGE, "Certificate in a PSK suite")
        certs = M.decode_certificate(Reader(body))
        if not certs:
            raise TlsAlert(C.BAD_CERTIFICATE, "empty certificate list")
        from microticket import der, rsa
        leaf = certs[0]
        try:
            spki = der.cert_spki(leaf)
            ok = crypto.ct_equal(crypto.sha256(leaf), self.pin) or \
                crypto.ct_equal(crypto.sha256(spki), self.pin)
            key = rsa.public_key_from_spki_der(spki) if ok else None
        except (DecodeError, ValueError):
            raise TlsAlert(C.BAD_CERTIFICATE, "unparsable certificate")
        if not ok:
            raise TlsAlert(C.BAD_CERTIFICATE, "certificate does not match the pin")
        self._server_key = key
        self.state = C_SKE

    def _on_server_key_exchange(self, body):
        self._check_full()
        r = Reader(body)
        suite = self.suite
        if suite == C.PSK_WITH_AES_128_CBC_SHA256:
            M.decode_ske_psk(r)  # identity hint: ignored (one identity per server)
        elif suite == C.ECDHE_PSK_WITH_AES_128_CBC_SHA256:
            _, group, point = M.decode_ske_ecdhe_psk(r)
            self._peer_point(group, point)
        else:
            if self.state != C_SKE:
                raise TlsAlert(C.UNEXPECTED_MESSAGE, "ServerKeyExchange before Certificate")
            group, point, params, alg, sig = M.decode_ske_ecdhe_rsa(r)
            if alg != C.SIG_RSA_PKCS1_SHA256:
                raise TlsAlert(C.ILLEGAL_PARAMETER, "signature algorithm")
            h = crypto.hash_new("sha256", self.client_random)
            h.update(self.server_random)
            h.update(params)
            if not self._server_key.verify_pkcs1_sha256(h.digest(), sig):
                raise TlsAlert(C.DECRYPT_ERROR, "bad ServerKeyExchange signature")
            self._peer_point(group, point)
        self.state = C_SHD

    def _peer_point(self, group, point):
        if group != C.GROUP_X25519:
            raise TlsAlert(C.ILLEGAL_PARAMETER, "group not offered")
        if len(point) != 32:
            raise TlsAlert(C.ILLEGAL_PARAMETER, "X25519 point length")
        self._server_point = point

    def _on_server_hello_done(self, body):
        self._check_full()
        if len(body):
            raise TlsAlert(C.DECODE_ERROR, "ServerHelloDone not empty")
        suite = self.suite
        if suite != C.PSK_WITH_AES_128_CBC_SHA256 and self.state != C_SHD:
            raise TlsAlert(C.UNEXPECTED_MESSAGE, "ServerHelloDone before ServerKeyExchange")
        w = self._w
        s = w.pos
        mark = M.begin_handshake(w, C.HT_CLIENT_KEY_EXCHANGE)
        if suite == C.PSK_WITH_AES_128_CBC_SHA256:
            w.vec(2, self.psk_identity)
            pms = M.psk_premaster(bytes(len(self.psk)), self.psk)
        else:
            from microticket import x25519
            priv = self.rng(32)
            pub = x25519.x25519_base(priv)
            try:
                z = x25519.x25519_shared(priv, self._server_point)
            except ValueError:
                raise TlsAlert(C.ILLEGAL_PARAMETER, "X25519 shared secret is zero")
            if suite == C.ECDHE_PSK_WITH_AES_128_CBC_SHA256:
                w.vec(2, self.psk_identity)
                pms = M.psk_premaster(z, self.psk)
            else:
                pms = z
            w.vec(1, pub)
        w.end(mark)
        self._msg_done(s)
        self._make_master(pms)
        self._make_keys()
        self._send_ccs()
        self._send_finished()
        self.state = C_F_WAIT

    def _on_new_session_ticket(self, body):
        hint, ticket = M.decode_new_session_ticket(Reader(body))
        if not self._expect_nst:
            raise TlsAlert(C.UNEXPECTED_MESSAGE, "NewSessionTicket without the extension")
        if self.state == C_AFTER_SH:
            self._begin_resumed()
            self.state = C_R_CCS
        else:
            self.state = C_F_CCS
        self.new_ticket = (hint, ticket) if len(ticket) else None
        self.ticket_hint = hint

    def _on_ccs(self, body):
        st = self.state
        if st == C_AFTER_SH:
            if self._expect_nst:
                raise TlsAlert(C.UNEXPECTED_MESSAGE, "NewSessionTicket missing")
            self._begin_resumed()
            st = C_R_CCS
        elif st == C_F_WAIT and self._expect_nst:
            raise TlsAlert(C.UNEXPECTED_MESSAGE, "NewSessionTicket missing")
        self._on_ccs_activate()
        self.state = C_R_FIN if st == C_R_CCS else C_F_FIN

    def _on_finished(self, body):
        self._check_peer_finished(body)
        if self.state == C_R_FIN:
            self._send_ccs()
            self._send_finished()
        self.state = ST_OPEN
        self.handshake_done = True
        self._store_ticket()
        self.events.append(("handshake_done",))

    # --- ticket cache ----------------------------------------------------------------------------

    def _store_ticket(self):
        """RFC 5077 section 3.3: the ticket is valid only now that the server Finished verified."""
        cache = self.cache
        nt = self.new_ticket
        self.ticket_received = nt is not None
        if cache is None:
            return
        # the handshake is complete whatever happens to the cache: a cache that cannot be written
        # (full file system, no memory) only costs the next resumption
        try:
            if nt is not None:
                cache.put(self.server_id, CacheEntry(nt[1], self.master, self.suite, self.ems, self.now,
                                                     nt[0], self.server_name, self.psk_identity))
            elif self.offered is not None and (not self.resumed or not self.reuse_tickets):
                cache.delete(self.server_id)
        except Exception as e:
            self.cache_error = e

    def _failed(self):
        if self.offered is not None and not self.handshake_done and self.cache is not None:
            self.cache.delete(self.server_id)

    def _after_handshake(self, mtype, body):
        if mtype == C.HT_HELLO_REQUEST:
            self._alert(C.LEVEL_WARNING, C.NO_RENEGOTIATION)
            return
        raise TlsAlert(C.UNEXPECTED_MESSAGE, "handshake message after the handshake")


def any_ecdhe(suites):
    for s in suites:
        if s != C.PSK_WITH_AES_128_CBC_SHA256:
            return True
    return False


TlsClient._TABLE = {
    (C_SH, C.HT_SERVER_HELLO): TlsClient._on_server_hello,
    (C_AFTER_SH, C.HT_CERTIFICATE): TlsClient._on_certificate,
    (C_AFTER_SH, C.HT_SERVER_KEY_EXCHANGE): TlsClient._on_server_key_exchange,
    (C_AFTER_SH, C.HT_SERVER_HELLO_DONE): TlsClient._on_server_hello_done,
    (C_AFTER_SH, C.HT_NEW_SESSION_TICKET): TlsClient._on_new_session_ticket,
    (C_AFTER_SH, C.HT_CCS): TlsClient._on_ccs,
    (C_SKE, C.HT_SERVER_KEY_EXCHANGE): TlsClient._on_server_key_exchange,
    (C_SHD, C.HT_SERVER_HELLO_DONE): TlsClient._on_server_hello_done,
    (C_F_WAIT, C.HT_NEW_SESSION_TICKET): TlsClient._on_new_session_ticket,
    (C_F_WAIT, C.HT_CCS): TlsClient._on_ccs,
    (C_F_CCS, C.HT_CCS): TlsClient._on_ccs,
    (C_F_FIN, C.HT_FINISHED): TlsClient._on_finished,
    (C_R_CCS, C.HT_CCS): TlsClient._on_ccs,
    (C_R_FIN, C.HT_FINISHED): TlsClient._on_finished,
}
