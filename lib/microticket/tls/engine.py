"""The TLS 1.2 engine both roles run (sans-IO: bytes and ``now`` in, bytes and events out), and the client's
half of the codec of the messages every handshake has (ClientHello, ServerHello, NewSessionTicket).

    eng.receive_data(data, now) -> [events]      bytes from the peer (b"": the peer closed the stream)
    eng.recv_view() / eng.received(n, now)       the same without a copy: read the socket into the view
    eng.want()                                   bytes the next record still misses (for readinto drivers)
    eng.data_to_send(view=False) -> bytes        bytes for the peer (drain after every call); view=True:
                                                 a memoryview of the output buffer instead (no copy)
    eng.send(data) / eng.close()                 application data after the handshake / close_notify
    eng.max_send()                               the largest piece of application data one send() takes

Events are tuples: ("handshake_done",), ("data", bytes), ("alert", description, received), ("closed",);
a client adds ("ticket", server_id, cache entry) and ("ticket_drop", server_id) for its ticket cache,
which the driver persists (microticket.tls.driver.keep_tickets): the engine never writes a file.

States as data: each role (microticket.tls.client.Client, microticket.tls.server.TlsServer) has a table
{state << 9 | message type: handler}; the handler sets the next state. A (state, type) pair missing from
the table is unexpected_message (RFC 5246 section 7.2.2) by construction. ChangeCipherSpec has the type
type 0x100 in the tables.

Errors: a peer's bad input raises a TlsAlert (or DecodeError: decode_error) inside a handler; it becomes
a fatal alert in the output, an ("alert", description, False) event and a closed engine. Anything else is
a bug of ours (or MemoryError): internal_error is queued and the engine closed, and the exception then
propagates out of receive_data, so the bug is seen, not hidden behind an alert (h11's error path).

Transcript hash: hashlib objects have no copy() and digest() finalises, so the engine runs TWO SHA-256
objects over the same handshake messages. A TLS 1.2 handshake needs the transcript hash at exactly two
points: (full) after ClientKeyExchange - for the extended master secret and the client Finished - and
before the server Finished; (abbreviated) before the server Finished and before the client Finished. Each
snapshot finalises one of the two. No transcript bytes are buffered.

Key schedule (RFC 5246 sections 6.3, 7.4.9 and 8.1, RFC 7627 section 4): _make_keys (premaster ->
master secret, with the session hash when extended_master_secret was agreed; key block -> the pending
cipher states of both directions), _finished (verify_data; the peer's Finished is checked by
_dispatch before its handler runs). One copy, both roles.

Where the codec lives is set by a board's heap, where a resuming client has 32 KB (README, "Memory and
speed"): every def costs about 60 bytes and a module about 200 even from ROMFS. So the client's halves of
the hello and ticket messages are here (a client loads the engine anyway, and no module of their own), and
the server's halves are in microticket.tls.server (about 0.5 KB a client never holds). The messages of
full handshakes, which a resumption never loads, keep both halves in one module each (kx_*).
"""

from micropython import const

from microticket import crypto
from microticket import errors  # TlsAlert: created on the first error (microticket.errors)
from microticket.tls import to_hex
from microticket.tls.record import RecordLayer, CipherState

prf = None  # microticket.prf, imported with the first keys (after the buffers: its code fills holes)

_CT_CHANGE_CIPHER_SPEC = const(20)
_CT_ALERT = const(21)
_CT_HANDSHAKE = const(22)
_CT_APPLICATION_DATA = const(23)
_HT_CCS = const(0x100)
_HT_FINISHED = const(20)
_LEVEL_WARNING = const(1)
_LEVEL_FATAL = const(2)
_CLOSE_NOTIFY = const(0)
_UNEXPECTED_MESSAGE = const(10)
_RECORD_OVERFLOW = const(22)
_DECODE_ERROR = const(50)
_DECRYPT_ERROR = const(51)
_INTERNAL_ERROR = const(80)

