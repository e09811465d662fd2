"""The sans-IO machinery shared by TlsClient and TlsServer.

    conn.receive_data(data, now) -> [events]      bytes from the peer in, events out
    conn.data_to_send() -> bytes                   bytes for the peer (drain after every call)
    conn.send(data)                                application data (after the handshake)
    conn.close()                                   close_notify

Events are tuples: ("handshake_done",), ("data", bytes), ("ticket", ...), ("alert", description,
received), ("closed",). An error never escapes receive_data: it becomes a fatal alert in the output,
an ("alert", description, False) event and a closed connection.

The input path (receive_data, received, recv_view, the record types, the framing of handshake messages),
the error path, data_to_send, send and close come from microticket.tls.record.Endpoint, the base PskClient
shares.

Handshake states are small ints; each engine has a transition table {state << 9 | message type: handler}.
A (state, type) pair missing from the table is an unexpected_message alert (RFC 5246 section 7.2.2).

Transcript hash: hashlib objects have no copy() and digest() finalises, so the engine runs TWO SHA-256
hashes over the same handshake messages. A TLS 1.2 handshake needs the transcript hash at exactly two
points: (full) after ClientKeyExchange - for the extended master secret and the client Finished - and
before the server Finished; (abbreviated) before the server Finished and before the client Finished. Each
snapshot finalises one of the two hashes. No transcript bytes are buffered.
"""

from micropython import const

from microticket import crypto
from microticket.errors import TlsAlert
from microticket.wire import Reader, Writer
from microticket.tls import to_hex
from microticket.tls.record import Endpoint, RecordLayer, CipherState

prf = None  # microticket.prf, imported by the key schedule (see _load_prf)

_CT_CHANGE_CIPHER_SPEC = const(20)
_CT_HANDSHAKE = const(22)
_HT_FINISHED = const(20)
_HT_CCS = const(0x100)
_UNEXPECTED_MESSAGE = const(10)
_DECRYPT_ERROR = const(51)
_INTERNAL_ERROR = const(80)
_MAX_PLAINTEXT = const(16384)
_PSK_WITH_AES_128_CBC_SHA256 = const(0x00AE)
_ECDHE_PSK_WITH_AES_128_CBC_SHA256 = const(0xC037)
_ECDHE_RSA_WITH_AES_128_CBC_SHA256 = const(0xC027)

ST_OPEN = const(100)
ST_CLOSED = const(101)

_HS_CAP_DEFAULT = const(8192)


