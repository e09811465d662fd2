"""Compact sans-IO TLS 1.2 client for the PSK suites, with RFC 5077 session tickets: the board client.

    cli = PskClient("host:443", b"identity", psk, cache=TicketCache(path), max_fragment_length=3)
    cli.start(now); sock.send(cli.data_to_send())
    events = cli.receive_data(bytes_from_server, now)

The interface, events and ticket rules are TlsClient's (microticket.tls.client, microticket.tls.conn):
full handshakes that ask for a ticket, abbreviated ones that present it (RFC 5077 Figures 1-4), the
session ID rules of section 3.4, a ticket kept only after the server Finished verified and dropped when a
handshake that offered it fails, extended_master_secret (RFC 7627: a resumption that changes it is
refused), encrypt_then_mac (RFC 7366), max_fragment_length (RFC 6066), server_name, renegotiation_info
(RFC 5746), the same TicketCache file. The drivers (microticket.tls.driver, aio) run either client.

Suites: TLS_PSK_WITH_AES_128_CBC_SHA256 (RFC 4279, RFC 5487: no public-key work at all) and
TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256 (RFC 5489: X25519, whose module is loaded only by a full handshake
of that suite). A server authenticated by a certificate needs TlsClient (ECDHE_RSA with a pinned key).

Why a second client: heap. TlsClient shares its handshake machinery with the server (Connection, the
wire Reader/Writer, the message codec) and carries ECDHE_RSA; its import alone holds about 20 KB of a
board's heap, even with the bytecode in flash. This one is one class over the shared record layer
(microticket.tls.record), parsing in place with index arithmetic; its import holds about 15 KB, and a
resumption from ROMFS completes in 31.4 KB where TlsClient's needs 44.0 KB (README, "Memory and speed").
Every client test runs against both, so the two keep the same behaviour.

Errors: a TlsAlert's message names only where the check failed (the record layer, the message, the
resumption); its description says which rule. Each distinct message text is an object on the heap even
from ROMFS, so the texts are shared.

Handshake messages are parsed where they lie in the record buffer; a message split across records is
reassembled in a buffer of ``hs_cap`` bytes allocated on the first split. Transcript: two SHA-256 objects
fed the same messages, each finalised once (see microticket.tls.conn), so no transcript is buffered.
"""

from micropython import const

from microticket import crypto
from microticket.errors import TlsAlert
from microticket.tls.record import Endpoint, RecordLayer, CipherState
from microticket.tls import to_hex
from microticket.tls import cache as cache_rules

prf = None  # microticket.prf, imported with the first keys (after the buffers: its code fills holes)

_CT_CCS = const(20)
_CT_HANDSHAKE = const(22)
_HT_HELLO_REQUEST = const(0)
_HT_CLIENT_HELLO = const(1)
_HT_SERVER_HELLO = const(2)
_HT_NEW_SESSION_TICKET = const(4)
_HT_SERVER_KEY_EXCHANGE = const(12)
_HT_SERVER_HELLO_DONE = const(14)
_HT_FINISHED = const(20)
_HT_CCS = const(0x100)
_LEVEL_WARNING = const(1)
_UNEXPECTED_MESSAGE = const(10)
_HANDSHAKE_FAILURE = const(40)
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
_EXT_ENCRYPT_THEN_MAC = const(22)
_EXT_EXTENDED_MASTER_SECRET = const(23)
_EXT_SESSION_TICKET = const(35)
_EXT_RENEGOTIATION_INFO = const(0xFF01)
_PSK_WITH_AES_128_CBC_SHA256 = const(0x00AE)
_ECDHE_PSK_WITH_AES_128_CBC_SHA256 = const(0xC037)
_MAX_PLAINTEXT = const(16384)
_RECORD_ROOM = const(5 + 16 + 32 + 16)  # header, explicit IV, MAC, padding at most
_ALERT_ROOM = const(80)  # an encrypted alert record