_VERSION_TLS12 = const(0x0303)
_HT_CLIENT_HELLO = const(1)
_HT_SERVER_HELLO = const(2)
_HT_NEW_SESSION_TICKET = const(4)
_HANDSHAKE_FAILURE = const(40)
_ILLEGAL_PARAMETER = const(47)
_PROTOCOL_VERSION = const(70)
_UNSUPPORTED_EXTENSION = const(110)
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
# the client's ClientHello options (Client._opt, microticket.tls.client)
_O_TICKET = const(1)
_O_EMS = const(2)
_O_ETM = const(4)
_O_RANDOM_SID = const(8)
_O_ECHOED = const(32)
_O_EXPECT_NST = const(64)
_O_MFL = const(8)  # the max_fragment_length code (1..4) from this bit on
_ST_OPEN = const(100)  # the roles' tables use the same numbers
_ST_CLOSED = const(101)
# TLS 1.3 (microticket.tls.hs13): its states are 32..99 (the handshake's, then _ST_OPEN13 = 99), its
# Finished messages are checked by its handlers, ChangeCipherSpec switches nothing (its table drops it),
# and every alert but close_notify and user_canceled is fatal (RFC 8446 section 6)
_S13 = const(32)
_USER_CANCELED = const(90)


# --- cipher suites (the one table; microticket.tls.const names them) --------------------------------
#
# Each suite is 3 bytes here: its number and kx | cipher << 3 (a bytes constant costs a board no heap,
# where a dict of the same would cost ~0.5 KB). Key exchanges (kx): PSK (RFC 4279), ECDHE_PSK (RFC 5489),
# ECDHE_RSA and ECDHE_ECDSA (RFC 8422). Ciphers: AES-128-CBC with HMAC-SHA256 (RFC 5246, 5487, 5289) or
# HMAC-SHA1 (RFC 8422), AES-128-GCM (RFC 5288, 5487, 5289), ChaCha20-Poly1305 (RFC 7905), AES-128-CCM_8
# and CCM (RFC 6655). Every suite uses the SHA-256 PRF (a board's hashlib has no SHA-384).
_KX_PSK = const(1)
_KX_ECDHE_PSK = const(2)
_KX_ECDHE_RSA = const(3)
_KX_ECDHE_ECDSA = const(4)
_C_CBC_SHA256 = const(1)
_C_CBC_SHA = const(2)
_C_GCM = const(3)
_C_CHACHA = const(4)
_C_CCM_8 = const(5)
_C_CCM = const(6)
_KX_TLS13 = const(5)  # a TLS 1.3 suite: the key exchange is not in the suite (RFC 8446 section 4.1.1)
_SUITES = const(b"\x00\xae\x09"   # TLS_PSK_WITH_AES_128_CBC_SHA256
           b"\xc0\x37\x0a"   # TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256
           b"\xc0\x27\x0b"   # TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
           b"\xc0\x23\x0c"   # TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
           b"\xc0\x13\x13"   # TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
           b"\xc0\x09\x14"   # TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
           b"\x00\xa8\x19"   # TLS_PSK_WITH_AES_128_GCM_SHA256
           b"\xc0\x2f\x1b"   # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
           b"\xc0\x2b\x1c"   # TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
           b"\xcc\xab\x21"   # TLS_PSK_WITH_CHACHA20_POLY1305_SHA256
           b"\xcc\xac\x22"   # TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256
           b"\xcc\xa8\x23"   # TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
           b"\xcc\xa9\x24"   # TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
           b"\xc0\xa8\x29"   # TLS_PSK_WITH_AES_128_CCM_8
           b"\xc0\xa4\x31"   # TLS_PSK_WITH_AES_128_CCM
           b"\x13\x01\x1d"   # TLS_AES_128_GCM_SHA256 (TLS 1.3: kx 5, any key exchange)
           b"\x13\x03\x25"   # TLS_CHACHA20_POLY1305_SHA256
           b"\x13\x04\x35")  # TLS_AES_128_CCM_SHA256


def suite_info(s):
    """kx | cipher << 3 of the suite ``s`` (0: not one of ours); the key exchange is ``& 7``."""
    t = _SUITES
    for i in range(0, len(t), 3):
        if (t[i] << 8) | t[i + 1] == s:
            return t[i + 2]
    return 0


# the names' parts as bytes: a str constant is an interned string (qstr) on a board's heap for good, and
# the resuming client sits at the edge of a qstr pool block (3.6 KB): bytes constants cost nothing
_KX_NAMES = const(b"PSK ECDHE_PSK ECDHE_RSA ECDHE_ECDSA")
_CIPHER_NAMES = const(b"AES_128_CBC_SHA256 AES_128_CBC_SHA AES_128_GCM_SHA256 CHACHA20_POLY1305_SHA256 "
                      b"AES_128_CCM_8 AES_128_CCM")


