"""Gateway-side IKEv2 tickets (RFC 5723 section 6 and Appendix A).

State carried for one IKE SA ("from the ticket" items of section 5), ``TicketState``:
    IDi, IDr (ID payload bodies), SPIi, SPIr of the SA the ticket belongs to (Note 4: only to find and
    delete that SA, never reused), SA (the SAr payload body: the suite), SK_d, authentication method,
    expiration (absolute), auth_time (when the peer last really authenticated: a ticket issued on a
    resumed SA never outlives auth_time + re-authentication time).

By value (Appendix A.1 layout), key material from a microticket.ticket.KeyRing (rotation by key_id, the
first 8 octets of the ring key's name, looked up with KeyRing.find_key, so a key past its decrypt window
opens nothing here either; AES-128-CBC + HMAC-SHA-256 over the whole protected part):
    format_version(1)=1 | reserved[3]=0 | key_id[8] | IV[16] | AES-128-CBC(state | PKCS#7 pad) | MAC[32]

By reference (Appendix A.2): the state stays in a bounded ``RefStore`` on the gateway (or any store with
its put/get/remove, such as a fleet's shared one, microticket.fleet.redis_ike):
    format_version(1)=1 | reserved[3] | key_id[8] | u8 len | state_ref[16] | expiration u32 | MAC[32]

``open_*`` checks in this order: length -> version -> key_id lookup (no crypto for unknown keys) ->
MAC in constant time -> decrypt / fetch -> padding -> expiration; a refusal raises TicketRejected(reason).
One-time use: ``UsedTickets`` is a two-generation Bloom filter of the MACs of used or revoked tickets
(section 9.8's invalid ticket list in constant space); a generation lives one maximum ticket lifetime, so
an entry is kept at least until its ticket expired. False positives only cost a full exchange.
Claiming a ticket is one call that says whether this call made the claim: ``used.add(token, now)`` (True: it
was not in the list) or ``refs.remove(ref)`` (True: the state was there), so a shared store can make it one
atomic step (SET NX, DEL) and a ticket raced at two gateways is accepted by one of them only.
"""

from micropython import const
from microticket import crypto
from microticket.errors import DecodeError, TicketRejected
from microticket.wire import Reader, Writer

FORMAT_VERSION = const(1)
KEY_ID_LEN = const(8)
MAC_LEN = const(32)
REF_LEN = const(16)
_MAX_TICKET = const(1024)
_MAX_SKEW = const(60)


class TicketState:
    def __init__(self, idi, idr, spi_i, spi_r, sa, sk_d, auth_method, expiration, auth_time):
        self.idi = idi
        self.idr = idr
        self.spi_i = spi_i
        self.spi_r = spi_r
        self.sa = sa
        self.sk_d = sk_d
        self.auth_method = auth_method
        self.expiration = expiration
        self.auth_time = auth_time

    def encode(self):
        n = 2 + len(self.idi) + 2 + len(self.idr) + 16 + 2 + len(self.sa) + 1 + len(self.sk_d) + 1 + 8
        buf = bytearray(n)
        w = Writer(buf)
        w.vec(2, self.idi)
        w.vec(2, self.idr)
        w.put(self.spi_i)
        w.put(self.spi_r)
        w.vec(2, self.sa)
        w.vec(1, self.sk_d)
        w.u8(self.auth_method)
        w.u32(self.expiration)
        w.u32(self.auth_time)
        return bytes(buf)

    @classmethod
    def decode(cls, data):
        r = Reader(data)
        idi = bytes(r.vec(2, 4, 300))
        idr = bytes(r.vec(2, 4, 300))
        spi_i = bytes(r.take(8))
        spi_r = bytes(r.take(8))
        sa = bytes(r.vec(2, 8, 600))
        sk_d = bytes(r.vec(1, 16, 64))
        meth = r.u8()
        exp = r.u32()
        at = r.u32()
        r.done()
        return cls(idi, idr, spi_i, spi_r, sa, sk_d, meth, exp, at)


def _check_expiry(exp, now, max_lifetime):
    if now >= exp:
        raise TicketRejected("expired")
    if exp > now + max_lifetime + _MAX_SKEW:
        raise TicketRejected("too-long")


# --- by value ----------------------------------------------------------------------------------------

def _begin(buf, key):
    """A Writer over buf after the common head of both ticket forms: format_version, reserved[3], key_id."""
    w = Writer(buf)
    w.u8(FORMAT_VERSION)
    w.zeros(3)
    w.put(key.name[:KEY_ID_LEN])
    return w


def seal_value(ring, state, rng):
    """A ticket by value under the ring's newest key."""
    key = ring.sealing_key()
    plain = state.encode()
    pad = 16 - len(plain) % 16
    body = bytearray(len(plain) + pad)
    body[:len(plain)] = plain
    for i in range(len(plain), len(body)):
        body[i] = pad
    iv = rng(16)
    ct = crypto.aes_cbc_encrypt(key.aes_key, iv, body)
    n = 12 + 16 + len(ct) + MAC_LEN
    buf = bytearray(n)
    w = _begin(buf, key)
    w.put(iv)
    w.put(ct)
    w.put(key.hmac.mac(memoryview(buf)[:n - MAC_LEN]))
    return bytes(buf)


