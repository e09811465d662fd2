"""Sans-IO TLS 1.2 server that resumes sessions from RFC 5077 tickets, and from a small session-ID cache for
clients that send no session_ticket extension.

    cfg = ServerConfig(ring, psk={b"id": key})            # or cert_chain=[der...], key=key (RSA or P-256)
    srv = TlsServer(cfg)
    events = srv.receive_data(bytes_from_client, now)
    sock.send(srv.data_to_send())

Flows (RFC 5077 section 3.1): full handshake issuing a ticket (Figure 1), abbreviated handshake from a
ticket with a fresh ticket (Figure 2), a rejected ticket falling back to a full handshake with a new ticket
(Figure 4), resumption without a new ticket (Figure 3, ``reissue="never"``). The session ID of a full
handshake is empty when the client asked for a ticket; on resumption the client's session ID is echoed
(section 3.4). A client that sends no session_ticket extension (curl and other OpenSSL-based clients) gets
a random session ID whose session the server keeps in its session-ID cache (``ServerConfig.sessions``)
and resumes from it.

The session-ID cache (RFC 5246 section 7.4.1.2): a fixed number of slots given by the board profile or the
command line (0: none), the oldest session replaced when all are taken, a session older than the ticket
lifetime (or ``session_lifetime`` without tickets) not resumed. Its sessions are the StatePlaintext objects
a ticket would seal (microticket.tls.state), so both ways of resuming pass the same checks. In memory only,
shared by the connections of one ServerConfig. It is a list, not a class of its own: [{session ID:
state}, the IDs by slot, the next slot, lifetime] (on a board every name a class brings is an interned
string on the heap for good).
"""

from micropython import const

from microticket import crypto
from microticket.errors import TlsAlert, DecodeError, TicketRejected, MicroticketError
from microticket.tls import engine as M
from microticket.tls.engine import Engine
from microticket.tls.server_hello import server_hello  # (both versions': TLS 1.3's is microticket.tls.codec13's)


