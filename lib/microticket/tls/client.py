"""The TLS 1.2 client: one sans-IO engine for every suite, resuming with RFC 5077 session tickets.

    cli = Client("host:443", psk_identity=b"id", psk=key, cache=TicketCache(path))   # PSK suites
    cli = Client("host:443", pin_sha256=pin, cache=cache)                             # ECDHE_RSA, pinned
    cli = Client("host:443", trust=lambda: open("ca.pem", "rb"), server_name=b"host", cache=cache)  # X.509
    cli.start(now); sock.send(cli.data_to_send())
    events = cli.receive_data(bytes_from_server, now)

Flows (RFC 5077 Figures 1-4): full handshakes that ask for a ticket, abbreviated ones that present it; the
session ID rules of section 3.4 (with a random session ID the server's echo says "resumed"; with an empty
one, ``session_id="empty"``, the message after the ServerHello decides: NewSessionTicket or
ChangeCipherSpec means resumed, Certificate / ServerKeyExchange / ServerHelloDone a full handshake).
Extensions: session_ticket, extended_master_secret (RFC 7627: a resumption that changes it is refused),
encrypt_then_mac (RFC 7366), max_fragment_length (RFC 6066), server_name, renegotiation_info (RFC 5746),
supported_groups and ec_point_formats (ECDHE), signature_algorithms (certificate suites).

Tickets: the cache (microticket.tls.cache) is read when the ClientHello is built; what to keep or drop
comes out as events: ("ticket", server_id, entry) once the server Finished verified, ("ticket_drop",
server_id) when a handshake that offered a ticket fails or the server did not replace a ticket it took
(with ``reuse_tickets=False``). The driver applies them (microticket.tls.driver.keep_tickets): the engine
writes no file. ``microticket.tls.engine.suite_name(cli.suite)`` names the suite agreed.

Full handshakes are in modules loaded only when a server does not resume (microticket.tls.kx_psk for
PSK and ECDHE_PSK, microticket.tls.kx_ecdhe_cert for ECDHE_RSA with microticket.tls.auth_pin), so a
resuming board never holds them, nor X25519, RSA or DER. Messages are parsed where they lie in the record
buffer with index arithmetic; the ClientHello, ServerHello and NewSessionTicket codec is in microticket.tls.engine.

Errors: a TlsAlert's message names only where the check failed; its description says which rule (each
distinct text is an object on the heap even from ROMFS, so the texts are shared).
"""

from micropython import const

from microticket import crypto
from microticket import errors  # TlsAlert: created on the first error (microticket.errors)
from microticket.tls.engine import Engine
from microticket.tls import engine  # the hello/ticket codec
from microticket.tls.cache import store_ticket, drop_offered

_HT_HELLO_REQUEST = const(0)
_HT_SERVER_HELLO = const(2)
_HT_NEW_SESSION_TICKET = const(4)
_HT_CERTIFICATE = const(11)
_HT_SERVER_KEY_EXCHANGE = const(12)
_HT_CERTIFICATE_REQUEST = const(13)
_HT_SERVER_HELLO_DONE = const(14)
_HT_FINISHED = const(20)
_LEVEL_WARNING = const(1)
_UNEXPECTED_MESSAGE = const(10)
_HANDSHAKE_FAILURE = const(40)
_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_NO_RENEGOTIATION = const(100)
_KX_ECDHE_PSK = const(2)  # microticket.tls.engine.KX_*
_KX_ECDHE_RSA = const(3)
# the default suites, in preference order, as 2-byte numbers (microticket.tls.engine names them). PSK: the
# CBC suites first, whose record protection is cryptolib and hashlib code (no module a resuming board must
# hold), then the AEAD ones (ChaCha20-Poly1305 for builds without AES). Certificates: AEAD first (what
# Mozilla's configurations leave), ECDSA before RSA (a P-256 signature verifies in a few ms), CBC last.
_PSK_SUITES = const(b"\xc0\x37\x00\xae\xcc\xac\x00\xa8\xcc\xab\xc0\xa8")
_CERT_SUITES = const(b"\xc0\x2b\xc0\x2f\xcc\xa9\xcc\xa8\xc0\x23\xc0\x27\xc0\x09\xc0\x13")
# TLS 1.3 (RFC 8446, offered first when max_version allows it): AES-128-GCM (mandatory), ChaCha20-Poly1305,
# AES-128-CCM (RFC 7925's IoT profile)
_TLS13_SUITES = const(b"\x13\x01\x13\x03\x13\x04")
_KX_TLS13 = const(5)
_VERSION_TLS13 = const(0x0304)
_MAX_PLAINTEXT = const(16384)
_HT_CCS = const(0x100)  # ChangeCipherSpec in the table (microticket.tls.engine)
_ST_OPEN = const(100)
_RECORD_ROOM = const(5 + 16 + 32 + 16)  # header, explicit IV, MAC, padding at most
_ALERT_ROOM = const(80)  # an encrypted alert record