def open_value(ring, ticket, now, max_lifetime):
    n = len(ticket)
    if n < 12 + 16 + 16 + MAC_LEN or n > _MAX_TICKET or (n - 12 - 16 - MAC_LEN) % 16:
        raise TicketRejected("malformed")
    if ticket[0] != FORMAT_VERSION:
        raise TicketRejected("malformed")
    key = ring.find_key(bytes(ticket[4:12]), now)
    if key is None:
        raise TicketRejected("unknown-key")
    mac = key.hmac.mac(memoryview(ticket)[:n - MAC_LEN])
    if not crypto.ct_equal(mac, ticket[n - MAC_LEN:]):
        raise TicketRejected("bad-mac")
    body = crypto.aes_cbc_decrypt(key.aes_key, bytes(ticket[12:28]), bytes(ticket[28:n - MAC_LEN]))
    pad = body[len(body) - 1]
    if pad < 1 or pad > 16:
        raise TicketRejected("bad-padding")
    for i in range(len(body) - pad, len(body)):
        if body[i] != pad:
            raise TicketRejected("bad-padding")
    try:
        st = TicketState.decode(body[:len(body) - pad])
    except DecodeError:
        raise TicketRejected("malformed")
    _check_expiry(st.expiration, now, max_lifetime)
    return st


# --- by reference ------------------------------------------------------------------------------------

class RefStore:
    """Bounded ticket store for tickets by reference: state_ref -> TicketState, oldest evicted first."""

    def __init__(self, capacity=64):
        self.capacity = capacity
        self._map = {}
        self._order = []

    def put(self, ref, state):
        while len(self._order) >= self.capacity:
            old = self._order.pop(0)
            self._map.pop(old, None)
        self._map[ref] = state
        self._order.append(ref)

    def get(self, ref):
        return self._map.get(ref)

    def remove(self, ref):
        """True if ``ref`` was held (the caller is the one that removed it)."""
        if ref in self._map:
            del self._map[ref]
            self._order.remove(ref)
            return True
        return False

    def __len__(self):
        return len(self._order)


def seal_reference(ring, store, state, rng):
    key = ring.sealing_key()
    ref = rng(REF_LEN)
    store.put(ref, state)
    n = 12 + 1 + REF_LEN + 4 + MAC_LEN
    buf = bytearray(n)
    w = _begin(buf, key)
    w.u8(REF_LEN)
    w.put(ref)
    w.u32(state.expiration)
    w.put(key.hmac.mac(memoryview(buf)[:n - MAC_LEN]))
    return bytes(buf)


def open_reference(ring, store, ticket, now, max_lifetime):
    """(state, ref) for a ticket by reference; the entry stays in the store until ``store.remove(ref)``."""
    n = len(ticket)
    if n != 12 + 1 + REF_LEN + 4 + MAC_LEN or ticket[0] != FORMAT_VERSION or ticket[12] != REF_LEN:
        raise TicketRejected("malformed")
    key = ring.find_key(bytes(ticket[4:12]), now)
    if key is None:
        raise TicketRejected("unknown-key")
    mac = key.hmac.mac(memoryview(ticket)[:n - MAC_LEN])
    if not crypto.ct_equal(mac, ticket[n - MAC_LEN:]):
        raise TicketRejected("bad-mac")
    p = 13 + REF_LEN
    exp = (ticket[p] << 24) | (ticket[p + 1] << 16) | (ticket[p + 2] << 8) | ticket[p + 3]
    _check_expiry(exp, now, max_lifetime)
    ref = bytes(ticket[13:13 + REF_LEN])
    st = store.get(ref)
    if st is None:
        raise TicketRejected("unknown-reference")
    return st, ref


def ticket_token(ticket):
    """The value the invalid ticket list remembers: the ticket's MAC (unique per issued ticket)."""
    return bytes(ticket[len(ticket) - MAC_LEN:]) if len(ticket) >= MAC_LEN else crypto.sha256(ticket)


class UsedTickets:
    """Two-generation Bloom filter (RFC 5723 section 9.8) of ticket tokens; constant space. ``capacity``: the
    tokens one generation (one ``period``) holds at a false-positive rate under 0.1%: 16 bits and 8 hashes a
    token (a false positive costs a full exchange; past its capacity the rate climbs: with 4x as many, 1 in
    2). ``bits`` overrides the size."""

    def __init__(self, period, bits=None, hashes=8, now=0, capacity=512):
        self.period = period
        if bits is None:
            bits = max(1024, 16 * capacity)
        bits = (bits + 7) & ~7
        self.bits = bits
        self.hashes = min(hashes, 8)  # (8 indexes of 32 bits in one SHA-256)
        self._cur = bytearray(bits // 8)
        self._old = bytearray(bits // 8)
        self._since = now

    def _roll(self, now):
        if now - self._since >= self.period:
            if now - self._since >= 2 * self.period:
                self._old = bytearray(self.bits // 8)
            else:
                self._old = self._cur
            self._cur = bytearray(self.bits // 8)
            self._since = now

    def _idx(self, token):
        h = crypto.sha256(token)
        out = []
        for i in range(self.hashes):
            out.append(((h[4 * i] << 24) | (h[4 * i + 1] << 16) | (h[4 * i + 2] << 8) | h[4 * i + 3])
                       % self.bits)
        return out

    def add(self, token, now):
        """True if ``token`` was not in the list yet (a false positive says False: a full exchange)."""
        new = token not in self
        self._roll(now)
        for i in self._idx(token):
            self._cur[i >> 3] |= 1 << (i & 7)
        return new

    def __contains__(self, token):
        idx = self._idx(token)
        for bank in (self._cur, self._old):
            hit = True
            for i in idx:
                if not bank[i >> 3] & (1 << (i & 7)):
                    hit = False
                    break
            if hit:
                return True
        return False
