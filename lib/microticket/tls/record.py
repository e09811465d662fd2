"""TLS 1.2 record layer (RFC 5246 section 6.2): record framing and protection, no roles.

Protections: AES-128-CBC with HMAC-SHA256 or HMAC-SHA1 and an explicit IV, MAC-then-encrypt (RFC 5246
section 6.2.3.2) or encrypt-then-MAC (RFC 7366); and AEAD ciphers (microticket.aead: AES-GCM and AES-CCM
with the explicit 8-byte nonce of RFC 5288 / RFC 6655, ChaCha20-Poly1305 with the nonce XORed from the
sequence number, RFC 7905). The AEAD algorithms are modules of their own, loaded by the engine only for a
suite that uses them; this module builds their nonce and additional data (seq_num | type | version |
length, RFC 5246 section 6.2.3.3).

Memory: one preallocated input buffer (one record of the largest accepted size plus a header) and one
output buffer; records are decrypted and encrypted in place, with ONE long-lived cipher object per
direction. For CBC:

- decrypt: ``iv | ciphertext`` goes through the persistent decryptor and the first output block is
  dropped; block i of the output is D(C_i) xor C_(i-1), right whatever state the object was left in.
- encrypt: ``random16 | plaintext | mac | padding`` goes through the persistent encryptor; the first
  ciphertext block, E(state xor random16), is unpredictable and serves as the record's explicit IV.

Errors are TlsAlerts whose message says only "record", "bad record MAC" or "buffer" (the description says
which rule): every failed MAC, tag, padding or ciphertext length gives the same error, and each distinct
text would be an object on the heap even from ROMFS.

MAC-then-encrypt is checked Lucky13-aware as far as Python allows: the padding is checked without early
exit, an invalid padding is treated as zero-length (RFC 5246 section 6.2.3.2) and the MAC input is topped
up with a dummy hash of the bytes the padding removed, so the hash always sees the same number of bytes.
"""

from micropython import const

from microticket import crypto
from microticket import errors  # TlsAlert: created on the first error (microticket.errors)

_CT_CHANGE_CIPHER_SPEC = const(20)
_CT_APPLICATION_DATA = const(23)
_UNEXPECTED_MESSAGE = const(10)
_BAD_RECORD_MAC = const(20)
_RECORD_OVERFLOW = const(22)
_PROTOCOL_VERSION = const(70)
_INTERNAL_ERROR = const(80)
_MAX_PLAINTEXT = const(16384)

_HDR = const(5)
_IV = const(16)
_MAC = const(32)
_MAX_PAD = const(256)
# ciphertext overhead of one record at most: IV + MAC + 256 bytes of padding
_OVERHEAD = const(16 + 32 + 256)


# A cipher state (RFC 5246 section 6.1: keys and sequence number of one direction) is a list, not an
# object of a class: a class costs ~320 bytes of heap even from ROMFS, and each instance a dict.
_CS_AES = const(0)   # the long-lived cryptolib AES-CBC object of this direction
_CS_HMAC = const(1)  # crypto.Hmac keyed with the MAC key
_CS_ETM = const(2)   # encrypt_then_mac negotiated (RFC 7366)
_CS_SEQ = const(3)   # sequence number
_CS_MH = const(4)    # seq_num | type | version | length: the MAC's pseudo header, filled per record
_CS_LEN = const(5)   # an AEAD suite's state (microticket.tls.record_aead) is a longer list: cs[0] opens a
                     # record, cs[1] writes one (this module then names nothing of record_aead)
_CS_AEAD12 = const(9)  # record_aead's states have 9 items, TLS 1.3's (microticket.tls.record13) more: cs[0]
                       # returns the inner content type with the content, and the record says 23


def CipherState(key, mac, etm, encrypt):
    """A CBC cipher state with the AES ``key`` and the HMAC key ``mac`` (32 bytes: HMAC-SHA256, 20:
    HMAC-SHA1), for encrypting (``encrypt``) or decrypting records: for RecordLayer.write_cs / read. (An
    AEAD suite's cipher states are lists of microticket.tls.record_aead, longer than these.)"""
    # one constructor for both directions: a cryptolib.aes object encrypts or decrypts (microticket.crypto)
    return [crypto.aes_cbc_encryptor(key),
            crypto.Hmac(mac, "sha1" if len(mac) == 20 else "sha256"), etm, 0, bytearray(13)]


def _mac_header(v, t, length):
    # of the cipher state v, for a record of content type t (parameter names the firmware interns: no qstr)
    h = v[_CS_MH]
    s = v[_CS_SEQ]
    v[_CS_SEQ] = s + 1
    for i in range(7, -1, -1):
        h[i] = s & 0xFF
        s >>= 8
    h[8] = t
    h[9] = 3
    h[10] = 3
    h[11] = length >> 8
    h[12] = length & 0xFF
    return h


