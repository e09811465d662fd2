"""TLS 1.3 record protection (RFC 8446 sections 5.2-5.4) around an AEAD algorithm of microticket.aead: the
second kind of AEAD cipher state of microticket.tls.record, beside record_aead's TLS 1.2 one. Loaded only
by a TLS 1.3 connection, so a TLS 1.2 board holds none of it.

    nonce   the 12-byte IV of the traffic secret XOR the 64-bit sequence number, left-padded (section 5.3)
    aad     the record header: opaque_type 23 | legacy_record_version 0x0303 | length of the ciphertext
    inner   TLSInnerPlaintext = content | the real content type | zero padding (section 5.2)

A cipher state is a list, as record_aead's, and microticket.tls.record calls it the same way:
``cs[0](cs, buf, type, start, length)`` opens the record body buf[start:start+length] in place and
``cs[1](cs, rl, type, data)`` seals ``data`` as a record of content type ``type`` after the header room at
the end of the record layer ``rl``'s output, returning the body's length. The record layer tells the two
kinds apart by their length (record_aead's: 9 items, these: 10) and, for these, writes application_data
(23) as the record's type. ``open`` returns a list [start, n, type] (the state's own, refilled per record:
no allocation): the content is buf[start:start+n], padding and type byte stripped, and ``type`` is the
inner content type the engine dispatches on. An unprotected change_cipher_spec record (type 20, which
section 5 lets a peer send during the handshake for middlebox compatibility) passes through unopened as
[start, length, 20]: the engine checks that it is the single byte 1 and drops it. Any other outer type is
unexpected_message; a body over 2^14 + 256 bytes or an inner plaintext over 2^14 + 1 record_overflow; a
wrong tag bad_record_mac; an inner plaintext of zeros only, or a protected change_cipher_spec,
unexpected_message (sections 5.4, 5).

``cs[_PAD]`` (item 9) is the number of zero bytes of padding ``write`` adds to every record (0 unless the
engine sets it). A new traffic secret (the handshake's, the application's, a KeyUpdate) gets a new state:
the sequence number starts at 0 with it (section 5.3).

Seal and open allocate nothing (tests/tls/test_tls13_keys.py runs them under heap_lock on MicroPython).
"""

from micropython import const

from microticket import errors  # TlsAlert: created on the first error (microticket.errors)

_CT_CHANGE_CIPHER_SPEC = const(20)
_CT_APPLICATION_DATA = const(23)
_UNEXPECTED_MESSAGE = const(10)
_BAD_RECORD_MAC = const(20)
_RECORD_OVERFLOW = const(22)
_HDR = const(5)
_A = const(2)      # the state's items after open and write: the AEAD object (microticket.aead)
_T = const(3)      # the tag's length
_SEQ = const(4)    # the sequence number
_IV = const(5)     # the IV of the traffic secret (12 bytes)
_NONCE = const(6)  # the nonce, 12 bytes, its first 4 the IV's for good
_AAD = const(7)    # the additional data: the 5-byte record header
_R = const(8)      # what open returns: [start, n, type]
_PAD = const(9)    # zero bytes of padding per written record
_MAX_BODY = const(16384 + 256)
_MAX_INNER = const(16384 + 1)


def state(w, key, iv):
    """The cipher state of one direction for the cipher number ``w`` (microticket.tls.engine) with the
    traffic key and IV (microticket.tls.keys13.traffic)."""
    from microticket.tls.record_aead import aead
    a, tag = aead(w, key)
    v = bytearray(12)
    for i in range(4):
        v[i] = iv[i]
    h = bytearray(_HDR)
    h[0] = _CT_APPLICATION_DATA
    h[1] = 3
    h[2] = 3
    return [open, write, a, tag, 0, iv, v, h, [0, 0, 0], 0]


def next(self, n):
    # the nonce and the additional data of the next record, its body n bytes
    s = self[_SEQ]
    self[_SEQ] = s + 1
    v = self[_NONCE]
    iv = self[_IV]
    for i in range(11, 3, -1):
        v[i] = iv[i] ^ (s & 0xFF)
        s >>= 8
    h = self[_AAD]
    h[3] = n >> 8
    h[4] = n & 0xFF
    return h


def open(self, b, t, start, length):
    """[start, n, type]: the content of the record body b[start:start+length], decrypted in place, and its
    inner content type (see the module's text)."""
    r = self[_R]
    if t != _CT_APPLICATION_DATA:
        if t != _CT_CHANGE_CIPHER_SPEC:
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "record")
        n = length
    else:
        if length > _MAX_BODY:
            raise errors.TlsAlert(_RECORD_OVERFLOW, "record")
        n = length - self[_T]
        if n > _MAX_INNER:
            raise errors.TlsAlert(_RECORD_OVERFLOW, "record")
        if n < 1:
            raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
        if not self[_A].open(self[_NONCE], next(self, length), b, start, n):
            raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
        n -= 1
        while n >= 0 and b[start + n] == 0:
            n -= 1
        t = b[start + n] if n >= 0 else 0
        if t == 0 or t == _CT_CHANGE_CIPHER_SPEC:  # section 5: a protected change_cipher_spec too
            raise errors.TlsAlert(_UNEXPECTED_MESSAGE, "record")
    r[0] = start
    r[1] = n
    r[2] = t
    return r


def write(self, rl, t, data):
    """Seal ``data`` with the content type ``t`` and the state's padding as the body of a record after the
    header room at the end of the record layer ``rl``'s output; returns the body's length."""
    n = len(data)
    m = n + 1 + self[_PAD]
    body = m + self[_T]
    rl._room(_HDR + body)
    b = rl._ob
    p = rl._oe + _HDR
    b[p:p + n] = data
    b[p + n] = t
    for i in range(p + n + 1, p + m):
        b[i] = 0
    self[_A].seal(self[_NONCE], next(self, body), b, p, m)
    return body
