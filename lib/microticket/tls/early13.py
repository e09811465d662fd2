"""TLS 1.3 0-RTT early data (RFC 8446 sections 2.3, 4.2.10, 4.6.1, 7.1, 8), both roles. Loaded only when a
ClientHello carries early_data (server) or a client offers it: by a bytes import name from
microticket.tls.server13, microticket.tls.client and microticket.tls.client13, so no other path holds a
name of it (a board server's and a resuming client's names sit at the edges of their qstr pools).

Server (``ServerConfig.max_early`` bytes, 0 by default: off). Its tickets carry early_data with that limit
and, sealed in their state, the limit and the connection's ALPN (microticket.tls.state's early-data tail).
Early data is accepted only when all hold (``answer``): the server takes it (max_early), the ticket is
the first PSK identity and was issued with early data within our current limit, same suite, same ALPN
(none both times, or the same protocol), no HelloRetryRequest, the ticket's age within the freshness
window of microticket.tls.server13 (an older ticket is not selected at all), and the ticket is used
for the first time: single-use tickets (section 8.1), kept in the one-time-use list of
microticket.ike.ticket (UsedTickets, a two-generation Bloom filter, one per ServerConfig) for
_USED_PERIOD seconds, longer than the freshness window, so a replayed ClientHello either fails the age
check or finds its ticket used. A refused one says why in ``early_rejected`` (off, identity, ticket,
suite, alpn, replay, retry); the handshake resumes as without early data.

    accepted   EncryptedExtensions carries early_data; the client's records are read with the
               client_early_traffic_secret: each application_data record is an ("early_data", bytes)
               event (before the handshake is done: the data may be a replay's, section 8), more than
               max_early bytes is unexpected_message; EndOfEarlyData (the only handshake message taken
               then; its absence is unexpected_message) switches to the handshake keys, and the client's
               Finished is checked over it
    rejected   after the ServerHello the client's records that do not open with its handshake keys are
               skipped (section 4.2.10) up to the limit (max_early, or the ticket's; 16384 bytes when
               both are 0), then unexpected_message; after a HelloRetryRequest the records of type
               application_data are skipped until the second ClientHello (which must not carry
               early_data: illegal_parameter)

The skipping and the early keys are a read cipher state of the record layer's kind (a list whose first
item opens a record, microticket.tls.record13): a record consumed here (early data, or one skipped) is
handed to the engine as a ChangeCipherSpec, which the TLS 1.3 tables drop. The connection's line for
tls-server: ``early_data_line``.

Client (``Client.early_data`` bytes, set before start()): offered when the cached TLS 1.3 ticket says
max_early_data_size > 0 and the data fits it (client13.start). After the ClientHello: the ChangeCipherSpec
of middlebox compatibility (appendix D.4: right after the ClientHello when sending early data), then the
data under the client_early_traffic_secret (keylog CLIENT_EARLY_TRAFFIC_SECRET). EncryptedExtensions
decides ``early_accepted`` (True / False): accepted, the server must have taken our PSK with the
ticket's suite and ALPN (illegal_parameter otherwise) and EndOfEarlyData goes before our Finished;
rejected, the data is NOT re-sent by the engine (section 4.2.10 leaves that to the application, which
knows whether the request may be repeated after the handshake: tls-client re-sends it).
"""

from micropython import const

from microticket import crypto
from microticket import errors
from microticket.tls import hs13, keys13, record13

_CT_APPLICATION_DATA = const(23)
_CT_CCS = const(20)
_HT_END_OF_EARLY_DATA = const(5)
_HT_CLIENT_HELLO = const(1)
_HT_CCS = const(0x100)
_UNEXPECTED_MESSAGE = const(10)
_BAD_RECORD_MAC = const(20)
_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_EXT_EARLY_DATA = const(42)
_SKIP_DEFAULT = const(16384)  # what a rejecting server skips when neither it nor the ticket says a limit
_USED_PERIOD = const(60)      # seconds the one-time-use list keeps a ticket (> the freshness window, 11 s)
_ST_EOED = const(35)          # server: EndOfEarlyData (server13's states are 33, 34, 99)
_ST_FIN = const(34)
_SEQ = const(4)               # record13's sequence number item
# client: the _opt bits (microticket.tls.client, client13)
_O_PSK_OK = const(0x4000)
_O_EARLY_OK = const(0x40000)
_E_SUITE = const(2)           # cache entry fields (microticket.tls.cache)
_E_EARLY = const(9)
# the read state's items: [open, (write: unused), cipher state, engine, bytes left, [start, n, type]]
_W_CS = const(2)
_W_ENG = const(3)
_W_LEFT = const(4)
_W_R = const(5)


