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

from microticket.errors import TlsAlert
from microticket.wire import Reader
from microticket.tls.conn import Connection
from microticket.tls import cache as cache_rules

M = None  # microticket.tls.messages, imported by start() (see there)

_ST_OPEN = const(100)
_VERSION_TLS12 = const(0x0303)
_HT_HELLO_REQUEST = const(0)
_HT_CLIENT_HELLO = const(1)
_HT_SERVER_HELLO = const(2)
_HT_NEW_SESSION_TICKET = const(4)
_HT_CERTIFICATE = const(11)
_HT_SERVER_KEY_EXCHANGE = const(12)
_HT_SERVER_HELLO_DONE = const(14)
_HT_CLIENT_KEY_EXCHANGE = const(16)
_HT_FINISHED = const(20)
_HT_CCS = const(0x100)
_LEVEL_WARNING = const(1)
_UNEXPECTED_MESSAGE = const(10)
_HANDSHAKE_FAILURE = const(40)
_BAD_CERTIFICATE = const(42)
_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_DECRYPT_ERROR = const(51)
_PROTOCOL_VERSION = const(70)
_NO_RENEGOTIATION = const(100)
_UNSUPPORTED_EXTENSION = const(110)
_EXT_SERVER_NAME = const(0)
_EXT_MAX_FRAGMENT_LENGTH = const(1)
_EXT_SUPPORTED_GROUPS = const(10)
_EXT_EC_POINT_FORMATS = const(11)
_EXT_SIGNATURE_ALGORITHMS = const(13)
_EXT_ENCRYPT_THEN_MAC = const(22)
_EXT_EXTENDED_MASTER_SECRET = const(23)
_EXT_SESSION_TICKET = const(35)
_EXT_RENEGOTIATION_INFO = const(0xFF01)
_PSK_WITH_AES_128_CBC_SHA256 = const(0x00AE)
_ECDHE_PSK_WITH_AES_128_CBC_SHA256 = const(0xC037)
_ECDHE_RSA_WITH_AES_128_CBC_SHA256 = const(0xC027)
_GROUP_X25519 = const(29)
_SIG_RSA_PKCS1_SHA256 = const(0x0401)
_MAX_PLAINTEXT = const(16384)

_C_SH = const(1)
_C_AFTER_SH = const(2)
_C_SKE = const(3)
_C_SHD = const(4)
_C_F_WAIT = const(5)
_C_F_CCS = const(6)
_C_F_FIN = const(7)
_C_R_CCS = const(8)
_C_R_FIN = const(9)

_PSK_SUITES = (_ECDHE_PSK_WITH_AES_128_CBC_SHA256, _PSK_WITH_AES_128_CBC_SHA256)


