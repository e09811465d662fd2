"""Sealed session tickets: the recommended construction of RFC 5077 section 4.

    ticket = key_name[16] | iv[16] | uint16 len | encrypted_state[len] | mac[32]
    mac    = HMAC-SHA-256(hmac_key, key_name | iv | len | encrypted_state)
    encrypted_state = AES-128-CBC(aes_key, iv, uint32 created | state | PKCS#7 padding)

The "draft07" profile (draft-salowey-tls-ticket-07 section 4, i.e. RFC 4507) is the same layout with
HMAC-SHA1 and mac[20].

``created`` is microticket's addition inside the encryption: the time the *session* was first established.
A renewed ticket keeps it, so renewing never extends a session past ``lifetime`` (RFC 5077 section 5.6).

KeyRing holds the keys, newest first. The newest key seals; every key still inside its decrypt window opens.
A key stops sealing when a newer one is made (rotate), and tickets it sealed are at most ``lifetime`` old at
that moment, so it can be dropped ``lifetime`` seconds later: that is its window. Other ticket formats
(microticket.ike.ticket, RFC 5723) take their keys through ``sealing_key()`` and ``find_key(name, now)``,
which applies the same window.

Randomness is injected like in the engines: ``rng(n) -> n random bytes`` given to the constructor,
``generate`` or ``load`` (default microticket.crypto.urandom) draws the new keys of ``generate``/``rotate``
and the first (IV-making) block of every sealed ticket; nothing else here draws any.

``open`` works in this order, so nothing is learned from a forged ticket (RFC 5077 section 5):
length sanity -> key_name lookup (no crypto for an unknown name) -> MAC in constant time -> decrypt ->
padding -> lifetime. Padding is only looked at after the MAC passed: no padding oracle.

Memory (MicroPython is the target): the ring preallocates one work buffer for the largest ticket it can
issue and one for the plaintext, and keeps memoryview windows on them per ticket size (made on first use),
so ``open`` allocates only the two hash objects and digests of the HMAC, and the bytes it returns. The parsing, lookup, compare, AES and
padding steps run under ``micropython.heap_lock()`` (proven by tests/core/test_memory.py).
"""

import micropython
from micropython import const

from microticket import crypto
from microticket.errors import TicketRejected

NAME_LEN = const(16)
IV_LEN = const(16)
_HDR = const(34)  # key_name | iv | len
AES_KEY_LEN = const(16)
_BLOCK = const(16)

PROFILE_RFC5077 = "rfc5077"
PROFILE_DRAFT07 = "draft07"
# profile -> (hash name, mac length, hmac key length)
PROFILES = {PROFILE_RFC5077: ("sha256", 32, 32), PROFILE_DRAFT07: ("sha1", 20, 20)}

DEFAULT_LIFETIME = const(86400)  # RFC 5077 gives no number; one day is the common server default
DEFAULT_MAX_STATE = const(256)   # bytes of state a ticket can carry (TLS PSK state is about 90)
DEFAULT_SKEW = const(60)         # seconds a ticket's creation time may lie ahead of "now" (fleet clocks)
DEFAULT_MAX_KEYS = const(4)
_BUFFERS = (bytes, bytearray, memoryview)  # built once: a tuple display allocates per call


def _copy_in(dst, src, n):
    # Bytecode on purpose: a slice store in bytecode uses a slice on the C stack; native code would
    # heap-allocate the slice object. The frame is small enough to stay on the C stack too.
    dst[0:n] = src


def _move16(dst, tmp, src):
    # Overlapping 16-byte windows of one buffer, moved through a scratch buffer (bytecode: no allocation).
    tmp[:] = src
    dst[:] = tmp


@micropython.viper
def _pad_diff(p: ptr8, end: int, pad: int) -> int:
    # non-zero unless the last `pad` bytes before `end` all equal pad (PKCS#7); the caller checked bounds
    d = 0
    for i in range(end - pad, end):
        d |= p[i] ^ pad
    return d