# states: waiting for ...
_S_SH = const(1)        # ServerHello
_S_AFTER_SH = const(2)  # the message that tells a resumption from a full handshake
_S_SKE = const(3)       # ServerKeyExchange (full, after the Certificate)
_S_SHD = const(4)       # ServerHelloDone (full, after ServerKeyExchange)
_S_NST = const(5)       # NewSessionTicket or ChangeCipherSpec (full, after our Finished)
_S_CCS = const(6)       # ChangeCipherSpec (after NewSessionTicket)
_S_FIN = const(7)       # the server Finished
# fields of a cache entry (microticket.tls.cache)
_E_TICKET = const(0)
_E_MASTER = const(1)
_E_SUITE = const(2)
_E_EMS = const(3)
# _opt bits: what the ClientHello asks for (microticket.tls.engine.client_hello)
_O_TICKET = const(1)
_O_EMS = const(2)
_O_ETM = const(4)
_O_RANDOM_SID = const(8)
_O_REUSE = const(16)        # reuse_tickets
_O_ECHOED = const(32)       # the server echoed our session ID (RFC 5077 section 3.4)
_O_EXPECT_NST = const(64)   # the ServerHello's session_ticket extension: a NewSessionTicket follows
_O_MFL = const(8)           # max_fragment_length (1..4) from this bit on
_O_TIME_UNKNOWN = const(128)  # time_unknown: the clock may not be set (microticket.pk.x509)
_O_V13 = const(0x800)   # TLS 1.3 offered (microticket.tls.client13 has the bits from 0x1000 on)
_O_DHE = const(0x1000)  # psk_key_exchange_modes: psk_dhe_ke
_O_KE = const(0x2000)   # psk_ke
_O_EARLY = const(0x20000)  # early data offered (microticket.tls.client13, early13)