_VERSION_TLS12 = const(0x0303)
_HT_NEW_SESSION_TICKET = const(4)
_HT_CLIENT_HELLO = const(1)
_HT_CLIENT_KEY_EXCHANGE = const(16)
_CT_HANDSHAKE = const(22)
_HT_FINISHED = const(20)
_LEVEL_WARNING = const(1)
_INTERNAL_ERROR = const(80)
_UNEXPECTED_MESSAGE = const(10)
_HANDSHAKE_FAILURE = const(40)
_ILLEGAL_PARAMETER = const(47)
_PROTOCOL_VERSION = const(70)
_NO_RENEGOTIATION = const(100)
_EXT_SERVER_NAME = const(0)
_EXT_MAX_FRAGMENT_LENGTH = const(1)
_EXT_SUPPORTED_GROUPS = const(10)
_EXT_EC_POINT_FORMATS = const(11)
_EXT_SIGNATURE_ALGORITHMS = const(13)
_EXT_ALPN = const(16)
_EXT_ENCRYPT_THEN_MAC = const(22)
_EXT_EXTENDED_MASTER_SECRET = const(23)
_EXT_SESSION_TICKET = const(35)
_EXT_RENEGOTIATION_INFO = const(0xFF01)
_SCSV_RENEGOTIATION = const(0x00FF)
_KX_PSK = const(1)  # microticket.tls.engine.KX_*
_KX_ECDHE_PSK = const(2)
_KX_ECDHE_RSA = const(3)
_KX_ECDHE_ECDSA = const(4)
_KX_TLS13 = const(5)
_VERSION_TLS13 = const(0x0304)
_EXT_PRE_SHARED_KEY = const(41)
_EXT_SUPPORTED_VERSIONS = const(43)
_AUTH_ANONYMOUS = const(0)  # microticket.tls.state's client authentication types (no import per handshake)
_AUTH_PSK = const(2)
_SIG_RSA_PKCS1_SHA256 = const(0x0401)
_SIG_ECDSA_SECP256R1_SHA256 = const(0x0403)
_SIG_RSA_PSS_RSAE_SHA256 = const(0x0804)
# the default suites in preference order (2-byte numbers; microticket.tls.engine names them). PSK: the CBC
# suites first (cryptolib and hashlib code: the cheapest on a board), then AEAD. Certificates: AEAD first
# (browsers and Mozilla's configurations offer nothing else but CBC with SHA-1), then CBC.
_PSK_SUITES = const(b"\x00\xae\xc0\x37\x00\xa8\xcc\xac\xcc\xab\xc0\xa8\xc0\xa4")
_TLS13_SUITES = const(b"\x13\x01\x13\x03\x13\x04")  # AES-128-GCM, ChaCha20-Poly1305, AES-128-CCM
_CERT_SUITES = const(b"\xc0\x2b\xc0\x2f\xcc\xa9\xcc\xa8\xc0\x23\xc0\x27\xc0\x09\xc0\x13")
_MAX_PLAINTEXT = const(16384)
_HT_CCS = const(0x100)  # ChangeCipherSpec in the table (microticket.tls.engine)
_ST_OPEN = const(100)

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
    cert_chain     list of DER certificates, leaf first, and ``key``, its private key: RSA
                   (microticket.pk.rsa_sign) for the ECDHE_RSA suites or P-256 (microticket.pk.p256) for
                   ECDHE_ECDSA (microticket.pk.pem.load_private_key reads either)
    suites         preference order; defaults to every suite the credentials allow, TLS 1.3's last (their
                   order among themselves is TLS 1.3's; the TLS 1.2 handshake never picks one). With a TLS
                   1.3 suite the server does TLS 1.3 for clients that offer it (microticket.tls.server13),
                   and TLS 1.2 for the others with the downgrade sentinel (RFC 8446 section 4.1.3); without
                   one (tls-server --max-version 1.2) TLS 1.2 only, no sentinel
    psk_ke         TLS 1.3 resumption and external PSKs without (EC)DHE (psk_ke) when the client offers it
    sessions       slots of the session-ID cache (clients that send no session_ticket extension); 0: none
    issue_tickets  issue a ticket in full handshakes (TLS 1.2: when the client asks with the extension);
                   a number: how many NewSessionTickets follow a TLS 1.3 handshake (True: 1)
    reissue        REISSUE_ALWAYS / REISSUE_RENEW / REISSUE_NEVER on resumption
    accept_rfc4507 accept the double-length SessionTicket encoding of RFC 4507 (RFC 5077 appendix A)
    alpn           the application protocols served (RFC 7301, microticket.tls.alpn), in preference order
                   (e.g. [b"http/1.1"]): a client offering ALPN gets the first of them it offered, or the
                   no_application_protocol alert; None: the extension is ignored
    max_early      (an attribute set after construction, not a keyword: no name of it on a board's paths)
                   TLS 1.3 0-RTT early data taken, in bytes, on single-use tickets (microticket.tls.early13);
                   absent or 0: off (early data a client sends anyway is skipped)
    """

    def __init__(self, ring=None, psk=None, cert_chain=None, key=None, suites=None, issue_tickets=True,
                 reissue=REISSUE_ALWAYS, accept_rfc4507=True, max_fragment=_MAX_PLAINTEXT, keylog=None,
                 hs_cap=0, psk_hint=b"", out_cap=0, sessions=0, session_lifetime=7200, psk_ke=False, alpn=None):
        self.ring = ring
        self.alpn = None
        if alpn:
            from microticket.tls import alpn as a
            a.encode(alpn)  # (names of 1..255 bytes: ValueError otherwise)
            self.alpn = [bytes(x) for x in alpn]
        self.psk_hint = psk_hint
        self.psk = psk or {}
        self.cert_chain = cert_chain or []
        self.key = key
        # the key exchange the certificate's key signs for: an RSA key has PKCS#1 signing, a P-256 key not
        cert_kx = 0
        if self.cert_chain and key is not None:
            cert_kx = _KX_ECDHE_RSA if hasattr(key, "sign_pkcs1_sha256") else _KX_ECDHE_ECDSA
        self.cert_kx = cert_kx
        if suites is None:
            d = (_PSK_SUITES if self.psk else b"") + (_CERT_SUITES if cert_kx else b"") + _TLS13_SUITES
            suites = [(d[i] << 8) | d[i + 1] for i in range(0, len(d), 2)]
            suites = [x for x in suites if M.suite_info(x) & 7 in (_KX_PSK, _KX_ECDHE_PSK, _KX_TLS13, cert_kx)]
        for x in suites:
            k = M.suite_info(x) & 7
            if not k or (k < _KX_ECDHE_RSA and not self.psk) or (_KX_ECDHE_RSA <= k < _KX_TLS13 and k != cert_kx):
                raise ValueError("server: suite 0x%04x needs its credential" % x)
        self.suites = suites
        self.psk_ke = psk_ke
        self.issue_tickets = issue_tickets
        self.reissue = reissue
        self.accept_rfc4507 = accept_rfc4507
        self.max_fragment = max_fragment
        self.keylog = keylog
        # hs_cap bounds an incoming message, a ClientHello with its ticket, post-quantum key shares (1.2 KB
        # for X25519MLKEM768) and many extensions: browsers send 1.8-2 KB, and TLS 1.3 binders add more.
        # 16384 with full-size records, 4096 with a board profile's smaller ones. The buffer is allocated
        # only when a message spans records; a larger message is refused with illegal_parameter (the
        # alert OpenSSL sends for an excessive message size: it is not malformed, only too large for us)
        self.hs_cap = hs_cap or (16384 if max_fragment >= 16384 else 4096)
        # wb_cap: the largest flight the engine composes before framing it, from the credentials' sizes:
        # ServerHello (<= 128 bytes with every extension) | Certificate | ServerKeyExchange (header 4,
        # hint, ECDH params 36, signature) | ServerHelloDone; or ServerHello | NewSessionTicket; or
        # NewSessionTicket | Finished
        first = 128 + 4 + 2 + len(psk_hint) + 69 + 4
        if cert_kx:
            first += 4 + (key.size if cert_kx == _KX_ECDHE_RSA else 72) + 7
            for c in self.cert_chain:
                first += len(c) + 3
        nst = 128 + 10 + (ring.max_ticket if ring is not None else 0) + 16
        self.wb_cap = (first if first > nst else nst) + 64
        # the output buffer; 0: a flight plus one full record (see TlsServer.__init__)
        self.out_cap = out_cap
        self.sessions = None  # the session-ID cache (see the module note)
        if sessions:
            self.sessions = [{}, [None] * sessions, 0, ring.lifetime if ring is not None else session_lifetime]


# --- the server's half of the hello and ticket messages (the client's: microticket.tls.engine) ----------

def parse_client_hello(b):
    """(version, random, session_id, [suites], compression methods, {extension type: bytes}) of the
    ClientHello body ``b``. Duplicate extensions are a decode error."""
    n = len(b)
    if n < 35 or b[34] > 32 or 35 + b[34] + 2 > n:
        raise DecodeError("ClientHello")
    p = 35 + b[34]
    sid = bytes(b[35:p])
    k = (b[p] << 8) | b[p + 1]
    p += 2
    if k < 2 or k & 1 or p + k + 1 > n:
        raise DecodeError("ClientHello")
    suites = [(b[i] << 8) | b[i + 1] for i in range(p, p + k, 2)]
    p += k
    k = b[p]
    if not k or p + 1 + k > n:
        raise DecodeError("ClientHello")
    compression = bytes(b[p + 1:p + 1 + k])
    p += 1 + k
    exts = {}
    if p < n:
        if p + 2 > n or p + 2 + ((b[p] << 8) | b[p + 1]) != n:
            raise DecodeError("ClientHello")
        p += 2
        while p < n:
            if p + 4 > n:
                raise DecodeError("ClientHello")
            t = (b[p] << 8) | b[p + 1]
            k = (b[p + 2] << 8) | b[p + 3]
            p += 4
            if p + k > n or t in exts:
                raise DecodeError("ClientHello")
            exts[t] = bytes(b[p:p + k])
            p += k
    return (b[0] << 8) | b[1], bytes(b[2:34]), sid, suites, compression, exts


def parse_extension(t, d):
    """The value of the hello extension of type ``t`` with data ``d``: server_name (RFC 6066 section 3:
    the host_name, b"" when absent; a second host_name or a byte outside printable ASCII is
    illegal_parameter), max_fragment_length (RFC 6066 section 4: 1..4, illegal_parameter
    otherwise), supported_groups / signature_algorithms (a list of uint16), ec_point_formats (RFC 8422
    section 5.1.2: the formats), renegotiation_info (RFC 5746 section 3.2: renegotiated_connection),
    extended_master_secret / encrypt_then_mac (empty: True); any other type: ``d`` itself."""
    n = len(d)
    if t == _EXT_SERVER_NAME:
        if n < 2 or ((d[0] << 8) | d[1]) != n - 2 or n == 2:
            raise DecodeError("ClientHello")
        p = 2
        name = b""
        while p < n:
            if p + 3 > n:
                raise DecodeError("ClientHello")
            k = (d[p + 1] << 8) | d[p + 2]
            if not k or p + 3 + k > n:
                raise DecodeError("ClientHello")
            if d[p] == 0:
                # one host_name at most, of ASCII letters, digits and punctuation: a NUL, a control byte
                # or a non-ASCII one must never reach a ticket or a log (RFC 6066 section 3)
                if name:
                    raise TlsAlert(_ILLEGAL_PARAMETER, "server_name")
                for i in range(p + 3, p + 3 + k):
                    if not 0x21 <= d[i] <= 0x7E:
                        raise TlsAlert(_ILLEGAL_PARAMETER, "server_name")
                name = bytes(d[p + 3:p + 3 + k])
            p += 3 + k
        return name
    if t == _EXT_MAX_FRAGMENT_LENGTH:
        if n != 1 or not 1 <= d[0] <= 4:
            raise TlsAlert(_ILLEGAL_PARAMETER, "max_fragment_length")
        return d[0]
    if t == _EXT_SUPPORTED_GROUPS or t == _EXT_SIGNATURE_ALGORITHMS:
        if n < 4 or ((d[0] << 8) | d[1]) != n - 2 or n & 1:
            raise DecodeError("ClientHello")
        return [(d[i] << 8) | d[i + 1] for i in range(2, n, 2)]
    if t == _EXT_EC_POINT_FORMATS or t == _EXT_RENEGOTIATION_INFO:
        if not n or d[0] + 1 != n or (t == _EXT_EC_POINT_FORMATS and n < 2):
            raise DecodeError("ClientHello")
        return bytes(d[1:])
    if t == _EXT_EXTENDED_MASTER_SECRET or t == _EXT_ENCRYPT_THEN_MAC:
        if n:
            raise DecodeError("ClientHello")
        return True
    return d


def new_session_ticket(hint, ticket):
    """A NewSessionTicket."""
    k = len(ticket)
    m = bytearray(10 + k)
    m[0] = _HT_NEW_SESSION_TICKET
    m[2] = (6 + k) >> 8
    m[3] = (6 + k) & 0xFF
    for i in range(4):
        m[4 + i] = (hint >> (24 - 8 * i)) & 0xFF
    m[8] = k >> 8
    m[9] = k & 0xFF
    m[10:] = ticket
    return m


class TlsServer(Engine):
    is_client = False

    def __init__(self, config, rng=None, reuse=None):
        """``reuse``: a finished TlsServer of the same config whose buffers this one takes over (none
        allocated; the old one must not be used again)."""
        cfg = config
        mf = cfg.max_fragment
        out_cap = cfg.out_cap or (cfg.wb_cap + mf + 1024)  # a flight plus one full record
        Engine.__init__(self, mf, out_cap, cfg.hs_cap, rng or crypto.urandom, cfg.keylog, reuse)
        wb = reuse._wb if reuse is not None and self.rl is reuse.rl and len(reuse._wb) == cfg.wb_cap else \
            bytearray(cfg.wb_cap)
        self._wb = wb  # the outgoing flight: its messages are sent as one record by _flush
        self._wp = 0
        self.cfg = cfg
        self.state = _S_HELLO
        self.server_name = b""
        self.psk_identity = b""
        self.ticket_offered = False
        self.ticket_rejected = None  # reason of a refused ticket (Figure 4)
        self.ticket_issued = False
        self.group = 0       # the ECDHE group (microticket.tls.ecdhe) and the ServerKeyExchange's signature
        self.sig_scheme = 0  # scheme, chosen with the suite
        self._sid = b""      # the session ID of a full handshake kept in the session-ID cache
        self._issue = False
        self._created = 0
        self._ticket_ext_reply = b""

    def suite_name(self):
        return M.suite_name(self.suite)

    # --- the flight buffer -------------------------------------------------------------------------

    def _queue(self, m):
        """The handshake message ``m`` joins the transcript and the flight (sent by _flush)."""
        if self.trace is not None:
            self.trace.append(("send", m[0]))
        for h in self._th:
            h.update(m)
        p = self._wp
        if p + len(m) > len(self._wb):
            raise TlsAlert(_INTERNAL_ERROR, "flight buffer")
        self._wb[p:p + len(m)] = m
        self._wp = p + len(m)

    def _flush(self):
        if self._wp:
            self.rl.write(_CT_HANDSHAKE, memoryview(self._wb)[0:self._wp])
            self._wp = 0

    def _on_error(self, e):
        self._wp = 0  # a flight half written when the error came is not sent
        Engine._on_error(self, e)

    def _kx_module(self):
        if (M.suite_info(self.suite) & 7) >= _KX_ECDHE_RSA:
            from microticket.tls import kx_ecdhe_cert as kx
        else:
            from microticket.tls import kx_psk as kx
        return kx

    # --- ClientHello -----------------------------------------------------------------------------

    def _on_client_hello(self, t, body):
        ch = parse_client_hello(body)
        version, random, sid, suites, compression, exts = ch
        if version < _VERSION_TLS12:
            raise TlsAlert(_PROTOCOL_VERSION, "TLS 1.2 only")
        if 0 not in compression:
            raise TlsAlert(_ILLEGAL_PARAMETER, "no null compression")
        self.client_random = random
        # RFC 5746 section 3.6: an initial handshake carries the SCSV or an empty renegotiation_info
        secure_reneg = _SCSV_RENEGOTIATION in suites
        ext = parse_extension
        if _EXT_RENEGOTIATION_INFO in exts:
            if ext(_EXT_RENEGOTIATION_INFO, exts[_EXT_RENEGOTIATION_INFO]) != b"":
                raise TlsAlert(_HANDSHAKE_FAILURE, "renegotiation_info not empty")
            secure_reneg = True
        if _EXT_SERVER_NAME in exts:
            self.server_name = ext(_EXT_SERVER_NAME, exts[_EXT_SERVER_NAME])
        mfl = 0
        if _EXT_MAX_FRAGMENT_LENGTH in exts:
            mfl = ext(_EXT_MAX_FRAGMENT_LENGTH, exts[_EXT_MAX_FRAGMENT_LENGTH])
        client_ems = _EXT_EXTENDED_MASTER_SECRET in exts
        if client_ems:
            ext(_EXT_EXTENDED_MASTER_SECRET, exts[_EXT_EXTENDED_MASTER_SECRET])
        if _EXT_ENCRYPT_THEN_MAC in exts:
            self.etm = ext(_EXT_ENCRYPT_THEN_MAC, exts[_EXT_ENCRYPT_THEN_MAC])
        groups = None
        if _EXT_SUPPORTED_GROUPS in exts:
            groups = ext(_EXT_SUPPORTED_GROUPS, exts[_EXT_SUPPORTED_GROUPS])
        sigalgs = None
        if _EXT_SIGNATURE_ALGORITHMS in exts:
            sigalgs = ext(_EXT_SIGNATURE_ALGORITHMS, exts[_EXT_SIGNATURE_ALGORITHMS])
        if _EXT_EC_POINT_FORMATS in exts and 0 not in ext(_EXT_EC_POINT_FORMATS, exts[_EXT_EC_POINT_FORMATS]):
            # RFC 8422 section 5.1.2: the list must hold uncompressed (0)
            raise TlsAlert(_ILLEGAL_PARAMETER, "ec_point_formats without uncompressed")

        # supported_versions (RFC 8446 section 4.2.1): 1.3 when offered, allowed, with a suite both sides
        # have and a way to authenticate (our certificate, or the client's PSK); else 1.2, which must be
        # offered there too. The rest of a 1.3 ClientHello is microticket.tls.codec13's, loaded with
        # microticket.tls.server13 when 1.3 is chosen (a second ClientHello after its HelloRetryRequest
        # comes here too, and must go there).
        cfg = self.cfg
        down = False
        d = exts.get(_EXT_SUPPORTED_VERSIONS)
        if d is not None:
            v = [(d[i] << 8) | d[i + 1] for i in range(1, len(d) - 1, 2)]
            if _VERSION_TLS13 in v:
                for x in cfg.suites:
                    if M.suite_info(x) & 7 == _KX_TLS13:
                        # RFC 8446 section 4.1.3: a 1.3 server negotiating 1.2 says so in its random
                        down = True
                        if x in suites and (cfg.cert_kx or _EXT_PRE_SHARED_KEY in exts):
                            from microticket.tls import server13
                            return server13.client_hello(self, body, ch, mfl, sigalgs)
            if _VERSION_TLS12 not in v:
                raise TlsAlert(_PROTOCOL_VERSION, "no TLS 1.2 in supported_versions")
        if self.state != _S_HELLO:
            raise TlsAlert(_ILLEGAL_PARAMETER, "second ClientHello changed")

        state = None
        cache = self.cfg.sessions
        if _EXT_SESSION_TICKET in exts:
            self.ticket_offered = True
            state = self._open_ticket(exts[_EXT_SESSION_TICKET])
        elif sid and cache is not None:
            state = cache[0].get(sid)
            if state is not None and not 0 <= self.now - state.created <= cache[3]:
                state = None
        if state is not None:
            state = self._check_resumable(state, suites, client_ems)

        self.server_random = self.rl.rng(24) + b"DOWNGRD\x01" if down else self.rl.rng(32)
        ring = self.cfg.ring
        if state is not None:
            self.resumed = True
            self.suite = state.cipher_suite
            self.ems = state.ems
            self.master = bytes(state.master_secret)
            self.psk_identity = bytes(state.identity)
            if not self.server_name:
                self.server_name = bytes(state.server_name)
            r = self.cfg.reissue
            if self.ticket_offered:
                self._created = ring.created
                self._issue = r == REISSUE_ALWAYS or (r == REISSUE_RENEW and ring.should_renew)
            else:  # from the session-ID cache: the client asked for no ticket
                self._created = state.created
        else:
            self.suite = self._choose_suite(suites, groups, sigalgs)
            self.ems = client_ems
            self._created = self.now
            self._issue = self.ticket_offered and self.cfg.issue_tickets and ring is not None
            if not self.ticket_offered and cache is not None:
                self._sid = self.rl.rng(32)
        if M.suite_info(self.suite) >> 3 > 2:
            self.etm = False  # RFC 7366 section 3: not with an AEAD suite
        if mfl:
            rl = self.rl
            rl.max_out = min(rl.max_out, 256 << mfl)
            rl.max_in = min(rl.max_in, 256 << mfl)

        ext = []  # the ServerHello's
        if secure_reneg:
            ext.append((_EXT_RENEGOTIATION_INFO, b"\x00"))
        if self.ems:
            ext.append((_EXT_EXTENDED_MASTER_SECRET, b""))
        if self.etm:
            ext.append((_EXT_ENCRYPT_THEN_MAC, b""))
        if self._issue:
            ext.append((_EXT_SESSION_TICKET, self._ticket_ext_reply))
        if mfl:
            ext.append((_EXT_MAX_FRAGMENT_LENGTH, bytes((mfl,))))
        if not self.resumed and (M.suite_info(self.suite) & 7) != _KX_PSK and _EXT_EC_POINT_FORMATS in exts:
            ext.append((_EXT_EC_POINT_FORMATS, b"\x01\x00"))
        if cfg.alpn and _EXT_ALPN in exts:  # (RFC 7301: in every handshake, a resumption too)
            from microticket.tls import alpn
            alpn.answer(self, exts, ext)
        self._queue(server_hello(self.server_random, sid if self.resumed else self._sid, self.suite, ext))

        if self.resumed:
            self._make_keys()
            if self._issue:
                self._send_ticket()
            self._flush()
            self._send_ccs_finished()
            self.state = _S_R_CCS
            return
        # the ClientHello's objects are done with: the key exchange (a signature) gets their room
        suites = exts = ext = groups = sigalgs = random = None
        self._kx_module().server_flight(self)
        self._queue(b"\x0e\x00\x00\x00")  # ServerHelloDone
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
        from microticket.tls.state import StatePlaintext
        try:
            return StatePlaintext.decode(raw)
        except DecodeError:
            self.ticket_rejected = "malformed"
            return None

    def _check_resumable(self, st, suites, client_ems):
        """RFC 5077 section 3.1 / RFC 7627 section 5.3 / RFC 6066 section 3 conditions for resuming."""
        cfg = self.cfg
        if st.version != _VERSION_TLS12 or st.cipher_suite not in suites or \
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
        if st.auth_type == _AUTH_PSK and bytes(st.identity) not in cfg.psk:
            self.ticket_rejected = "identity"
            return None
        return st

    def _choose_suite(self, offered, groups, sigalgs):
        """The first of our suites the client offered whose key exchange it can do: an ECDHE group both
        sides have (microticket.tls.ecdhe.choose) and, with a certificate, a signature scheme for our key
        (RSA-PSS before PKCS#1 v1.5; a client without signature_algorithms is taken to accept
        rsa_pkcs1_sha256 and ecdsa_secp256r1_sha256: RFC 5246 section 7.4.1.4.1 would assume SHA-1, which
        we do not sign with). Sets self.group and self.sig_scheme."""
        from microticket.tls import ecdhe
        group = ecdhe.choose(groups)
        kx = self.cfg.cert_kx
        scheme = 0
        if kx == _KX_ECDHE_ECDSA:
            if sigalgs is None or _SIG_ECDSA_SECP256R1_SHA256 in sigalgs:
                scheme = _SIG_ECDSA_SECP256R1_SHA256
        elif kx:
            if sigalgs is not None and _SIG_RSA_PSS_RSAE_SHA256 in sigalgs:
                scheme = _SIG_RSA_PSS_RSAE_SHA256
            elif sigalgs is None or _SIG_RSA_PKCS1_SHA256 in sigalgs:
                scheme = _SIG_RSA_PKCS1_SHA256
        for s in self.cfg.suites:
            if s not in offered:
                continue
            k = M.suite_info(s) & 7
            if (k != _KX_PSK and not group) or (k >= _KX_ECDHE_RSA and not scheme) or k == _KX_TLS13:
                continue
            self.group = group
            self.sig_scheme = scheme
            return s
        raise TlsAlert(_HANDSHAKE_FAILURE, "no shared cipher suite")

    def _send_ticket(self):
        """NewSessionTicket (RFC 5077 section 3.3); a zero-length ticket when sealing fails after the
        ServerHello already promised one."""
        ring = self.cfg.ring
        ticket = b""
        hint = 0
        try:
            ticket = ring.seal(self._session().encode(), self.now, self._created)
            hint = ring.lifetime - (self.now - self._created)
            if hint < 0:
                hint = 0
        except (MicroticketError, ValueError):
            ticket = b""
            hint = 0
        self._queue(new_session_ticket(hint, ticket))
        self.ticket_issued = len(ticket) > 0

    def _session(self):
        """The session's StatePlaintext (microticket.tls.state): what a ticket seals and the session-ID
        cache keeps."""
        from microticket.tls.state import StatePlaintext  # with the first ticket
        # the client authenticates with the PSK, or not at all (certificate suites: no client certificates)
        auth = _AUTH_PSK if M.suite_info(self.suite) & 7 < _KX_ECDHE_RSA else _AUTH_ANONYMOUS
        return StatePlaintext(_VERSION_TLS12, self.suite, self.master, auth_type=auth,
                                     identity=self.psk_identity, timestamp=self.now, ems=self.ems,
                                     created=self._created, server_name=self.server_name)

    # --- ClientKeyExchange .. Finished -----------------------------------------------------------

    def _on_client_key_exchange(self, t, body):
        self._make_keys(self._kx_module().server_client_key_exchange(self, body))
        self.state = _S_CCS

    def _on_client_ccs(self, t, body):
        # the engine switches the read state on after this handler
        self.state = _S_FIN if self.state == _S_CCS else _S_R_FIN

    def _on_finished(self, t, body):
        # the engine verified the client's Finished before this handler ran
        if self.state == _S_FIN:
            if self._issue:
                self._send_ticket()
            self._flush()
            self._send_ccs_finished()
            c = self.cfg.sessions
            if self._sid:  # kept in the next slot of the session-ID cache, its former session dropped
                i = c[2]
                old = c[1][i]
                if old is not None:
                    c[0].pop(old, None)
                c[1][i] = self._sid
                c[0][self._sid] = self._session()
                c[2] = (i + 1) % len(c[1])
        self.state = _ST_OPEN
        self.handshake_done = True
        self.events.append(("handshake_done",))

    def _failed(self):
        pass  # a server keeps nothing per client that a failure would have to undo

    def _after_handshake(self, mtype, body):
        if mtype == _HT_CLIENT_HELLO:
            # no renegotiation (RFC 5746 section 4.4 leaves refusing to the server)
            self._alert(_LEVEL_WARNING, _NO_RENEGOTIATION)
            return
        raise TlsAlert(_UNEXPECTED_MESSAGE, "handshake message after the handshake")


# keys: state << 9 | message type (ints: no tuple per entry or per lookup); a missing pair is
# unexpected_message
TlsServer._TABLE = {
    _S_HELLO << 9 | _HT_CLIENT_HELLO: TlsServer._on_client_hello,
    _S_CKE << 9 | _HT_CLIENT_KEY_EXCHANGE: TlsServer._on_client_key_exchange,
    _S_CCS << 9 | _HT_CCS: TlsServer._on_client_ccs,
    _S_FIN << 9 | _HT_FINISHED: TlsServer._on_finished,
    _S_R_CCS << 9 | _HT_CCS: TlsServer._on_client_ccs,
    _S_R_FIN << 9 | _HT_FINISHED: TlsServer._on_finished,
}