class TicketKey:
    """One key set: key_name, AES-128 key, HMAC key, creation time. Cipher objects are long-lived."""

    def __init__(self, name, aes_key, hmac_key, created, hash_name):
        if len(name) != NAME_LEN or len(aes_key) != AES_KEY_LEN:
            raise ValueError("bad key sizes")
        self.name = bytes(name)
        self.aes_key = bytes(aes_key)
        self.hmac_key = bytes(hmac_key)
        self.created = created
        self.hmac = crypto.Hmac(self.hmac_key, hash_name)
        # Long-lived cipher objects, made on first use (outside any heap_lock): making one allocates, using
        # one does not. Only the newest key ever needs an encryptor.
        self.encryptor = None
        self.decryptor = None


class KeyRing:
    def __init__(self, keys, profile=PROFILE_RFC5077, lifetime=DEFAULT_LIFETIME, max_state=DEFAULT_MAX_STATE,
                 skew=DEFAULT_SKEW, max_keys=DEFAULT_MAX_KEYS, rng=None):
        """``keys``: TicketKey objects or (name, aes_key, hmac_key, created) tuples (e.g. from
        microticket.keyfile), newest first."""
        if profile not in PROFILES:
            raise ValueError("unknown ticket profile")
        if not keys:
            raise ValueError("a key ring needs at least one key")
        if lifetime <= 0:
            raise ValueError("lifetime must be positive")
        self.profile = profile
        self.mac_len = PROFILES[profile][1]
        self.lifetime = lifetime
        self.skew = skew
        self.max_keys = max_keys
        self.rng = rng or crypto.urandom
        hash_name = PROFILES[profile][0]
        self.keys = [k if isinstance(k, TicketKey) else TicketKey(k[0], k[1], k[2], k[3], hash_name) for k in keys]
        # results of the last successful open()
        self.should_renew = False
        self.created = 0
        self.key_index = 0
        self._len = 0
        # Fixed buffers, sized for the largest ticket this ring can issue.
        self.max_state = max_state
        self.max_enc = ((4 + max_state) // _BLOCK + 1) * _BLOCK
        self.max_ticket = _HDR + self.max_enc + self.mac_len
        self._work = bytearray(self.max_ticket)
        self._plain = bytearray(_BLOCK + self.max_enc)
        self._work_mv = memoryview(self._work)
        self._plain_mv = memoryview(self._plain)
        self._name_view = self._work_mv[0:NAME_LEN]
        self._iv_at16 = self._work_mv[NAME_LEN:NAME_LEN + IV_LEN]       # where the ticket carries the IV
        self._iv_at18 = self._work_mv[NAME_LEN + 2:NAME_LEN + 2 + IV_LEN]  # where CBC wants it
        self._iv_tmp = bytearray(IV_LEN)
        # Per size (k = blocks of encrypted_state) three windows on the buffers: the MAC input, the CBC input
        # (iv | encrypted_state) and the CBC output. Made on first use of a size, then reused, so the hot
        # path never slices (slicing a memoryview allocates) and a ring pays only for the sizes it sees.
        self._windows = [None] * (self.max_enc // _BLOCK + 1)

    # --- key management ------------------------------------------------------------------------------

    @classmethod
    def generate(cls, now, profile=PROFILE_RFC5077, lifetime=DEFAULT_LIFETIME, rng=None, **kw):
        """A new ring with one fresh key drawn from ``rng`` (default crypto.urandom)."""
        rng = rng or crypto.urandom
        return cls([cls._new_key(now, profile, rng)], profile, lifetime, rng=rng, **kw)

    @staticmethod
    def _new_key(now, profile, rng):
        hash_name, _, hmac_len = PROFILES[profile]
        key = TicketKey(rng(NAME_LEN), rng(AES_KEY_LEN), rng(hmac_len), now, hash_name)
        # a new key seals and opens from now on: make its cipher objects at once, while the heap is calm
        key.encryptor = crypto.aes_cbc_encryptor(key.aes_key, rng(16))
        key.decryptor = crypto.aes_cbc_encryptor(key.aes_key)  # decrypts: the first use decides
        return key

    def rotate(self, now):
        """Make a new sealing key and drop keys whose decrypt window has closed."""
        # The old key will never seal again: let its encryptor go first, so the new key's cipher objects
        # can take its place in a tight, fragmented heap.
        self.keys[0].encryptor = None
        self.keys.insert(0, self._new_key(now, self.profile, self.rng))
        self.prune(now)

    def prune(self, now):
        keep = [self.keys[0]]
        for i in range(1, len(self.keys)):
            if i < self.max_keys and self.window_open(i, now):
                keep.append(self.keys[i])
        self.keys = keep

    def window_open(self, i, now):
        """Whether key ``i`` (0 = newest) may still open tickets at ``now``: key i sealed until key i-1 was
        made, and its tickets are all expired ``lifetime`` after that."""
        return i == 0 or now <= self.keys[i - 1].created + self.lifetime

    def sealing_key(self):
        """The key that seals (the newest)."""
        return self.keys[0]

    def find_key(self, name, now):
        """The key whose name starts with ``name`` (a whole key_name, or a prefix such as the 8-octet
        key_id of RFC 5723 Appendix A) if its decrypt window is open at ``now``, else None."""
        n = len(name)
        keys = self.keys
        for i in range(len(keys)):
            if keys[i].name[:n] == name:
                return keys[i] if self.window_open(i, now) else None
        return None

    def _views(self, k):
        """(MAC input, CBC input iv | encrypted_state, CBC output) for k blocks of encrypted_state."""
        v = self._windows[k]
        if v is None:
            v = (self._work_mv[0:_HDR + _BLOCK * k], self._work_mv[_HDR - IV_LEN:_HDR + _BLOCK * k],
                 self._plain_mv[0:_BLOCK + _BLOCK * k])
            self._windows[k] = v
        return v

    # --- seal ----------------------------------------------------------------------------------------

    def seal(self, state, now, created=None):
        """Seal ``state`` (bytes) under the newest key. ``created`` is the session's original creation
        time (kept across renewals); it defaults to ``now``."""
        n = len(state)
        if n > self.max_state:
            raise ValueError("state larger than the ring's max_state")
        if created is None:
            created = now
        if created < 0 or created > 0xFFFFFFFF:
            raise ValueError("created out of range")
        key = self.keys[0]
        k = (4 + n) // _BLOCK + 1  # blocks of encrypted_state (PKCS#7 always adds 1..16 bytes)
        enc_len = k * _BLOCK
        p = self._plain
        # block 0: random; through the long-lived CBC encryptor its ciphertext becomes the ticket's IV
        p[0:_BLOCK] = self.rng(_BLOCK)
        p[16] = (created >> 24) & 0xFF
        p[17] = (created >> 16) & 0xFF
        p[18] = (created >> 8) & 0xFF
        p[19] = created & 0xFF
        p[20:20 + n] = state
        pad = enc_len - 4 - n
        p[20 + n:_BLOCK + enc_len] = bytes((pad,)) * pad  # PKCS#7
        w = self._work
        v = self._views(k)
        if key.encryptor is None:
            key.encryptor = crypto.aes_cbc_encryptor(key.aes_key, self.rng(16))
        key.encryptor.encrypt(v[2], v[1])  # -> work[18 : 34 + enc_len]
        _move16(self._iv_at16, self._iv_tmp, self._iv_at18)  # IV two bytes left: room for the length
        w[0:NAME_LEN] = key.name
        w[32] = enc_len >> 8
        w[33] = enc_len & 0xFF
        mac = key.hmac.mac(v[0])
        end = _HDR + enc_len
        w[end:end + self.mac_len] = mac
        return bytes(self._work_mv[0:end + self.mac_len])

    # --- open ----------------------------------------------------------------------------------------

    def open(self, ticket, now):
        """The state sealed in ``ticket``, or TicketRejected(reason). After success ``should_renew`` says
        whether the ticket was sealed under an older key and ``created`` is the session's creation time."""
        n = self.open_into(ticket, now)
        return bytes(self._plain_mv[20:20 + n])

    @micropython.native
    def open_into(self, ticket, now):
        """Like open() but leaves the state in the ring's buffer (``state_view(n)``) and returns its
        length n. Allocates only inside the HMAC (hash objects and digests).

        @micropython.native on purpose: a bytecode function whose frame is larger than 11 words gets
        that frame from the heap on every call (mem_total counts it even under heap_lock, where it falls
        back to the C stack); native code keeps frames on the C stack. Sections between heap_lock() and
        heap_unlock() must not allocate: they record a reason (an interned string) and raise after
        unlocking."""
        if not isinstance(ticket, _BUFFERS):
            raise TicketRejected("malformed")
        n = len(ticket)
        if n > self.max_ticket:
            raise TicketRejected("too-long")
        w = self._work
        reason = None
        idx = -1
        k = 0
        micropython.heap_lock()
        try:
            # 1. length sanity
            if n < _HDR + _BLOCK + self.mac_len:
                reason = "malformed"
            else:
                _copy_in(w, ticket, n)
                k = (w[32] << 8) | w[33]
                if k == 0 or k % _BLOCK or _HDR + k + self.mac_len != n:
                    reason = "malformed"
                else:
                    k //= _BLOCK
                    # 2. key_name lookup: names are public, so no crypto and no constant time here
                    keys = self.keys
                    name = self._name_view
                    for i in range(len(keys)):
                        if keys[i].name == name:
                            idx = i
                            break
                    # (inline window_open: a method call costs as much as the test)
                    if idx < 0 or (idx > 0 and now > keys[idx - 1].created + self.lifetime):
                        reason = "unknown-key"
        finally:
            micropython.heap_unlock()
        if reason is not None:
            raise TicketRejected(reason)
        key = self.keys[idx]
        v = self._windows[k]
        if v is None:
            v = self._views(k)
        if key.decryptor is None:
            key.decryptor = crypto.aes_cbc_encryptor(key.aes_key)  # decrypts: the first use decides
        # 3. MAC over key_name | iv | len | encrypted_state (hashlib: the one step that allocates)
        mac = key.hmac.mac(v[0])
        p = self._plain
        micropython.heap_lock()
        try:
            # 4. constant-time compare with the received MAC
            if not crypto.ct_equal_at(mac, w, _HDR + k * _BLOCK):
                reason = "bad-mac"
            else:
                # 5. decrypt: iv | encrypted_state made contiguous (the iv moves 2 bytes right, over the
                # length field); one pass of the long-lived decryptor, whose first output block is ignored
                _move16(self._iv_at18, self._iv_tmp, self._iv_at16)
                key.decryptor.decrypt(v[1], v[2])
                # 6. PKCS#7 padding (only now: the MAC has passed, so this is no oracle)
                end = _BLOCK + k * _BLOCK
                pad = p[end - 1]
                if pad < 1 or pad > _BLOCK or pad > end - _BLOCK - 4 or _pad_diff(p, end, pad):
                    reason = "bad-padding"
                else:
                    # 7. lifetime, from the session's creation time
                    created = (p[16] << 24) | (p[17] << 16) | (p[18] << 8) | p[19]
                    if created > now + self.skew:
                        reason = "future"
                    elif now - created > self.lifetime:
                        reason = "expired"
                    else:
                        self._len = end - _BLOCK - 4 - pad
                        self.created = created
        finally:
            micropython.heap_unlock()
        if reason is not None:
            raise TicketRejected(reason)
        self.should_renew = idx != 0
        self.key_index = idx
        return self._len

    def state_view(self, n):
        return self._plain_mv[20:20 + n]

    # --- key file (microticket.keyfile: the JSON format, which imports nothing of this module; imported
    # only when used, so a ring that gets its keys some other way never loads the JSON code) -------------

    def save(self, path):
        """Write the key file (microticket.keyfile) with owner-only permissions where the OS has them."""
        from microticket import keyfile
        from microticket.store import write_private
        write_private(path, keyfile.dumps(self))

    @classmethod
    def load(cls, path, now=None, **kw):
        """A ring from the key file at ``path``; ``kw`` as for the constructor (``rng``, ``max_state``...);
        with ``now``, keys created in the future are refused (microticket.keyfile.loads)."""
        from microticket import keyfile
        from microticket.store import recover
        recover(path)
        with open(path) as f:
            return keyfile.loads(cls, f.read(), now, **kw)