def _limit(t):
    # max_early_data_size of an early-data tail (uint32 | alpn<0..255>), 0 without one
    return (t[0] << 24) | (t[1] << 16) | (t[2] << 8) | t[3] if len(t) >= 5 else 0


def _alpn(t):
    return bytes(t[5:5 + t[4]]) if len(t) >= 5 else b""


def _dropped(w, b, start):
    # a record consumed here, handed to the engine as a ChangeCipherSpec (its table drops it)
    b[start] = 1
    r = w[_W_R]
    r[0] = start
    r[1] = 1
    r[2] = _CT_CCS
    return r


# --- server ------------------------------------------------------------------------------------------

def answer(s, st, sel, prefix, retry, psk, body, ee):
    """The ClientHello (its body ``body``, pre_shared_key ``psk``) of the server ``s`` offered early data:
    the bytes of it we take (early_data appended to EncryptedExtensions' ``ee``), or 0 (rejected: then
    switch_read skips it). ``st``/``sel``: the selected ticket's state and identity index (None / -1: none),
    ``prefix`` not None for a second ClientHello, ``retry`` a HelloRetryRequest follows."""
    if prefix is not None:
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "early_data in the second ClientHello")
    cfg = s.cfg
    m = getattr(cfg, "max_early", 0)
    tail = st.max_early if st is not None else b""
    tm = _limit(tail)
    s._early = [None, max(m, tm) or _SKIP_DEFAULT]
    why = None
    if retry:
        why = "retry"
        s.rl.read = [_hrr_open, None, None, s, s._early[1], [0, 0, 0]]
    elif not m:
        why = "off"
    elif st is None or sel:
        why = "identity"
    elif not tm or tm > m:
        why = "ticket"
    elif st.cipher_suite != s.suite:
        why = "suite"
    elif _alpn(tail) != (s.alpn_protocol or b""):
        why = "alpn"
    else:
        used = getattr(cfg, "early_used", None)
        if used is None:
            from microticket.ike.ticket import UsedTickets
            used = cfg.early_used = UsedTickets(_USED_PERIOD, now=s.now)
        if not used.add(bytes(psk[0][0][0]), s.now):
            why = "replay"
    if why is not None:
        s.early_rejected = why
        s.early_data_line = ", early data: rejected (%s)" % why
        return 0
    n = len(body)
    h = crypto.hash_new("sha256", bytes((_HT_CLIENT_HELLO, n >> 16, (n >> 8) & 0xFF, n & 0xFF)))
    h.update(body)
    s._early[0] = keys13.label(keys13.stage(None, st.master_secret), b"\x00\x20\x11tls13 c e traffic", h.digest())
    s._early[1] = m
    s.early_data_line = ", early data: accepted (0 bytes)"
    hs13._log(s, b"CLIENT_EARLY_TRAFFIC_SECRET", s._early[0])
    ee.append((_EXT_EARLY_DATA, b""))
    return m


def switch_read(s, key, acc):
    """After the server's flight: read the client's early data with its early keys (``acc`` bytes at most),
    or skip it (answer's limit). ``key``: the PSK (unused: the secret was derived by answer)."""
    e = s._early
    if acc:
        s.rl.read = [_accept_open, None, hs13._cs(s, e[0]), s, acc, [0, 0, 0]]
        s._TABLE = _server_table(s._TABLE)
        s.state = _ST_EOED
        s.early_data_bytes = 0
    else:
        s.rl.read = [_skip_open, None, s.rl.read, s, e[1], [0, 0, 0]]
    s._early = None


def _server_table(t):
    d = dict(t)
    d[_ST_EOED << 9 | _HT_CCS] = hs13.on_ccs
    d[_ST_EOED << 9 | _HT_END_OF_EARLY_DATA] = _on_end_of_early_data
    return d