class Client(Engine):
    is_client = True
    trust = None  # the CA file's opener (X.509): a class default, so a client without one holds no attribute

    def __init__(self, server_id, psk_identity=b"", psk=None, pin_sha256=None, cache=None, suites=None,
                 server_name=b"", request_ticket=True, session_id="random", max_fragment_length=0,
                 reuse_tickets=True, ems=True, etm=True, rng=None, keylog=None, max_fragment=_MAX_PLAINTEXT,
                 hs_cap=0, out_cap=0, reuse=None, trust=None, time_unknown=False, max_version=_VERSION_TLS13,
                 psk_modes=b"\x01\x00", alpn=None, client_cert=None):
        """``psk_identity``/``psk``: the PSK suites; ``pin_sha256``: the SHA-256 of the server's DER
        certificate or of its SubjectPublicKeyInfo, for ECDHE_RSA (no X.509 path validation). ``suites``
        defaults to every suite the credentials allow (PSK and ECDHE_PSK; ECDHE_ECDSA and ECDHE_RSA).
        ``max_fragment``: plaintext bytes of the largest record the input buffer takes (with
        ``max_fragment_length`` set: 256 << it, which the server must agree to). ``hs_cap`` bounds one
        incoming handshake message (default 2048: the NewSessionTicket with its ticket; 8192 with a pin:
        the server's Certificate). ``out_cap``: the output buffer, which holds the ClientHello flight or
        one record we send, beside an alert (default: room for a full record); our records are cut to fit.
        ``reuse``: a finished Client of the same sizes whose buffers this one takes over (none allocated).
        ``reuse_tickets=False``: a ticket is offered once (dropped when the server does not replace it).
        ``trust``: a function returning the PEM file of trusted roots as an object with ``readinto`` (the
        caller's, e.g. ``lambda: open("ca.pem", "rb")``: the engine opens no file; it calls this when a full
        handshake validates the server's chain, reads it one certificate at a time and closes it): the chain
        is validated against those roots (microticket.tls.auth_x509) for ``server_name``, instead of a pin;
        ``time_unknown=True``: the board's clock may not be set (notBefore is not checked; expiry always is:
        microticket.pk.x509).
        ``max_version``: 0x0304 (the default) offers TLS 1.3 (its suites first, microticket.tls.client13)
        beside TLS 1.2, 0x0303 TLS 1.2 only; ``suites`` given decide it instead (a TLS 1.3 suite among them
        offers TLS 1.3). ``psk_modes``: TLS 1.3's psk_key_exchange_modes, bytes of 1 (psk_dhe_ke) and 0
        (psk_ke): with b"\\x00" alone a resumption (or an external PSK) sends no key share at all.
        ``alpn``: the application protocols to offer (RFC 7301: bytes, in our preference order, e.g.
        [b"x-amzn-mqtt-ca"] or [b"h2", b"http/1.1"]); the one the server agreed to is ``alpn_protocol``
        after the handshake (None: the server agreed to none).
        ``client_cert``: a function returning (chain: [DER, leaf first], private key: microticket.pk.keys,
        RSA or P-256), called only when a server asks for a certificate (microticket.tls.client_auth);
        without it such a server gets an empty Certificate.
        ``cli.early_data = b"..."`` (an attribute, set before start(): no keyword, no name on the paths that
        do not use it): TLS 1.3 0-RTT early data when the cached ticket allows it; ``early_accepted`` says
        what the server did (microticket.tls.early13; refused data is not re-sent: the application decides)."""
        cert = pin_sha256 if trust is None else trust
        if suites is None:
            d = (_TLS13_SUITES if max_version >= _VERSION_TLS13 else b"") + \
                (_PSK_SUITES if psk is not None else b"") + (_CERT_SUITES if cert is not None else b"")
            suites = [(d[i] << 8) | d[i + 1] for i in range(0, len(d), 2)]
        v13 = 0
        for s in suites:
            k = engine.suite_info(s) & 7
            if k == _KX_TLS13:
                v13 = _O_V13
                k = _KX_ECDHE_PSK if psk is not None else _KX_ECDHE_RSA
            if not k or (cert if k > _KX_ECDHE_PSK else psk) is None:
                raise ValueError("client: a suite needs its credential (psk, pin_sha256); out_cap >= 512")
        if not suites:
            raise ValueError("client: a suite needs its credential (psk, pin_sha256); out_cap >= 512")
        rng = rng or crypto.urandom
        if max_fragment_length:
            max_fragment = min(max_fragment, 256 << max_fragment_length)
        if not hs_cap:
            hs_cap = 8192 if cert is not None else 2048
        if not out_cap:
            # the ClientHello (its ticket is at most 2 KB, see the cache) or one full record
            out_cap = max(max_fragment + _RECORD_ROOM, 2600 if cache is not None else 512) + _ALERT_ROOM
        if out_cap < 512 or not 0 <= max_fragment_length <= 4:
            raise ValueError("client: a suite needs its credential (psk, pin_sha256); out_cap >= 512")
        Engine.__init__(self, max_fragment, out_cap, hs_cap, rng, keylog, reuse)
        # records we send carry at most what fits the output buffer beside an alert (servers accept any
        # size up to the limit): a board can keep a small output buffer and still receive large records
        self.rl.max_out = min(max_fragment, out_cap - _RECORD_ROOM - _ALERT_ROOM)
        self.server_id = server_id
        self.psk_identity = psk_identity or b""
        self.psk = psk
        self.pin_sha256 = pin_sha256
        if trust is not None:
            self.trust = trust
        if client_cert is not None:  # (an attribute only of a client that has one)
            self.client_cert = client_cert
            self._th.append(crypto.hash_new("sha256"))  # TLS 1.2: the CertificateVerify's snapshot
        if alpn:  # (the ProtocolNameList offered: an attribute only of a client that offers one)
            from microticket.tls import alpn as a
            self.alpn = a.encode(alpn)
        self.cache = cache
        self.suites = suites
        self.server_name = server_name
        # options and flags in one int (an attribute each would cost a board's heap)
        self._opt = (_O_TICKET if request_ticket else 0) | (_O_EMS if ems else 0) | (_O_ETM if etm else 0) | \
            (_O_RANDOM_SID if session_id == "random" else 0) | (_O_REUSE if reuse_tickets else 0) | \
            (max_fragment_length << _O_MFL) | (_O_TIME_UNKNOWN if time_unknown else 0) | v13 | \
            (_O_DHE if 1 in psk_modes else 0) | (_O_KE if 0 in psk_modes else 0)
        self.offered = None  # the cache entry offered in the ClientHello
        self.new_ticket = None  # (hint, ticket) from a NewSessionTicket, kept until Finished verifies
        self.ticket_received = False
        self._sid = b""
        self._sent = ()  # extension types of the ClientHello

    # --- ClientHello -----------------------------------------------------------------------------

    def start(self, now):
        self.now = now
        rng = self.rl.rng
        self.client_random = rng(32)
        entry = None
        if self.cache is not None and self._opt & _O_TICKET:
            entry = self.cache.get(self.server_id, now)
            if entry is not None and entry[_E_SUITE] not in self.suites:
                entry = None
        self.offered = entry
        if self._opt & _O_V13:
            from microticket.tls import client13
            m = client13.start(self, entry)
        else:
            if entry is not None and self._opt & _O_RANDOM_SID:
                self._sid = rng(32)
            m, self._sent = engine.client_hello(self, entry[_E_TICKET] if entry is not None else None)
        rl = self.rl
        if len(m) + 5 * (1 + len(m) // rl.max_out) > len(rl._ob):
            raise ValueError("out_cap too small for the ClientHello")  # a configuration error, not input
        self._send_message(m)
        self.state = _S_SH
        if self._opt & _O_EARLY:  # 0-RTT: its module by a bytes name, loaded only then (no name of it here)
            __import__(b"microticket.tls.early13".decode(), None, None, (True,)).start(self)

    # --- the handshake ---------------------------------------------------------------------------

    def _on_server_hello(self, t, b):
        if self._opt & _O_V13:
            from microticket.tls import client13
            if client13._on_server_hello(self, b):  # (a name a board has interned anyway)
                return
        engine.parse_server_hello(self, b)
        self.state = _S_AFTER_SH

    def _begin_resumed(self):
        """The server accepted the offered ticket: the cached master secret (RFC 5077 Figure 2)."""
        e = self.offered
        if e is None or (self._sid and not self._opt & _O_ECHOED):
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "resumption")
        if self.suite != e[_E_SUITE]:
            raise errors.TlsAlert(_ILLEGAL_PARAMETER, "resumption")
        if self.ems != e[_E_EMS]:
            raise errors.TlsAlert(_HANDSHAKE_FAILURE, "resumption")
        self.resumed = True
        self.master = e[_E_MASTER]
        self._make_keys()

    def _on_new_session_ticket(self, t, b):
        if not self._opt & _O_EXPECT_NST:
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "NewSessionTicket")
        hint, ticket = engine.parse_new_session_ticket(b)
        if self.state == _S_AFTER_SH:
            self._begin_resumed()
        self.new_ticket = (hint, ticket) if ticket else None
        self._opt &= ~_O_EXPECT_NST
        self.state = _S_CCS

    def _on_server_ccs(self, t, b):
        # the engine switches the read state on after this handler (which makes a resumption's keys)
        st = self.state
        if st != _S_CCS and self._opt & _O_EXPECT_NST:
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "NewSessionTicket")
        if st == _S_AFTER_SH:
            self._begin_resumed()
        self.state = _S_FIN

    def _on_finished(self, t, b):
        # the engine verified the server's Finished before this handler ran
        if self.resumed:
            self._send_ccs_finished()
        self.state = _ST_OPEN
        self.handshake_done = True
        store_ticket(self)
        self.events.append(("handshake_done",))

    def _full(self, t, b):
        """Certificate, ServerKeyExchange, ServerHelloDone: the server did not resume. The key exchange's
        module takes them (loaded now, never by a resumption)."""
        if self._opt & _O_ECHOED:
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "resumption")
        if (engine.suite_info(self.suite) & 7) >= _KX_ECDHE_RSA:
            from microticket.tls import kx_ecdhe_cert as kx
        else:
            from microticket.tls import kx_psk as kx
        st = self.state
        if t == _HT_SERVER_HELLO_DONE and len(b):
            raise errors.TlsAlert(_DECODE_ERROR, "ServerHelloDone")
        # ``ok``: the message this one must follow came first (Certificate before a certificate suite's
        # ServerKeyExchange, ServerKeyExchange before an ECDHE suite's ServerHelloDone); for
        # ServerHelloDone the module sends ClientKeyExchange and returns the premaster secret
        key = kx.client_message(self, t, b, st == (_S_SKE if t == _HT_SERVER_KEY_EXCHANGE else _S_SHD))
        if t == _HT_CERTIFICATE:
            self.state = _S_SKE
        elif t == _HT_SERVER_KEY_EXCHANGE:
            self.state = _S_SHD
        elif t == _HT_SERVER_HELLO_DONE:  # (a CertificateRequest changes no state: microticket.tls.client_auth)
            if key is not None:  # (None: the module made the keys, with our CertificateVerify after them)
                self._make_keys(key)
            self._kx = None
            self._send_ccs_finished()
            self.state = _S_NST

    def _after_handshake(self, t, b):
        if t != _HT_HELLO_REQUEST:
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "handshake message")
        self._alert(_LEVEL_WARNING, _NO_RENEGOTIATION)

    # --- the ticket cache: events out (RFC 5077 section 3.3) -----------------------------------------

    _failed = drop_offered