class RecordLayer:
    """Framing, protection and buffering of records. ``max_in`` / ``max_out`` are plaintext fragment
    limits (2^14, or what max_fragment_length agreed); buffers are sized once from ``in_cap``."""

    def __init__(self, max_fragment=_MAX_PLAINTEXT, out_cap=0, rng=None):
        self.max_in = max_fragment
        self.max_out = max_fragment
        self.in_cap = _HDR + max_fragment + _OVERHEAD
        self._ib = bytearray(self.in_cap)
        self._iv = memoryview(self._ib)
        self._is = 0  # start of unconsumed input
        self._ie = 0  # end of buffered input
        if out_cap <= 0:
            out_cap = 2 * (_HDR + max_fragment + _IV + _MAC + 16) + 4096
        self._ob = bytearray(out_cap)
        self._ov = memoryview(self._ob)
        self._oe = 0
        self.read = None   # CipherState or None (null cipher)
        self.write_cs = None
        self.rng = rng or crypto.urandom
        self._dummy = None

    OVERHEAD_IN = _HDR + _OVERHEAD  # in_cap - max_fragment

    def reset(self, rng):
        """Back to the state of a new record layer (null cipher, empty buffers), the buffers kept."""
        self.max_in = self.max_out = self.in_cap - _HDR - _OVERHEAD
        self._is = self._ie = self._oe = 0
        self.read = self.write_cs = None
        self.rng = rng

    # --- input -----------------------------------------------------------------------------------

    def space(self):
        return self.in_cap - (self._ie - self._is)

    def _compact(self):
        if self._is:
            n = self._ie - self._is
            if n:
                self._ib[0:n] = self._iv[self._is:self._ie]
            self._is = 0
            self._ie = n

    def free_view(self):
        """The free end of the input buffer, for a driver to read the socket straight into (then
        commit(n)): the zero-copy path."""
        self._compact()
        return self._iv[self._ie:self.in_cap]

    def want(self):
        """Bytes still missing for the next complete record (header first): lets a driver on a
        "no short reads" stream (MicroPython's readinto) ask for exactly one record."""
        avail = self._ie - self._is
        if avail < _HDR:
            return _HDR - avail
        p = self._is
        n = _HDR + ((self._ib[p + 3] << 8) | self._ib[p + 4]) - avail
        return n if n > 0 else 0

    def commit(self, n):
        if n < 0 or self._ie + n > self.in_cap:
            raise errors.TlsAlert(_INTERNAL_ERROR, "buffer")
        self._ie += n

    def feed(self, data, off=0):
        """Copy as much of data[off:] as fits; returns how many bytes were taken."""
        self._compact()
        take = min(len(data) - off, self.in_cap - self._ie)
        if take > 0:
            self._ib[self._ie:self._ie + take] = data[off:off + take] if (off or take < len(data)) else data
            self._ie += take
        return take if take > 0 else 0

    def next_record(self):
        """(content_type, plaintext memoryview) of the next complete record, or None. The view is valid
        until the next feed()."""
        p = self._is
        avail = self._ie - p
        if avail < _HDR:
            return None
        b = self._ib
        ctype = b[p]
        length = (b[p + 3] << 8) | b[p + 4]
        # while the null cipher is on, any {03,XX} (RFC 5246 appendix E.1: a ClientHello's record may say
        # 3.0, 3.1 or 3.2, and test tools send 3.0); protected records say 3.3
        if b[p + 1] != 3 or (b[p + 2] != 3 and self.read is not None):
            raise errors.TlsAlert(_PROTOCOL_VERSION, "record")
        if ctype < _CT_CHANGE_CIPHER_SPEC or ctype > _CT_APPLICATION_DATA:
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "record")
        limit = self.max_in + (_OVERHEAD if self.read is not None else 0)
        if length > limit:
            raise errors.TlsAlert(_RECORD_OVERFLOW, "record")
        if avail < _HDR + length:
            return None
        self._is = p + _HDR + length
        start = p + _HDR
        if self.read is None:
            if length == 0 and ctype != _CT_APPLICATION_DATA:
                raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "record")
            return ctype, self._iv[start:start + length]
        cs = self.read
        if len(cs) > _CS_LEN:  # an AEAD (record_aead, record13: the content type is the record's inner one)
            s, n, ctype = cs[0](cs, self._ib, ctype, start, length)
        elif cs[_CS_ETM]:
            s, n = self._open_etm(ctype, start, length)
        else:
            s, n = self._open_mte(ctype, start, length)
        if n > self.max_in:
            raise errors.TlsAlert(_RECORD_OVERFLOW, "record")
        return ctype, self._iv[s:s + n]

    def _open_mte(self, t, start, length):
        cs = self.read
        m = cs[_CS_HMAC].digest_size
        # at least IV + the blocks holding the MAC and the padding length byte
        if length < _IV + ((m + 16) & ~15) or length % 16:
            raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
        v = self._iv[start:start + length]
        cs[_CS_AES].decrypt(v, v)
        b = self._ib
        end = start + length
        plen = length - _IV  # plaintext | mac | padding
        pad = b[end - 1]
        # padding check with no early exit over the largest possible padding region
        good = 1 if pad + 1 + m <= plen else 0
        check = min(_MAX_PAD, plen)
        bad = 0
        for i in range(1, check + 1):
            inpad = 1 if i <= pad + 1 else 0
            bad |= inpad * (b[end - i] ^ pad)
        if bad:
            good = 0
        padlen = (pad + 1) * good
        n = plen - m - padlen
        s = start + _IV
        mac = cs[_CS_HMAC].mac(_mac_header(cs, t, n), self._iv[s:s + n])
        # keep the hash input length independent of the padding: hash what the padding took away
        d = self._dummy
        if d is None:
            d = self._dummy = bytearray(_MAX_PAD + 64)
        crypto.hash_new("sha1" if m == 20 else "sha256", memoryview(d)[0:padlen])
        ok = crypto.ct_equal_at(mac, b, s + n)
        if not (ok and good):
            raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
        return s, n

    def _open_etm(self, t, start, length):
        cs = self.read
        m = cs[_CS_HMAC].digest_size
        if length < _IV + 16 + m or (length - m) % 16:
            raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
        clen = length - m
        mac = cs[_CS_HMAC].mac(_mac_header(cs, t, clen), self._iv[start:start + clen])
        if not crypto.ct_equal_at(mac, self._ib, start + clen):
            raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
        v = self._iv[start:start + clen]
        cs[_CS_AES].decrypt(v, v)
        b = self._ib
        end = start + clen
        pad = b[end - 1]
        plen = clen - _IV
        if pad + 1 > plen:
            raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
        for i in range(1, pad + 2):
            if b[end - i] != pad:
                raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
        return start + _IV, plen - pad - 1

    def buffered(self):
        return self._ie - self._is

    # --- output ----------------------------------------------------------------------------------

    def write(self, t, data):
        """Append ``data`` as records of content type ``t`` (fragmented to max_out) to the output buffer."""
        n = len(data)
        mv = data if isinstance(data, memoryview) else memoryview(data)
        off = 0
        while True:
            k = min(n - off, self.max_out)
            self._write_one(t, mv[off:off + k])
            off += k
            if off >= n:
                return

    def _room(self, n):
        if self._oe + n > len(self._ob):
            raise errors.TlsAlert(_INTERNAL_ERROR, "buffer")

    def _write_one(self, t, data):
        n = len(data)
        o = self._oe
        b = self._ob
        cs = self.write_cs
        if cs is None:
            self._room(_HDR + n)
            body = n
            b[o + _HDR:o + _HDR + n] = data
        elif len(cs) > _CS_LEN:  # an AEAD (microticket.tls.record_aead or record13)
            body = cs[1](cs, self, t, data)
            if len(cs) > _CS_AEAD12:  # TLS 1.3: the type is inside, the record says application_data
                t = _CT_APPLICATION_DATA
        elif not cs[_CS_ETM]:
            m = cs[_CS_HMAC].digest_size
            clen = ((n + m + 1 + 15) // 16) * 16
            body = _IV + clen
            self._room(_HDR + body)
            p = o + _HDR
            b[p:p + _IV] = self.rng(_IV)
            b[p + _IV:p + _IV + n] = data
            mac = cs[_CS_HMAC].mac(_mac_header(cs, t, n), data)
            q = p + _IV + n
            b[q:q + m] = mac
            pad = clen - n - m - 1
            for i in range(q + m, p + body):
                b[i] = pad
            v = self._ov[p:p + body]
            cs[_CS_AES].encrypt(v, v)
        else:
            m = cs[_CS_HMAC].digest_size
            clen = ((n + 1 + 15) // 16) * 16
            body = _IV + clen + m
            self._room(_HDR + body)
            p = o + _HDR
            b[p:p + _IV] = self.rng(_IV)
            b[p + _IV:p + _IV + n] = data
            pad = clen - n - 1
            for i in range(p + _IV + n, p + _IV + clen):
                b[i] = pad
            v = self._ov[p:p + _IV + clen]
            cs[_CS_AES].encrypt(v, v)
            mac = cs[_CS_HMAC].mac(_mac_header(cs, t, _IV + clen), v)
            b[p + _IV + clen:p + body] = mac
        b[o] = t
        b[o + 1] = 3
        b[o + 2] = 3
        b[o + 3] = body >> 8
        b[o + 4] = body & 0xFF
        self._oe = o + _HDR + body

    def pending(self):
        return self._oe

    def take_view(self):
        """The pending output as a memoryview of the buffer (no copy), marked as taken: valid until the
        next write. For drivers that send it at once."""
        n = self._oe
        self._oe = 0
        return self._ov[0:n]

    def take_output(self):
        n = self._oe
        if not n:
            return b""
        out = bytes(self._ov[0:n])
        self._oe = 0
        return out