class TlsClient(Connection):
    is_client = True

    def __init__(self, server_id, psk_identity=None, psk=None, pin_sha256=None, cache=None, suites=None,
                 server_name=b"", request_ticket=True, session_id="random", max_fragment_length=0,
                 reuse_tickets=True, ems=True, etm=True, rng=None, keylog=None,
                 max_fragment=_MAX_PLAINTEXT, hs_cap=8192, wb_cap=2560, out_cap=0, reuse=None):
        # hs_cap bounds an incoming message (the server's Certificate is the largest); wb_cap the
        # ClientHello with its ticket (the cache keeps tickets up to 2 KB); out_cap the output buffer
        # (default: a flight plus one full record, see Connection). reuse: a finished TlsClient with the
        # same sizes whose buffers this one takes over (a board's reconnect loop allocates none)
        Connection.__init__(self, rng, keylog, max_fragment, hs_cap, wb_cap, out_cap, reuse)
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
                suites.append(_ECDHE_RSA_WITH_AES_128_CBC_SHA256)
        self.suites = suites
        self.server_name = server_name
        self.request_ticket = request_ticket
        self.session_id_mode = session_id
        self.mfl = max_fragment_length
        self.reuse_tickets = reuse_tickets
        self.want_ems = ems
        self.want_etm = etm
        self.offered = None  # the CacheEntry offered in the ClientHello
        self.new_ticket = None  # (hint, ticket) from a NewSessionTicket, kept until Finished verifies
        self.ticket_hint = 0
        self._sid = b""
        self._echoed = False
        self._expect_nst = False
        self._server_key = None
        self.cache_error = None

    # --- ClientHello -----------------------------------------------------------------------------

    def start(self, now):
        # the codec is imported here, after the buffers exist: its code then fills holes in the heap
        # instead of the contiguous room the buffers need (measured: a smaller heap)
        global M
        if M is None:
            from microticket.tls import messages as M
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
            ext.append((_EXT_SERVER_NAME, bytes(sni)))
        if self.mfl:
            ext.append((_EXT_MAX_FRAGMENT_LENGTH, bytes((self.mfl,))))
        if any_ecdhe(self.suites):
            ext.append((_EXT_SUPPORTED_GROUPS, b"\x00\x02\x00\x1d"))  # x25519
            ext.append((_EXT_EC_POINT_FORMATS, b"\x01\x00"))
        if _ECDHE_RSA_WITH_AES_128_CBC_SHA256 in self.suites:
            ext.append((_EXT_SIGNATURE_ALGORITHMS, b"\x00\x02\x04\x01"))  # rsa_pkcs1_sha256
        if self.request_ticket:
            ext.append((_EXT_SESSION_TICKET, entry.ticket if entry is not None else b""))
        if self.want_etm:
            ext.append((_EXT_ENCRYPT_THEN_MAC, b""))
        if self.want_ems:
            ext.append((_EXT_EXTENDED_MASTER_SECRET, b""))
        ext.append((_EXT_RENEGOTIATION_INFO, b"\x00"))
        self._sent_exts = [t for t, _ in ext]
        w = self._w
        s = w.pos
        M.encode_hello(w, _HT_CLIENT_HELLO, ch, ext)
        self._msg_done(s)
        self._flush()
        self.state = _C_SH

    # --- ServerHello -----------------------------------------------------------------------------

    def _on_server_hello(self, body):
        sh = M.decode_server_hello(Reader(body))
        if sh.version != _VERSION_TLS12:
            raise TlsAlert(_PROTOCOL_VERSION, "server version")
        if sh.suites[0] not in self.suites:
            raise TlsAlert(_ILLEGAL_PARAMETER, "suite not offered")
        if sh.compression != b"\x00":
            raise TlsAlert(_ILLEGAL_PARAMETER, "compression")
        exts = sh.exts
        for t in exts:
            if t not in self._sent_exts:
                raise TlsAlert(_UNSUPPORTED_EXTENSION, "extension not offered")
        if _EXT_RENEGOTIATION_INFO in exts and \
                M.parse_renegotiation_info(exts[_EXT_RENEGOTIATION_INFO]) != b"":
            raise TlsAlert(_HANDSHAKE_FAILURE, "renegotiation_info not empty")
        if _EXT_EXTENDED_MASTER_SECRET in exts:
            M.expect_empty(exts[_EXT_EXTENDED_MASTER_SECRET])
            self.ems = True
        if _EXT_ENCRYPT_THEN_MAC in exts:
            M.expect_empty(exts[_EXT_ENCRYPT_THEN_MAC])
            self.etm = True
        if _EXT_MAX_FRAGMENT_LENGTH in exts:
            if M.parse_mfl(exts[_EXT_MAX_FRAGMENT_LENGTH]) != self.mfl:
                raise TlsAlert(_ILLEGAL_PARAMETER, "max_fragment_length")
            self._set_max_fragment(256 << self.mfl)
        if _EXT_SESSION_TICKET in exts:
            # RFC 5077 section 3.2: the server's extension is empty (RFC 4507 servers may send 00 00)
            d = exts[_EXT_SESSION_TICKET]
            if d != b"" and d != b"\x00\x00":
                raise TlsAlert(_DECODE_ERROR, "session_ticket extension in ServerHello")
            self._expect_nst = True
        self.server_random = sh.random
        self.suite = sh.suites[0]
        self._echoed = self.offered is not None and len(self._sid) > 0 and sh.session_id == self._sid
        self.state = _C_AFTER_SH

    def _begin_resumed(self):
        """The server accepted the offered ticket: take the cached master secret (RFC 5077 Figure 2)."""
        e = self.offered
        if e is None or (self._sid and not self._echoed):
            raise TlsAlert(_UNEXPECTED_MESSAGE, "abbreviated handshake without an accepted ticket")
        if self.suite != e.suite:
            raise TlsAlert(_ILLEGAL_PARAMETER, "resumed suite differs")
        if self.ems != e.ems:
            raise TlsAlert(_HANDSHAKE_FAILURE, "extended_master_secret changed on resumption")
        self.resumed = True
        self.master = e.master
        self._make_keys()

    # --- full handshake: microticket.tls.client_full, loaded when the server does not resume ----------

    def _full(self, body):
        from microticket.tls import client_full
        client_full.handle(self, body)

    def _on_new_session_ticket(self, body):
        hint, ticket = M.decode_new_session_ticket(Reader(body))
        if not self._expect_nst:
            raise TlsAlert(_UNEXPECTED_MESSAGE, "NewSessionTicket without the extension")
        if self.state == _C_AFTER_SH:
            self._begin_resumed()
            self.state = _C_R_CCS
        else:
            self.state = _C_F_CCS
        self.new_ticket = (hint, ticket) if len(ticket) else None
        self.ticket_hint = hint

    def _on_ccs(self, body):
        st = self.state
        if st == _C_AFTER_SH:
            if self._expect_nst:
                raise TlsAlert(_UNEXPECTED_MESSAGE, "NewSessionTicket missing")
            self._begin_resumed()
            st = _C_R_CCS
        elif st == _C_F_WAIT and self._expect_nst:
            raise TlsAlert(_UNEXPECTED_MESSAGE, "NewSessionTicket missing")
        self._on_ccs_activate()
        self.state = _C_R_FIN if st == _C_R_CCS else _C_F_FIN

    def _on_finished(self, body):
        self._check_peer_finished(body)
        if self.state == _C_R_FIN:
            self._send_ccs()
            self._send_finished()
        self.state = _ST_OPEN
        self.handshake_done = True
        self._store_ticket()
        self.events.append(("handshake_done",))

    # --- ticket cache ----------------------------------------------------------------------------

    _store_ticket = cache_rules.store_ticket
    _failed = cache_rules.drop_offered

    def _after_handshake(self, mtype, body):
        if mtype == _HT_HELLO_REQUEST:
            self._alert(_LEVEL_WARNING, _NO_RENEGOTIATION)
            return
        raise TlsAlert(_UNEXPECTED_MESSAGE, "handshake message after the handshake")