def suite_name(s):
    """The IANA name of the suite ``s`` ("-": none of ours)."""
    i = suite_info(s)
    if not i:
        return "-"
    if i & 7 == _KX_TLS13:
        return "TLS_" + ("AES_128_CCM_SHA256" if i >> 3 == _C_CCM else _CIPHER_NAMES.split()[(i >> 3) - 1].decode())
    return (b"TLS_" + _KX_NAMES.split()[(i & 7) - 1] + b"_WITH_" + _CIPHER_NAMES.split()[(i >> 3) - 1]).decode()


class Engine:
    """The state both roles share. A role's __init__ calls Engine.__init__ first and sets its own fields;
    it provides _TABLE ({state << 9 | message type: handler(self, type, body)}), is_client,
    _after_handshake(type, body) and _failed() (called when the handshake or connection failed)."""

    # Defaults of attributes that a resumption never sets live here, in the class: every attribute an
    # instance holds costs a board heap, and its attribute table grows in steps (37 names fit the smaller).
    keylog = None          # an SSLKEYLOGFILE writer (a function taking the line), or None
    trace = None           # set to a list to record ("send"|"recv", message type) for tests
    alert_sent = None      # the alert we sent, or None
    alert_received = None  # the fatal alert we received, or None
    error_message = ""     # why we sent the alert (the TlsAlert's text)
    alpn_protocol = None   # the application protocol agreed (RFC 7301, microticket.tls.alpn), or None
    _fin_hash = None       # a transcript hash taken early (the EMS session hash), handed out next
    _kx = None             # the full handshake's key-exchange state (its kx module's)

    def __init__(self, max_fragment, out_cap, hs_cap, rng, keylog, reuse):
        """Buffers, allocated here and never grown: the record layer's input (one record of
        ``max_fragment`` plaintext plus overhead) and output (``out_cap`` bytes), and the reassembly
        buffer of a handshake message that spans records (made for each such message, its size, at most
        ``hs_cap`` bytes: a resumption never needs one, nor a certificate chain that fits a record). ``reuse``: a
        finished engine of the same sizes whose buffers this one takes over (reset, none allocated; the
        old one must not be used again)."""
        rl = reuse.rl if reuse is not None else None
        if rl is not None and rl.in_cap - rl.OVERHEAD_IN == max_fragment and len(rl._ob) == out_cap and \
                reuse.hs_cap == hs_cap:
            rl.reset(rng)
        else:
            rl = RecordLayer(max_fragment, out_cap, rng)
        self._hb = None  # made for a message that spans records (a resumption has none)
        self.rl = rl  # its rng is the engine's (the one source of randomness)
        if keylog is not None:
            self.keylog = keylog
        self.hs_cap = hs_cap
        self._hl = 0
        self._th = [crypto.hash_new("sha256"), crypto.hash_new("sha256")]
        self._pend = None  # (write, read) cipher states made, not yet switched on by ChangeCipherSpec
        self.state = 0
        self.now = 0
        self.events = []
        self.closed = False
        self.handshake_done = False
        self.resumed = False
        self.suite = 0
        self.ems = False
        self.etm = False
        self.client_random = b""
        self.server_random = b""
        self.master = None

    # --- public API ------------------------------------------------------------------------------

    def data_to_send(self, view=False):
        """The pending output, marked as taken: bytes, or (``view``) a memoryview of the output buffer,
        valid until the next call into the engine, for drivers that send it at once (no copy)."""
        return self.rl.take_view() if view else self.rl.take_output()

    def max_send(self):
        """The largest application data one send() takes (the agreed record size, or what fits the
        output buffer)."""
        return self.rl.max_out

    def want(self):
        """Bytes still missing for the next complete record (header first): a driver on a "no short
        reads" stream (MicroPython's readinto) asks for exactly that."""
        return self.rl.want()

    def send(self, data):
        """Queue application data. The output buffer holds one flight or record at a time: drain
        data_to_send() between sends of more than max_send bytes."""
        if not self.handshake_done or self.closed:
            raise errors.TlsAlert(_INTERNAL_ERROR, "not open")
        self.rl.write(_CT_APPLICATION_DATA, data)

    def close(self):
        if not self.closed:
            self._alert(_LEVEL_WARNING, _CLOSE_NOTIFY)
            self.closed = True
            self.state = _ST_CLOSED

    def release(self):
        """Drop the buffers and keys of a connection that has ended (closed or failed): a board gets their
        heap back for what comes next, and the results (suite, resumed, ALPN, alerts) stay readable."""
        self.rl = self._hb = self._th = self._pend = self._kx = self.master = None

    def receive_data(self, data, now):
        """Bytes from the peer (b"" = the peer closed the stream); returns the events."""
        self.now = now
        ev = self.events = []
        if self.closed:
            return ev
        rl = self.rl
        try:
            n = len(data)
            if not n:
                self._eof()
            off = 0
            while off < n and not self.closed:
                took = rl.feed(data, off)
                off += took
                self._records()
                if not took and not self.closed and rl.space() == 0:
                    raise errors.TlsAlert(_RECORD_OVERFLOW, "input buffer full")
        except (errors.TlsAlert, errors.DecodeError) as e:
            self._on_error(e)
        except BaseException as e:
            self._on_error(e)
            raise
        return ev

    def recv_view(self):
        """Zero-copy input: a memoryview of the record buffer's free space. Read the socket into it, then
        call received(n, now)."""
        return self.rl.free_view()

    def received(self, n, now):
        """``n`` bytes were written into recv_view() (0 = the peer closed); returns the events."""
        self.now = now
        ev = self.events = []
        if self.closed:
            return ev
        try:
            if not n:
                self._eof()
            else:
                self.rl.commit(n)
                self._records()
        except (errors.TlsAlert, errors.DecodeError) as e:
            self._on_error(e)
        except BaseException as e:
            self._on_error(e)
            raise
        return ev

    # --- endings ---------------------------------------------------------------------------------

    def _eof(self):
        # end of stream from the peer without close_notify
        self.closed = True
        self.state = _ST_CLOSED
        self._failed()
        self.events.append(("closed",))

    def _alert(self, a, b):
        """Queue an alert of level ``a`` and description ``b`` (dropped if the output buffer is full)."""
        try:
            self.rl.write(_CT_ALERT, bytes((a, b)))
        except errors.TlsAlert:
            pass

    def _on_error(self, e):
        """A fatal alert for the error ``e``: queued, the engine closed, ``alert_sent`` and
        ``error_message`` (the TlsAlert's text) saying why. The peer's errors are TlsAlerts and
        DecodeErrors; anything else is ours and gets internal_error (the caller then re-raises it)."""
        if self.closed:
            return
        if isinstance(e, errors.TlsAlert):
            desc = e.description
            why = e.message
        else:
            desc = _DECODE_ERROR if isinstance(e, errors.DecodeError) else _INTERNAL_ERROR
            why = str(e)
        rl = self.rl
        if rl.write_cs is None:
            # plaintext output of this call not sent yet (a flight half written) is dropped; once a flight
            # switched our write keys (a TLS 1.3 ServerHello, a ChangeCipherSpec) it is sent before the
            # alert, protected by those keys: without it the peer could not read the alert
            rl._oe = 0
        self._alert(_LEVEL_FATAL, desc)
        self.alert_sent = desc
        self.error_message = why
        self.closed = True
        self.state = _ST_CLOSED
        self._failed()
        self.events.append(("alert", desc, False))
        self.events.append(("closed",))

    # --- records ---------------------------------------------------------------------------------

    def _records(self):
        rl = self.rl
        while not self.closed:
            rec = rl.next_record()
            if rec is None:
                return
            ctype = rec[0]
            view = rec[1]
            if ctype == _CT_HANDSHAKE:
                if not len(view):
                    raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "record")
                self._on_handshake_bytes(view)
            elif ctype == _CT_APPLICATION_DATA:
                if not self.handshake_done or self._hl:  # before Finished, or inside a handshake message
                    raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "record")
                if len(view):
                    self.events.append(("data", bytes(view)))
            elif ctype == _CT_ALERT:
                if len(view) != 2:
                    raise errors.TlsAlert(_DECODE_ERROR, "record")
                desc = view[1]
                ev = self.events
                if desc == _CLOSE_NOTIFY:
                    ev.append(("alert", desc, True))
                    if not self.handshake_done:
                        self._failed()
                    self.close()
                    ev.append(("closed",))
                elif view[0] == _LEVEL_WARNING and self.handshake_done and \
                        (not _S13 <= self.state < _ST_OPEN or desc == _USER_CANCELED):
                    ev.append(("alert", desc, True))
                else:
                    self.alert_received = desc
                    self.closed = True
                    self.state = _ST_CLOSED
                    self._failed()
                    ev.append(("alert", desc, True))
                    ev.append(("closed",))
            else:  # change_cipher_spec
                if len(view) != 1 or view[0] != 1:
                    raise errors.TlsAlert(_DECODE_ERROR, "record")
                if self._hl:
                    raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "record")
                self._dispatch(_HT_CCS, None, None)

    def _on_handshake_bytes(self, view):
        """Whole messages are dispatched where they lie in the record. A message split across records is
        completed in the reassembly buffer first (taking from this record only what it still misses); the
        record's further messages are then dispatched in place, and a partial one at its end is kept. The
        buffer is sized to the message (at most hs_cap bytes: an RSA chain of 2.7 KB takes 2.7 KB, not the
        8 KB a chain may take), made when a message is split and dropped once it is handled."""
        cap = self.hs_cap
        hb = self._hb
        while self._hl and len(view) and not self.closed:
            hl = self._hl
            want = 4 + ((hb[1] << 16) | (hb[2] << 8) | hb[3]) if hl >= 4 else 4
            if want > cap:  # a message larger than we take (hs_cap): not malformed, too large
                raise errors.TlsAlert(_ILLEGAL_PARAMETER, "handshake message")
            if len(hb) < want:  # its header is complete now: a buffer of the message's size
                mv = bytearray(want)
                mv[0:hl] = hb[0:hl]
                hb = self._hb = mv
            k = min(want - hl, len(view))
            hb[hl:hl + k] = view[0:k]
            hl += k
            view = view[k:]
            self._hl = hl
            if hl >= 4 and hl == 4 + ((hb[1] << 16) | (hb[2] << 8) | hb[3]):
                self._hl = 0
                mv = memoryview(hb)
                self._hb = None  # (what the handler keeps of the message stays valid: the buffer is not reused)
                self._dispatch(hb[0], mv[4:hl], mv[0:hl])
                hb = mv = None
                if self._hl:  # -1: it changed the keys we read with (below)
                    self._hl = 0
                    if len(view):
                        raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "record")
        n = len(view)
        p = 0
        while n - p >= 4 and not self.closed:
            length = (view[p + 1] << 16) | (view[p + 2] << 8) | view[p + 3]
            if 4 + length > cap:
                raise errors.TlsAlert(_ILLEGAL_PARAMETER, "handshake message")
            if n - p < 4 + length:
                break
            self._dispatch(view[p], view[p + 4:p + 4 + length], view[p:p + 4 + length])
            p += 4 + length
            if self._hl:
                # -1 (microticket.tls.hs13.switch_read): the message changed the keys we read with, so it
                # must end its record (RFC 8446 section 5.1); no reference to the old keys is held meanwhile
                self._hl = 0
                if p < n:
                    raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "record")
        if p < n and not self.closed:
            n -= p  # (its length checked against hs_cap above when its header is here)
            k = 4 + ((view[p + 1] << 16) | (view[p + 2] << 8) | view[p + 3]) if n >= 4 else 4
            if hb is None or len(hb) < k:
                hb = self._hb = bytearray(k)
            hb[0:n] = view[p:p + n]
            self._hl = n

    def _dispatch(self, t, b, raw):
        """The handler of (state, message type) from the role's table, called as handler(self, type,
        body). Before it a peer's Finished is verified against the transcript before it (RFC 5246 section
        7.4.9) and the message joins the transcript; after a ChangeCipherSpec's handler (which may make
        the keys) the pending read state is switched on. A pair missing from the table is
        unexpected_message."""
        if self.trace is not None:
            self.trace.append(("recv", t))
        st = self.state
        fn = self._TABLE.get(st << 9 | t)
        if fn is None:
            if st == _ST_OPEN:
                self._after_handshake(t, b)
                return
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "unexpected message %d in state %d" % (t, st))
        if t == _HT_FINISHED and not _S13 <= st < _ST_OPEN:
            if len(b) != 12:
                raise errors.TlsAlert(_DECODE_ERROR, "Finished")
            if not crypto.ct_equal(self._finished(not self.is_client), b):
                raise errors.TlsAlert(_DECRYPT_ERROR, "Finished")
        if raw is not None:
            for h in self._th:
                h.update(raw)
        fn(self, t, b)
        if t == _HT_CCS and not _S13 <= st < _ST_OPEN:
            p = self._pend
            if p is None or p[1] is None:
                raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "CCS before keys")
            self.rl.read = p[1]
            self._pend = (p[0], None)

    # --- transcript and handshake output ---------------------------------------------------------

    def _take_hash(self):
        """The transcript hash so far (see the module note: at most two per handshake)."""
        d = self._fin_hash
        if d is not None:
            self._fin_hash = None
            return d
        if not self._th:
            raise errors.TlsAlert(_INTERNAL_ERROR, "transcript exhausted")
        return self._th.pop(0).digest()

    def _send_message(self, b):
        """The handshake message ``b`` (header included) joins the transcript and is sent as records of
        its own (the server composes a flight first: microticket.tls.server)."""
        if self.trace is not None:
            self.trace.append(("send", b[0]))
        for h in self._th:
            h.update(b)
        self.rl.write(_CT_HANDSHAKE, b)

    def _send_ccs_finished(self):
        """ChangeCipherSpec, the pending write state switched on, then our Finished."""
        rl = self.rl
        rl.write(_CT_CHANGE_CIPHER_SPEC, b"\x01")
        if self.trace is not None:
            self.trace.append(("send", _HT_CCS))
        rl.write_cs = self._pend[0]
        m = bytearray(16)
        m[0] = _HT_FINISHED
        m[3] = 12
        m[4:] = self._finished(self.is_client)
        self._send_message(m)

    # --- key schedule (RFC 5246 sections 6.3, 7.4.9 and 8.1, RFC 7627 section 4) ----------------------

    def _make_keys(self, key=None):
        """With the premaster secret ``key`` (a full handshake) the master secret first (RFC 5246 section
        8.1; RFC 7627 section 4: from the session hash when extended_master_secret was agreed); then the
        key block (client MAC, server MAC, client key, server key) -> the pending (write, read) cipher
        states of this role."""
        global prf
        if prf is None:
            # imported with the first keys, not with the engine: its code then fills holes the handshake
            # leaves in the heap instead of growing it (measured: a smaller minimum heap)
            from microticket import prf
        if key is not None:
            if self.ems:
                seed = self._fin_hash = self._take_hash()
                self.master = prf.tls12_prf(key, b"extended master secret", seed, 48)
            else:
                self.master = prf.tls12_prf(key, b"master secret", self.client_random + self.server_random, 48)
        w = suite_info(self.suite) >> 3
        # key block (RFC 5246 section 6.3): client MAC, server MAC, client key, server key, client IV,
        # server IV; AEAD suites have no MAC keys and a fixed IV (RFC 5288 section 3: 4 bytes; RFC 7905: 12)
        m = 0 if w > _C_CBC_SHA else (32 if w == _C_CBC_SHA256 else 20)
        k = 32 if w == _C_CHACHA else 16
        v = 0 if m else (12 if w == _C_CHACHA else 4)
        kb = prf.tls12_prf(self.master, b"key expansion", self.server_random + self.client_random, 2 * (m + k + v))
        p = 2 * m
        q = p + 2 * k
        if m:
            c = CipherState(kb[p:p + k], kb[0:m], self.etm, self.is_client)
            s = CipherState(kb[p + k:q], kb[m:p], self.etm, not self.is_client)
        else:  # the AEAD's modules are loaded only by the suites that use them
            from microticket.tls import record_aead
            c = record_aead.state(w, kb[p:p + k], kb[q:q + v])
            s = record_aead.state(w, kb[p + k:q], kb[q + v:q + 2 * v])
        self._pend = (c, s) if self.is_client else (s, c)
        if self.keylog is not None:
            self.keylog("CLIENT_RANDOM " + to_hex(self.client_random) + " " + to_hex(self.master))

    def _finished(self, client):
        """verify_data of the client's (``client``) or the server's Finished over the transcript so far."""
        return prf.tls12_prf(self.master, b"client finished" if client else b"server finished",
                             self._take_hash(), 12)


