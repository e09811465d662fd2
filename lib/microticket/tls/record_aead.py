"""AEAD record protection for the TLS 1.2 record layer (RFC 5246 section 6.2.3.3): the nonce and the
additional data around an AEAD algorithm of microticket.aead. Loaded only by a connection whose suite
uses one, so a resuming board on a CBC suite holds none of it (its names would be interned strings on the
heap for good).

    nonce   AES-GCM (RFC 5288 section 3) and AES-CCM (RFC 6655 section 3): the 4-byte salt from the key
            block | an explicit 8-byte nonce sent before the ciphertext (ours: the sequence number);
            ChaCha20-Poly1305 (RFC 7905 section 2): the 12-byte IV from the key block XOR the sequence
            number, nothing sent
    aad     seq_num | type | version | length of the plaintext (13 bytes)

No allocation per record: the nonce and the additional data are preallocated and filled byte by byte.

A cipher state is a list (a class would cost ~320 bytes of heap and each name an interned string, even from
ROMFS), whose first two items are this module's ``open`` and ``write``: microticket.tls.record calls
``cs[0](cs, buf, type, start, length)`` and ``cs[1](cs, rl, type, data)`` on a state longer than its own
CBC ones, so it names nothing of this module. (``open`` and ``write`` are names the firmware interns; they
shadow the builtins in this module only, as ``next`` does. The state's parameter is called ``self``,
another such name.)

The AEAD's module and class are named by bytes constants and imported by __import__, so that the names of the
two modules a connection does not load are never interned.
"""

from micropython import const

from microticket import crypto  # its cryptolib: a port's own AEADs (aead)
from microticket import errors  # TlsAlert: created on the first error (microticket.errors)
from microticket.tls.record import _mac_header  # seq_num | type | version | length: the AAD here

_BAD_RECORD_MAC = const(20)
_HDR = const(5)
_C_GCM = const(3)     # microticket.tls.engine's cipher numbers: 3 GCM, 4 ChaCha20-Poly1305, 5 CCM_8, 6 CCM
_C_CCM_8 = const(5)
# the AEAD of each cipher number from _C_GCM on: module, class (one bytes constant, split when a state is
# made: a tuple of them would be 9 objects on the heap, 320 B, from ROMFS too)
_AEADS = const(b"microticket.aead.gcm AesGcm microticket.aead.chacha20_poly1305 ChaCha20Poly1305 "
               b"microticket.aead.ccm AesCcm microticket.aead.ccm AesCcm")
_A = const(2)      # the state's items after open and write: the AEAD object (microticket.aead)
# 3 and 4: the sequence number and the 13-byte additional data, where a CBC state keeps its sequence
# number and MAC header (microticket.tls.record._mac_header fills both kinds)
_X = const(5)      # the explicit nonce's length: 8 (GCM, CCM) or 0 (ChaCha20-Poly1305)
_T = const(6)      # the tag's length
_IV = const(7)     # the fixed IV from the key block (4 or 12 bytes)
_NONCE = const(8)  # the nonce, 12 bytes


def state(w, key, iv):
    """The cipher state of one direction for the cipher number ``w`` (microticket.tls.engine) with its
    key and fixed IV."""
    a, tag = aead(w, key)
    v = bytearray(12)
    v[0:4] = iv[0:4]
    return [open, write, a, 0, bytearray(13), 8 if len(iv) == 4 else 0, tag, iv, v]


_last = None  # (cipher number, class): the last lookup's (a connection's states are all of one suite)


def aead(w, key):
    """(the AEAD object of microticket.aead for the cipher number ``w`` with ``key``, its tag length): the
    one place that maps cipher numbers to algorithms, for TLS 1.2 here and TLS 1.3 (microticket.tls.record13)."""
    global _last
    c = _last
    if c is not None and c[0] == w:
        c = c[1]
    else:  # (a TLS 1.3 handshake makes four states: the lookup, ~14 us on the unix port, made once)
        i = 2 * (w - _C_GCM)
        n = _AEADS.split()
        c = n[i + 1].decode()
        # a port's own AEAD of that name in cryptolib, where it has one (CPython's ports/cpython: OpenSSL's, in
        # C; MicroPython's cryptolib has none, and getattr with a default allocates nothing), else
        # microticket.aead's. (cryptolib reached through crypto's import of it: an __import__ of a built-in
        # searches the path first, 13 us on the unix port)
        c = getattr(crypto.cryptolib, c, None) or getattr(__import__(n[i].decode(), None, None, (True,)), c)
        _last = (w, c)
    tag = 8 if w == _C_CCM_8 else 16
    return (c(key, tag) if w >= _C_CCM_8 else c(key)), tag


def next(self, t, n, b, p):
    # the additional data of the next record (type t, plaintext n bytes) and its nonce, the explicit
    # nonce read from b[p:p+8] (or written there first when sealing: see write)
    h = _mac_header(self, t, n)
    v = self[_NONCE]
    if self[_X]:
        for i in range(8):
            v[4 + i] = b[p + i]
    else:
        iv = self[_IV]
        for i in range(8):
            v[4 + i] = iv[4 + i] ^ h[i]
    return h


def open(self, b, t, start, length):
    """(start, length, t) of the plaintext of the record body b[start:start+length], decrypted in place,
    and the record's type t (microticket.tls.record13's open returns the inner type there); bad_record_mac
    for a wrong tag or a body too short to hold one."""
    x = self[_X]
    n = length - x - self[_T]
    if n < 0:
        raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
    h = next(self, t, n, b, start)
    if not self[_A].open(self[_NONCE], h, b, start + x, n):
        raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
    return start + x, n, t


def write(self, rl, t, data):
    """Seal ``data`` as the body of a record of type ``t`` after the header room at the end of the record
    layer ``rl``'s output; returns the body's length."""
    x = self[_X]
    n = len(data)
    body = x + n + self[_T]
    rl._room(_HDR + body)
    b = rl._ob
    p = rl._oe + _HDR
    s = self[3]  # the sequence number (see _mac_header)
    for i in range(x):  # the explicit nonce: the sequence number (RFC 5288 section 3 allows it)
        b[p + 7 - i] = (s >> (8 * i)) & 0xFF
    h = next(self, t, n, b, p)
    b[p + x:p + x + n] = data
    self[_A].seal(self[_NONCE], h, b, p + x, n)
    return body