def any_ecdhe(suites):
    for s in suites:
        if s != _PSK_WITH_AES_128_CBC_SHA256:
            return True
    return False


# keys: state << 9 | message type (ints: no tuple per entry or per lookup)
TlsClient._TABLE = {
    _C_SH << 9 | _HT_SERVER_HELLO: TlsClient._on_server_hello,
    _C_AFTER_SH << 9 | _HT_CERTIFICATE: TlsClient._full,
    _C_AFTER_SH << 9 | _HT_SERVER_KEY_EXCHANGE: TlsClient._full,
    _C_AFTER_SH << 9 | _HT_SERVER_HELLO_DONE: TlsClient._full,
    _C_AFTER_SH << 9 | _HT_NEW_SESSION_TICKET: TlsClient._on_new_session_ticket,
    _C_AFTER_SH << 9 | _HT_CCS: TlsClient._on_ccs,
    _C_SKE << 9 | _HT_SERVER_KEY_EXCHANGE: TlsClient._full,
    _C_SHD << 9 | _HT_SERVER_HELLO_DONE: TlsClient._full,
    _C_F_WAIT << 9 | _HT_NEW_SESSION_TICKET: TlsClient._on_new_session_ticket,
    _C_F_WAIT << 9 | _HT_CCS: TlsClient._on_ccs,
    _C_F_CCS << 9 | _HT_CCS: TlsClient._on_ccs,
    _C_F_FIN << 9 | _HT_FINISHED: TlsClient._on_finished,
    _C_R_CCS << 9 | _HT_CCS: TlsClient._on_ccs,
    _C_R_FIN << 9 | _HT_FINISHED: TlsClient._on_finished,
}