# === the client's half of the messages every handshake has (RFC 5246 section 7.4, RFC 5077 section 3) ===
#
# ClientHello built, ServerHello and NewSessionTicket parsed; the server's halves (ClientHello parsed with
# its extensions, ServerHello and NewSessionTicket built) are in microticket.tls.server, the same
# conventions. Certificate, ServerKeyExchange and ClientKeyExchange keep both halves in their key
# exchange's module (microticket.tls.kx_*). Everything works with index arithmetic on the message where
# it lies (no Reader/Writer objects); parsers check every length against the end of its enclosing
# structure (an overrun is a DecodeError or a TlsAlert naming the rule); builders return the whole
# message.

# --- ClientHello -----------------------------------------------------------------------------------

def client_hello(c, ticket, data=None):
    """The ClientHello of the client ``c`` (its random, session ID, suites and options ``c._opt``), with
    ``ticket`` in the session_ticket extension (None: an empty one) and, offering TLS 1.3, its extensions
    ``data`` [(type, bytes)] (microticket.tls.client13: they replace ours of the same types and come last,
    pre_shared_key the very last). Returns (message, extension types sent)."""
    name = c.server_name
    suites = c.suites
    opt = c._opt
    ext = []
    # server_name: a host name only, never an IPv4 or IPv6 literal (RFC 6066 section 3)
    if name and name.strip(b"0123456789.") and b":" not in name:
        n = len(name)
        ext.append((_EXT_SERVER_NAME, bytes(((n + 3) >> 8, (n + 3) & 0xFF, 0, n >> 8, n & 0xFF)) + name))
    mfl = (opt >> _O_MFL) & 7
    if mfl:
        ext.append((_EXT_MAX_FRAGMENT_LENGTH, bytes((mfl,))))
    kx = 0
    for s in suites:
        kx |= 1 << (suite_info(s) & 7)
    if kx & ~(1 << _KX_PSK | 1 << _KX_TLS13):
        ext.append((_EXT_SUPPORTED_GROUPS, b"\x00\x04\x00\x1d\x00\x17"))  # x25519, secp256r1
        ext.append((_EXT_EC_POINT_FORMATS, b"\x01\x00"))  # uncompressed
    if kx & (1 << _KX_ECDHE_RSA | 1 << _KX_ECDHE_ECDSA):
        # ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256 (RFC 8446 section 4.2.3)
        ext.append((_EXT_SIGNATURE_ALGORITHMS, b"\x00\x06\x04\x03\x08\x04\x04\x01"))
    a = getattr(c, "alpn", None)  # (a client that offers ALPN has the attribute: microticket.tls.alpn)
    if a is not None:
        ext.append((_EXT_ALPN, a))
    if opt & _O_TICKET:
        ext.append((_EXT_SESSION_TICKET, ticket or b""))
    if opt & _O_ETM:
        ext.append((_EXT_ENCRYPT_THEN_MAC, b""))
    if opt & _O_EMS:
        ext.append((_EXT_EXTENDED_MASTER_SECRET, b""))
    ext.append((_EXT_RENEGOTIATION_INFO, b"\x00"))
    if data is not None:
        t = [e[0] for e in data]
        ext = [e for e in ext if e[0] not in t] + data
    elen = 0
    for _, d in ext:
        elen += 4 + len(d)
    sid = c._sid
    ns = 2 * len(suites)
    body = 2 + 32 + 1 + len(sid) + 2 + ns + 2 + 2 + elen
    m = bytearray(4 + body)
    m[0] = _HT_CLIENT_HELLO
    m[1] = body >> 16
    m[2] = (body >> 8) & 0xFF
    m[3] = body & 0xFF
    m[4] = 3
    m[5] = 3
    m[6:38] = c.client_random
    m[38] = len(sid)
    p = 39 + len(sid)
    m[39:p] = sid
    m[p] = ns >> 8
    m[p + 1] = ns & 0xFF
    p += 2
    for s in suites:
        m[p] = s >> 8
        m[p + 1] = s & 0xFF
        p += 2
    m[p] = 1  # compression methods: null only
    put_extensions(m, p + 2, ext, elen)
    return m, tuple(t for t, _ in ext)