class Connection(Endpoint):
    is_client = False

    def __init__(self, rng=None, keylog=None, max_fragment=_MAX_PLAINTEXT, hs_cap=_HS_CAP_DEFAULT,
                 wb_cap=0, out_cap=0, reuse=None):
        """Buffers, allocated here and never grown: ``wb_cap`` bytes for one outgoing flight before it is
        framed, and the record layer's input (one record of ``max_fragment`` plaintext plus overhead) and
        output (a flight plus one record of ``max_fragment``). ``hs_cap`` bounds one incoming handshake
        message. Messages are parsed where they lie in the record buffer; only a message that spans
        records is copied, into a reassembly buffer of ``hs_cap`` bytes. That buffer is allocated here
        when ``hs_cap`` exceeds ``max_fragment`` (messages larger than a record are expected: a
        certificate chain), and otherwise on the first message a peer splits across records (rare:
        a server of the 2 KB board profile never needs it). ``reuse``: a finished connection of the same
        sizes whose buffers this one takes over (no allocation; the old connection must not be used
        again), or what its buffers() returned."""
        self.rng = rng = rng or crypto.urandom
        self.keylog = keylog
        wb_cap = wb_cap or hs_cap
        out_cap = out_cap or (wb_cap + max_fragment + 1024)
        if reuse is not None and not isinstance(reuse, tuple):
            reuse = reuse.buffers()
        rl = reuse[0] if reuse is not None else None
        if rl is not None and rl.in_cap - rl.OVERHEAD_IN == max_fragment and len(rl._ob) == out_cap and \
                reuse[3] == hs_cap and len(reuse[2]) == wb_cap:
            rl.reset(rng)
            hb = reuse[1]
            wb = reuse[2]
        else:
            rl = RecordLayer(max_fragment, out_cap, rng)
            hb = bytearray(hs_cap) if hs_cap > max_fragment else None
            wb = bytearray(wb_cap)
        self.rl = rl
        self.hs_cap = hs_cap
        self._hb = hb  # reassembly of a handshake message that spans records (None: not needed yet)
        self._hl = 0
        self._mtype = 0  # type of the message being dispatched
        self._wb = wb  # outgoing handshake flight
        self._wv = memoryview(wb)
        self._w = Writer(self._wb)
        self._th = [crypto.hash_new("sha256"), crypto.hash_new("sha256")]
        self._fin_hash = None
        self.state = 0
        self.now = 0
        self.events = []
        self.closed = False
        self.alert_sent = None
        self.alert_received = None
        self.handshake_done = False
        self.resumed = False
        self.suite = 0
        self.ems = False
        self.etm = False
        self.client_random = b""
        self.server_random = b""
        self.master = None
        self.ticket_received = False
        self._pend_read = None
        self._pend_write = None
        self.trace = None  # set to a list to record ("send"|"recv", message type) for tests

    # --- public API (receive_data, received, recv_view, data_to_send, send, close: from Endpoint) ----

    def buffers(self):
        """The buffers of this finished connection, for ``reuse=`` of the next one: taking them first
        lets the old connection (keys, messages, its attribute table) go before the new one is built."""
        return (self.rl, self._hb, self._wb, self.hs_cap)

    def _on_error(self, e):
        self._w.pos = 0  # a flight half written when the error came is not sent
        Endpoint._on_error(self, e)

    def suite_name(self):
        s = self.suite
        if s == _PSK_WITH_AES_128_CBC_SHA256:
            return "TLS_PSK_WITH_AES_128_CBC_SHA256"
        if s == _ECDHE_PSK_WITH_AES_128_CBC_SHA256:
            return "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256"
        if s == _ECDHE_RSA_WITH_AES_128_CBC_SHA256:
            return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"
        return "0x%04x" % s

    def _dispatch(self, mtype, body, raw):
        self._mtype = mtype
        if self.trace is not None:
            self.trace.append(("recv", mtype))
        fn = self._TABLE.get(self.state << 9 | mtype)
        if fn is None:
            if self.state == ST_OPEN:
                self._after_handshake(mtype, body)
                return
            raise TlsAlert(_UNEXPECTED_MESSAGE, "unexpected message %d in state %d" % (mtype, self.state))
        if raw is not None and self.state != ST_OPEN:
            if mtype == _HT_FINISHED:
                self._peer_fin_hash = self._take_hash()
            self._hash(raw)
        fn(self, body)

    def _after_handshake(self, mtype, body):
        raise TlsAlert(_UNEXPECTED_MESSAGE, "handshake message after the handshake")

    # --- transcript ------------------------------------------------------------------------------

    def _hash(self, data):
        for h in self._th:
            h.update(data)

    def _take_hash(self):
        """The transcript hash so far (see the module note: at most two per handshake)."""
        if self._fin_hash is not None:
            d = self._fin_hash
            self._fin_hash = None
            return d
        if not self._th:
            raise TlsAlert(_INTERNAL_ERROR, "transcript exhausted")
        return self._th.pop(0).digest()

    # --- output ----------------------------------------------------------------------------------

    def _msg_done(self, start):
        if self.trace is not None:
            self.trace.append(("send", self._wb[start]))
        self._hash(self._wv[start:self._w.pos])

    def _flush(self):
        w = self._w
        if w.pos:
            self.rl.write(_CT_HANDSHAKE, self._wv[0:w.pos])
            w.pos = 0

    def _send_ccs(self):
        self._flush()
        self.rl.write(_CT_CHANGE_CIPHER_SPEC, b"\x01")
        if self.trace is not None:
            self.trace.append(("send", _HT_CCS))
        self.rl.write_cs = self._pend_write
        self._pend_write = None

    def _send_finished(self):
        label = b"client finished" if self.is_client else b"server finished"
        vd = prf.tls12_prf(self.master, label, self._take_hash(), 12)
        w = self._w
        s = w.pos
        w.u8(_HT_FINISHED)
        w.u24(12)
        w.put(vd)
        self._msg_done(s)
        self._flush()

    def _check_peer_finished(self, body):
        vd = Reader(body)
        got = vd.take(12)
        vd.done()
        label = b"server finished" if self.is_client else b"client finished"
        want = prf.tls12_prf(self.master, label, self._peer_fin_hash, 12)
        if not crypto.ct_equal(want, got):
            raise TlsAlert(_DECRYPT_ERROR, "bad Finished")

    def _on_ccs_activate(self):
        if self._pend_read is None:
            raise TlsAlert(_UNEXPECTED_MESSAGE, "CCS before keys")
        self.rl.read = self._pend_read
        self._pend_read = None

    def _failed(self):
        """Hook: the handshake (or connection) failed."""

    # --- key schedule (RFC 5246 section 6.3 and 8.1, RFC 7627 section 4) -------------------------

    @staticmethod
    def _load_prf():
        # imported when the first keys are made, not with the engine: its code then fills holes the
        # handshake leaves in the heap instead of growing it (measured: a smaller minimum heap)
        global prf
        if prf is None:
            from microticket import prf

    def _make_master(self, premaster):
        self._load_prf()
        if self.ems:
            seed = self._fin_hash = self._take_hash()
            self.master = prf.tls12_prf(premaster, b"extended master secret", seed, 48)
        else:
            self.master = prf.tls12_prf(premaster, b"master secret",
                                           self.client_random + self.server_random, 48)

    def _make_keys(self):
        self._load_prf()
        kb = prf.tls12_prf(self.master, b"key expansion", self.server_random + self.client_random, 96)
        cmac = kb[0:32]
        smac = kb[32:64]
        ckey = kb[64:80]
        skey = kb[80:96]
        if self.is_client:
            self._pend_write = CipherState(ckey, cmac, self.etm, True)
            self._pend_read = CipherState(skey, smac, self.etm, False)
        else:
            self._pend_write = CipherState(skey, smac, self.etm, True)
            self._pend_read = CipherState(ckey, cmac, self.etm, False)
        if self.keylog is not None:
            self.keylog("CLIENT_RANDOM " + to_hex(self.client_random) + " " + to_hex(self.master))

    def _set_max_fragment(self, size):
        self.rl.max_out = min(self.rl.max_out, size)
        self.rl.max_in = min(self.rl.max_in, size)