# states: waiting for ...
_S_SH = const(1)      # ServerHello
_S_AFTER_SH = const(2)  # the message that tells a resumption from a full handshake
_S_SHD = const(3)     # ServerHelloDone (full, after ServerKeyExchange)
_S_NST = const(4)     # NewSessionTicket or CCS (full, after our Finished)
_S_CCS = const(5)     # ChangeCipherSpec (after NewSessionTicket)
_S_FIN = const(6)     # the server Finished
_S_OPEN = const(100)  # closed: 101 (set by the record layer's functions)
# _opt bits: what the ClientHello asks for
_O_TICKET = const(1)
_O_EMS = const(2)
_O_ETM = const(4)
_O_RANDOM_SID = const(8)


class PskClient(Endpoint):
    def __init__(self, server_id, psk_identity=b"", psk=None, cache=None, suites=None, server_name=b"",
                 request_ticket=True, session_id="random", max_fragment_length=0, reuse_tickets=True, ems=True,
                 etm=True, rng=None, keylog=None, max_fragment=_MAX_PLAINTEXT, hs_cap=2048, out_cap=0,
                 reuse=None):
        """``max_fragment``: plaintext bytes of the largest record the input buffer takes (with
        ``max_fragment_length`` set: 256 << it, which the server must agree to). ``hs_cap`` bounds one
        handshake message (the NewSessionTicket with its ticket is the largest). ``out_cap``: the output
        buffer, which holds the ClientHello flight or one record we send, beside an alert (default: room
        for a full record); our records are cut to fit it.
        ``reuse``: a finished PskClient of the same sizes whose buffers this one takes over.
        ``reuse_tickets=False``: a ticket is offered once (dropped when the server does not replace it)."""
        if psk is None:
            raise ValueError("PskClient needs a psk, PSK suites only and out_cap >= 512")
        self.rng = rng = rng or crypto.urandom
        self.keylog = keylog
        if max_fragment_length:
            max_fragment = min(max_fragment, 256 << max_fragment_length)
        if not out_cap:
            # the ClientHello (its ticket is at most 2 KB, see the cache) or one full record
            out_cap = max(max_fragment + _RECORD_ROOM, 2600 if cache is not None else 512) + _ALERT_ROOM
        if out_cap < 512:
            raise ValueError("PskClient needs a psk, PSK suites only and out_cap >= 512")
        rl = reuse.rl if reuse is not None else None
        if rl is not None and rl.in_cap - rl.OVERHEAD_IN == max_fragment and len(rl._ob) == out_cap and \
                reuse.hs_cap == hs_cap:
            rl.reset(rng)
            self._hb = reuse._hb
        else:
            rl = RecordLayer(max_fragment, out_cap, rng)
            self._hb = None  # reassembly of a message split across records, allocated on the first split
        # records we send carry at most what fits the output buffer beside an alert (servers accept any
        # size up to the limit): a board can keep a small output buffer and still receive large records
        rl.max_out = min(max_fragment, out_cap - _RECORD_ROOM - _ALERT_ROOM)
        self.rl = rl
        self.hs_cap = hs_cap
        self._hl = 0
        self.server_id = server_id
        self.psk_identity = psk_identity
        self.psk = psk
        self.cache = cache
        self.suites = suites or (_ECDHE_PSK_WITH_AES_128_CBC_SHA256, _PSK_WITH_AES_128_CBC_SHA256)
        for s in self.suites:
            if s != _PSK_WITH_AES_128_CBC_SHA256 and s != _ECDHE_PSK_WITH_AES_128_CBC_SHA256:
                raise ValueError("PskClient needs a psk, PSK suites only and out_cap >= 512")
        self.server_name = server_name
        self.mfl = max_fragment_length
        self.reuse_tickets = reuse_tickets
        self._opt = (_O_TICKET if request_ticket else 0) | (_O_EMS if ems else 0) | (_O_ETM if etm else 0) | \
            (_O_RANDOM_SID if session_id == "random" else 0)
        self.state = 0
        self.now = 0
        self.events = []
        self.alert_sent = None
        self.alert_received = None
        self.error_message = ""
        self.cache_error = None
        self.trace = None  # set to a list to record ("send"|"recv", message type) for tests
        self._fin_hash = None  # full handshake with extended_master_secret: the session hash
        self._point = None  # the server's X25519 share (ECDHE_PSK, set by psk_full)
        self.closed = False
        self.handshake_done = False
        self.resumed = False
        self.suite = 0
        self.ems = False
        self.etm = False
        self.client_random = b""
        self.server_random = b""
        self.master = None
        self.offered = None  # the CacheEntry offered in the ClientHello
        self.new_ticket = None  # (hint, ticket) from a NewSessionTicket, kept until Finished verifies
        self.ticket_hint = 0
        self.ticket_received = False
        self._sid = b""
        self._sent = ()  # extension types of the ClientHello
        self._echoed = False
        self._expect_nst = False
        self._th = [crypto.hash_new("sha256"), crypto.hash_new("sha256")]
        self._pend = None  # (write, read) CipherStates made, not yet switched on by a CCS

    def suite_name(self):
        if self.suite == _PSK_WITH_AES_128_CBC_SHA256:
            return "TLS_PSK_WITH_AES_128_CBC_SHA256"
        return "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256" if self.suite else "-"

    # --- ClientHello -----------------------------------------------------------------------------

    def start(self, now):
        self.now = now
        self.client_random = self.rng(32)
        entry = None
        opt = self._opt
        if self.cache is not None and opt & _O_TICKET:
            entry = self.cache.get(self.server_id, now)
            if entry is not None and entry.suite not in self.suites:
                entry = None
        self.offered = entry
        if entry is not None and opt & _O_RANDOM_SID:
            self._sid = self.rng(32)
        ecdhe = _ECDHE_PSK_WITH_AES_128_CBC_SHA256 in self.suites
        name = self.server_name
        ext = []
        if name:
            n = len(name)
            ext.append((_EXT_SERVER_NAME, bytes(((n + 3) >> 8, (n + 3) & 0xFF, 0, n >> 8, n & 0xFF)) + name))
        if self.mfl:
            ext.append((_EXT_MAX_FRAGMENT_LENGTH, bytes((self.mfl,))))
        if ecdhe:
            ext.append((_EXT_SUPPORTED_GROUPS, b"\x00\x02\x00\x1d"))  # x25519
            ext.append((_EXT_EC_POINT_FORMATS, b"\x01\x00"))
        if opt & _O_TICKET:
            ext.append((_EXT_SESSION_TICKET, entry.ticket if entry is not None else b""))
        if opt & _O_ETM:
            ext.append((_EXT_ENCRYPT_THEN_MAC, b""))
        if opt & _O_EMS:
            ext.append((_EXT_EXTENDED_MASTER_SECRET, b""))
        ext.append((_EXT_RENEGOTIATION_INFO, b"\x00"))
        self._sent = tuple(t for t, _ in ext)
        elen = 0
        for _, d in ext:
            elen += 4 + len(d)
        sid = self._sid
        ns = 2 * len(self.suites)
        body = 2 + 32 + 1 + len(sid) + 2 + ns + 2 + 2 + elen
        m = bytearray(4 + body)
        m[0] = _HT_CLIENT_HELLO
        m[2] = (body >> 8) & 0xFF
        m[3] = body & 0xFF
        m[4] = 3
        m[5] = 3
        m[6:38] = self.client_random
        m[38] = len(sid)
        p = 39 + len(sid)
        m[39:p] = sid
        m[p + 1] = ns
        p += 2
        for s in self.suites:
            m[p] = s >> 8
            m[p + 1] = s & 0xFF
            p += 2
        m[p] = 1  # compression methods: null only
        m[p + 2] = elen >> 8
        m[p + 3] = elen & 0xFF
        p += 4
        for t, d in ext:
            n = len(d)
            m[p] = t >> 8
            m[p + 1] = t & 0xFF
            m[p + 2] = n >> 8
            m[p + 3] = n & 0xFF
            m[p + 4:p + 4 + n] = d
            p += 4 + n
        if len(m) + 5 * (1 + len(m) // self.rl.max_out) > len(self.rl._ob):
            raise ValueError("out_cap too small for the ClientHello")  # a configuration error, not input
        self._send_message(m)
        self.state = _S_SH

    # --- the handshake ---------------------------------------------------------------------------

    def _dispatch(self, t, data, raw):
        st = self.state
        if self.trace is not None:
            self.trace.append(("recv", t))
        if st == _S_OPEN:
            if t != _HT_HELLO_REQUEST:
                raise TlsAlert(_UNEXPECTED_MESSAGE, "handshake message")
            self._alert(_LEVEL_WARNING, _NO_RENEGOTIATION)
            return
        if t == _HT_FINISHED and st == _S_FIN:
            self._finished(data, raw)
            return
        if raw is not None:
            for h in self._th:
                h.update(raw)
        if t == _HT_SERVER_HELLO and st == _S_SH:
            self._server_hello(data)
        elif t == _HT_NEW_SESSION_TICKET and (st == _S_AFTER_SH or st == _S_NST):
            self._new_session_ticket(data)
        elif t == _HT_CCS and (st == _S_AFTER_SH or st == _S_NST or st == _S_CCS):
            if st != _S_CCS and self._expect_nst:
                raise TlsAlert(_UNEXPECTED_MESSAGE, "NewSessionTicket")
            if st == _S_AFTER_SH:
                self._begin_resumed()
            self.rl.read = self._pend[1]
            self.state = _S_FIN
        elif (t == _HT_SERVER_KEY_EXCHANGE or t == _HT_SERVER_HELLO_DONE) and \
                (st == _S_AFTER_SH or st == _S_SHD):
            # the ticket was not accepted (or none was offered): a full handshake, in its own module
            if self._echoed:
                raise TlsAlert(_UNEXPECTED_MESSAGE, "resumption")
            from microticket.tls import psk_full
            psk_full.handle(self, t, data)
        else:
            raise TlsAlert(_UNEXPECTED_MESSAGE, "unexpected message %d in state %d" % (t, st))

    def _server_hello(self, b):
        n = len(b)
        if n < 38:
            raise TlsAlert(_DECODE_ERROR, "ServerHello")
        if ((b[0] << 8) | b[1]) != 0x0303:
            raise TlsAlert(_PROTOCOL_VERSION, "ServerHello")
        sl = b[34]
        p = 35 + sl
        if sl > 32 or p + 3 > n:
            raise TlsAlert(_DECODE_ERROR, "ServerHello")
        suite = (b[p] << 8) | b[p + 1]
        if suite not in self.suites:
            raise TlsAlert(_ILLEGAL_PARAMETER, "ServerHello")
        if b[p + 2]:
            raise TlsAlert(_ILLEGAL_PARAMETER, "ServerHello")
        p += 3
        sent = self._sent
        seen = 0
        if p < n:
            if p + 2 > n or p + 2 + ((b[p] << 8) | b[p + 1]) != n:
                raise TlsAlert(_DECODE_ERROR, "ServerHello")
            p += 2
        while p < n:
            if p + 4 > n:
                raise TlsAlert(_DECODE_ERROR, "ServerHello")
            t = (b[p] << 8) | b[p + 1]
            k = (b[p + 2] << 8) | b[p + 3]
            p += 4
            if p + k > n:
                raise TlsAlert(_DECODE_ERROR, "ServerHello")
            if t not in sent:
                raise TlsAlert(_UNSUPPORTED_EXTENSION, "ServerHello")
            bit = 1 << sent.index(t)
            if seen & bit:
                raise TlsAlert(_DECODE_ERROR, "ServerHello")
            seen |= bit
            if t == _EXT_RENEGOTIATION_INFO:
                if k != 1 or b[p]:
                    raise TlsAlert(_HANDSHAKE_FAILURE, "ServerHello")
            elif t == _EXT_MAX_FRAGMENT_LENGTH:
                if k != 1 or b[p] != self.mfl:
                    raise TlsAlert(_ILLEGAL_PARAMETER, "ServerHello")
                size = 256 << self.mfl
                rl = self.rl
                rl.max_out = min(rl.max_out, size)
                rl.max_in = min(rl.max_in, size)
            elif t == _EXT_SESSION_TICKET:
                # RFC 5077 section 3.2: empty (RFC 4507 servers may send 00 00)
                if k != 0 and (k != 2 or b[p] or b[p + 1]):
                    raise TlsAlert(_DECODE_ERROR, "ServerHello")
                self._expect_nst = True
            elif t != _EXT_EC_POINT_FORMATS and t != _EXT_SUPPORTED_GROUPS and k:
                raise TlsAlert(_DECODE_ERROR, "ServerHello")  # server_name, etm, ems
            elif t == _EXT_EXTENDED_MASTER_SECRET:
                self.ems = True
            elif t == _EXT_ENCRYPT_THEN_MAC:
                self.etm = True
            p += k
        self.server_random = bytes(b[2:34])
        self.suite = suite
        sid = self._sid
        self._echoed = self.offered is not None and len(sid) > 0 and sl == 32 and bytes(b[35:67]) == sid
        self.state = _S_AFTER_SH

    def _begin_resumed(self):
        """The server accepted the offered ticket: the cached master secret (RFC 5077 Figure 2)."""
        e = self.offered
        if e is None or (self._sid and not self._echoed):
            raise TlsAlert(_UNEXPECTED_MESSAGE, "resumption")
        if self.suite != e.suite:
            raise TlsAlert(_ILLEGAL_PARAMETER, "resumption")
        if self.ems != e.ems:
            raise TlsAlert(_HANDSHAKE_FAILURE, "resumption")
        self.resumed = True
        self.master = e.master
        self._make_keys()

    def _new_session_ticket(self, b):
        if not self._expect_nst:
            raise TlsAlert(_UNEXPECTED_MESSAGE, "NewSessionTicket")
        n = len(b)
        if n < 6 or 6 + ((b[4] << 8) | b[5]) != n:
            raise TlsAlert(_DECODE_ERROR, "NewSessionTicket")
        hint = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
        if self.state == _S_AFTER_SH:
            self._begin_resumed()
        self.new_ticket = (hint, bytes(b[6:n])) if n > 6 else None
        self.ticket_hint = hint
        self._expect_nst = False
        self.state = _S_CCS

    def _finished(self, b, raw):
        fh = self._take_hash()  # before the server Finished joins the transcript
        for h in self._th:
            h.update(raw)
        if len(b) != 12:
            raise TlsAlert(_DECODE_ERROR, "Finished")
        want = prf.tls12_prf(self.master, b"server finished", fh, 12)
        if not crypto.ct_equal(want, b):
            raise TlsAlert(_DECRYPT_ERROR, "Finished")
        if self.resumed:
            self._send_ccs_finished()
        self.state = _S_OPEN
        self.handshake_done = True
        self._store_ticket()
        self.events.append(("handshake_done",))

    # --- transcript, keys, output ----------------------------------------------------------------

    def _take_hash(self):
        d = self._fin_hash
        if d is not None:
            self._fin_hash = None
            return d
        return self._th.pop(0).digest()

    def _send_message(self, b):
        if self.trace is not None:
            self.trace.append(("send", b[0]))
        for h in self._th:
            h.update(b)
        self.rl.write(_CT_HANDSHAKE, b)

    def _send_ccs_finished(self):
        rl = self.rl
        rl.write(_CT_CCS, b"\x01")
        if self.trace is not None:
            self.trace.append(("send", _HT_CCS))
        rl.write_cs = self._pend[0]
        m = bytearray(16)
        m[0] = _HT_FINISHED
        m[3] = 12
        m[4:] = prf.tls12_prf(self.master, b"client finished", self._take_hash(), 12)
        self._send_message(m)

    def _make_keys(self, key=None):
        """The master secret from the premaster secret ``key`` (full handshake; RFC 5246 section 8.1, RFC 7627
        section 4), then the key block (RFC 5246 section 6.3: client MAC, server MAC, client key,
        server key)."""
        global prf
        if prf is None:
            from microticket import prf
        if key is not None:
            if self.ems:
                seed = self._fin_hash = self._take_hash()
                self.master = prf.tls12_prf(key, b"extended master secret", seed, 48)
            else:
                self.master = prf.tls12_prf(key, b"master secret", self.client_random + self.server_random,
                                            48)
        kb = prf.tls12_prf(self.master, b"key expansion", self.server_random + self.client_random, 96)
        self._pend = (CipherState(kb[64:80], kb[0:32], self.etm, True),
                      CipherState(kb[80:96], kb[32:64], self.etm, False))
        if self.keylog is not None:
            self.keylog("CLIENT_RANDOM " + to_hex(self.client_random) + " " + to_hex(self.master))

    # --- endings ---------------------------------------------------------------------------------

    _store_ticket = cache_rules.store_ticket
    _failed = cache_rules.drop_offered