def put_extensions(m, p, ext, n):
    """Write the extensions block (uint16 length ``n`` of the (type, data) list ``ext``, then each
    extension's type, length and data) into ``m`` at ``p``: the hellos of both roles."""
    m[p] = n >> 8
    m[p + 1] = n & 0xFF
    p += 2
    for t, d in ext:
        n = len(d)
        m[p] = t >> 8
        m[p + 1] = t & 0xFF
        m[p + 2] = n >> 8
        m[p + 3] = n & 0xFF
        m[p + 4:p + 4 + n] = d
        p += 4 + n


# --- ServerHello -----------------------------------------------------------------------------------

def parse_server_hello(c, b):
    """Check the ServerHello body ``b`` against what the client ``c`` offered and take its fields:
    server_random, suite, ems, etm, max_fragment_length, whether a NewSessionTicket follows, whether the
    session ID was echoed (RFC 5077 section 3.4)."""
    n = len(b)
    if n < 38:
        raise errors.TlsAlert(_DECODE_ERROR, "ServerHello")
    if ((b[0] << 8) | b[1]) != _VERSION_TLS12:
        raise errors.TlsAlert(_PROTOCOL_VERSION, "ServerHello")
    sl = b[34]
    p = 35 + sl
    if sl > 32 or p + 3 > n:
        raise errors.TlsAlert(_DECODE_ERROR, "ServerHello")
    suite = (b[p] << 8) | b[p + 1]
    if suite not in c.suites:
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "ServerHello")
    if b[p + 2]:
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "ServerHello")
    p += 3
    sent = c._sent
    seen = 0
    if p < n:
        if p + 2 > n or p + 2 + ((b[p] << 8) | b[p + 1]) != n:
            raise errors.TlsAlert(_DECODE_ERROR, "ServerHello")
        p += 2
    while p < n:
        if p + 4 > n:
            raise errors.TlsAlert(_DECODE_ERROR, "ServerHello")
        t = (b[p] << 8) | b[p + 1]
        k = (b[p + 2] << 8) | b[p + 3]
        p += 4
        if p + k > n:
            raise errors.TlsAlert(_DECODE_ERROR, "ServerHello")
        if t not in sent:
            raise errors.TlsAlert(_UNSUPPORTED_EXTENSION, "ServerHello")
        bit = 1 << sent.index(t)
        if seen & bit:
            raise errors.TlsAlert(_DECODE_ERROR, "ServerHello")
        seen |= bit
        if t == _EXT_RENEGOTIATION_INFO:
            if k != 1 or b[p]:
                raise errors.TlsAlert(_HANDSHAKE_FAILURE, "ServerHello")
        elif t == _EXT_MAX_FRAGMENT_LENGTH:
            mfl = b[p]
            if k != 1 or not mfl or mfl != (c._opt >> _O_MFL) & 7:
                raise errors.TlsAlert(_ILLEGAL_PARAMETER, "ServerHello")
            rl = c.rl
            rl.max_out = min(rl.max_out, 256 << mfl)
            rl.max_in = min(rl.max_in, 256 << mfl)
        elif t == _EXT_SESSION_TICKET:
            # RFC 5077 section 3.2: empty (RFC 4507 servers may send 00 00)
            if k != 0 and (k != 2 or b[p] or b[p + 1]):
                raise errors.TlsAlert(_DECODE_ERROR, "ServerHello")
            c._opt |= _O_EXPECT_NST
        elif t == _EXT_ALPN:
            from microticket.tls import alpn
            c.alpn_protocol = alpn.parse(c, b[p:p + k])
        elif t != _EXT_EC_POINT_FORMATS and t != _EXT_SUPPORTED_GROUPS and k:
            raise errors.TlsAlert(_DECODE_ERROR, "ServerHello")  # server_name, etm, ems: empty
        elif t == _EXT_EXTENDED_MASTER_SECRET:
            c.ems = True
        elif t == _EXT_ENCRYPT_THEN_MAC:
            c.etm = True
        p += k
    c.server_random = bytes(b[2:34])
    c.suite = suite
    sid = c._sid
    if c.offered is not None and len(sid) > 0 and sl == 32 and bytes(b[35:67]) == sid:
        c._opt |= _O_ECHOED


# --- NewSessionTicket (RFC 5077 section 3.3) ---------------------------------------------------------

def parse_new_session_ticket(b):
    """(ticket_lifetime_hint, ticket bytes) of a NewSessionTicket body."""
    n = len(b)
    if n < 6 or 6 + ((b[4] << 8) | b[5]) != n:
        raise errors.TlsAlert(_DECODE_ERROR, "NewSessionTicket")
    return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3], bytes(b[6:n])