def _accept_open(w, b, t, start, length):
    r = record13.open(w[_W_CS], b, t, start, length)
    if r[2] == _CT_APPLICATION_DATA:
        s = w[_W_ENG]
        n = r[1]
        w[_W_LEFT] -= n
        if w[_W_LEFT] < 0:
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "more early data than max_early_data_size")
        s.events.append(("early_data", bytes(b[r[0]:r[0] + n])))
        s.early_data_bytes += n
        s.early_data_line = ", early data: accepted (%d bytes)" % s.early_data_bytes
        return _dropped(w, b, r[0])
    return r


def _on_end_of_early_data(s, t, b):
    """EndOfEarlyData (section 4.5, empty): the handshake keys read from now on, and the client's Finished
    is checked over the transcript through it (the extra snapshot server13 took)."""
    if len(b):
        raise errors.TlsAlert(_DECODE_ERROR, "EndOfEarlyData")
    s.rl.read = None
    hs13.switch_read(s, True)
    s._fin_hash = None
    s._fin_hash = s._take_hash()
    from microticket.tls import server13
    s._TABLE = server13.TABLE
    s.state = _ST_FIN


def _skip_open(w, b, t, start, length):
    # rejected: a record that does not open with the handshake keys is skipped (its sequence number given
    # back); the first that opens ends the skipping
    cs = w[_W_CS]
    if t != _CT_APPLICATION_DATA:
        return record13.open(cs, b, t, start, length)
    seq = cs[_SEQ]
    try:
        r = record13.open(cs, b, t, start, length)
    except errors.TlsAlert as e:
        if e.description != _BAD_RECORD_MAC:
            raise
        cs[_SEQ] = seq
        w[_W_LEFT] -= length - cs[3] - 1  # (at most the plaintext's length: tag and type byte off)
        if w[_W_LEFT] < 0:
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "early data past max_early_data_size")
        return _dropped(w, b, start)
    w[_W_ENG].rl.read = cs
    return r


def _hrr_open(w, b, t, start, length):
    # after a HelloRetryRequest: application_data records skipped until the second ClientHello (plaintext)
    if t == _CT_APPLICATION_DATA:
        w[_W_LEFT] -= length
        if w[_W_LEFT] < 0:
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "early data past max_early_data_size")
        return _dropped(w, b, start)
    if t != _CT_CCS:
        w[_W_ENG].rl.read = None
    r = w[_W_R]
    r[0] = start
    r[1] = length
    r[2] = t
    return r


# --- client ------------------------------------------------------------------------------------------

def start(c):
    """After our ClientHello (microticket.tls.client.start): the ChangeCipherSpec, then ``early_data`` under
    the client_early_traffic_secret (Hash(ClientHello), the PSK of the offered ticket)."""
    kx = c._kx
    # client13's _K_PSK, _K_CH1
    sec = keys13.label(keys13.stage(None, kx[4]), b"\x00\x20\x11tls13 c e traffic", kx[3])
    hs13._log(c, b"CLIENT_EARLY_TRAFFIC_SECRET", sec)
    hs13.send_ccs(c)
    c.suite = c.offered[_E_SUITE]  # (the ticket's: the keys' suite; the ServerHello sets it again)
    cs = hs13._cs(c, sec)
    c.suite = 0
    rl = c.rl
    rl.write_cs = cs
    rl.write(_CT_APPLICATION_DATA, c.early_data)
    rl.write_cs = None
    c._early = cs


def parse(c, early):
    """EncryptedExtensions said whether the server took our early data (``early``); accepted, it must have
    taken our ticket with its suite and ALPN (section 4.2.10)."""
    e = c.offered
    if early:
        t = e[_E_EARLY]
        if not c._opt & _O_PSK_OK or c.suite != e[_E_SUITE] or (c.alpn_protocol or b"") != _alpn(t):
            raise errors.TlsAlert(_ILLEGAL_PARAMETER, "EncryptedExtensions early_data")
        c._opt |= _O_EARLY_OK
    else:
        c._early = None
    c.early_accepted = bool(early)


def finished_message(c):
    """Accepted: EndOfEarlyData under the early keys, before our Finished (and Certificate); returns the
    transcript hash through it."""
    rl = c.rl
    w = rl.write_cs
    rl.write_cs = c._early
    c._send_message(b"\x05\x00\x00\x00")
    rl.write_cs = w
    c._early = None
    return c._take_hash()