# keys: state << 9 | message type (ints: no tuple per entry or per lookup); a missing pair is
# unexpected_message
Client._TABLE = {
    _S_SH << 9 | _HT_SERVER_HELLO: Client._on_server_hello,
    _S_AFTER_SH << 9 | _HT_NEW_SESSION_TICKET: Client._on_new_session_ticket,
    _S_AFTER_SH << 9 | _HT_CCS: Client._on_server_ccs,
    _S_AFTER_SH << 9 | _HT_CERTIFICATE: Client._full,
    _S_AFTER_SH << 9 | _HT_SERVER_KEY_EXCHANGE: Client._full,
    _S_AFTER_SH << 9 | _HT_SERVER_HELLO_DONE: Client._full,
    _S_SKE << 9 | _HT_SERVER_KEY_EXCHANGE: Client._full,
    _S_SHD << 9 | _HT_SERVER_HELLO_DONE: Client._full,
    _S_SHD << 9 | _HT_CERTIFICATE_REQUEST: Client._full,
    _S_NST << 9 | _HT_NEW_SESSION_TICKET: Client._on_new_session_ticket,
    _S_NST << 9 | _HT_CCS: Client._on_server_ccs,
    _S_CCS << 9 | _HT_CCS: Client._on_server_ccs,
    _S_FIN << 9 | _HT_FINISHED: Client._on_finished,
}
