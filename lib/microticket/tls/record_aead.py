"""AEAD record protection for the TLS 1.2 record layer (RFC 5246 section 6.2.3.3): the nonce and the
additional data around an AEAD algorithm of microticket.aead. Loaded only by a connection whose suite
uses one, so a resuming board on a CBC suite holds none of it (its names would be interned strings on the
heap for good; microticket.tls.record calls only ``open`` and ``write``, names the firmware interns).

    nonce   AES-GCM (RFC 5288 section 3) and AES-CCM (RFC 6655 section 3): the 4-byte salt from the key
            block | an explicit 8-byte nonce sent before the ciphertext (ours: the sequence number);
            ChaCha20-Poly1305 (RFC 7905 section 2): the 12-byte IV from the key block XOR the sequence
            number, nothing sent
    aad     seq_num | type | version | length of the plaintext (13 bytes)

No allocation per record: the nonce and the additional data are preallocated and filled byte by byte.
"""

from micropython import const

from microticket import errors  # TlsAlert: created on the first error (microticket.errors)

_BAD_RECORD_MAC = const(20)
_INTERNAL_ERROR = const(80)
_HDR = const(5)
_C_GCM = const(3)     # microticket.tls.engine's cipher numbers
_C_CHACHA = const(4)
_C_CCM_8 = const(5)


def state(w, key, iv):
    """The cipher state of one direction for the cipher number ``w`` (microticket.tls.engine) with its
    key and fixed IV."""
    if w == _C_GCM:
        from microticket.aead.gcm import AesGcm
        return AeadState(AesGcm(key), iv)
    if w == _C_CHACHA:
        from microticket.aead.chacha20_poly1305 import ChaCha20Poly1305
        return AeadState(ChaCha20Poly1305(key), iv)
    from microticket.aead.ccm import AesCcm
    return AeadState(AesCcm(key, 8 if w == _C_CCM_8 else 16), iv)


class AeadState:
    def __init__(self, aead, iv):
        self.aead = aead
        self.explicit = 8 if len(iv) == 4 else 0
        self.iv = iv
        self.seq = 0
        self.aad = bytearray(13)
        self.nonce = bytearray(12)
        self.nonce[0:4] = iv[0:4]

    def _next(self, t, n, b, p):
        # the additional data of the next record (type t, plaintext n bytes) and its nonce, the explicit
        # nonce read from b[p:p+8] (or written there first when sealing: see write)
        h = self.aad
        s = self.seq
        self.seq = s + 1
        for i in range(7, -1, -1):
            h[i] = s & 0xFF
            s >>= 8
        h[8] = t
        h[9] = 3
        h[10] = 3
        h[11] = n >> 8
        h[12] = n & 0xFF
        v = self.nonce
        if self.explicit:
            for i in range(8):
                v[4 + i] = b[p + i]
        else:
            iv = self.iv
            for i in range(8):
                v[4 + i] = iv[4 + i] ^ h[i]
        return h

    def open(self, b, t, start, length):
        """(start, length) of the plaintext of the record body b[start:start+length], decrypted in
        place; bad_record_mac for a wrong tag or a body too short to hold one."""
        a = self.aead
        x = self.explicit
        n = length - x - a.TAG
        if n < 0:
            raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
        h = self._next(t, n, b, start)
        if not a.open(self.nonce, h, b, start + x, n):
            raise errors.TlsAlert(_BAD_RECORD_MAC, "bad record MAC")
        return start + x, n

    def write(self, rl, t, data):
        """Seal ``data`` as the body of a record of type ``t`` after the header room at the end of the
        record layer ``rl``'s output; returns the body's length."""
        a = self.aead
        x = self.explicit
        n = len(data)
        body = x + n + a.TAG
        rl._room(_HDR + body)
        b = rl._ob
        p = rl._oe + _HDR
        s = self.seq
        for i in range(x):  # the explicit nonce: the sequence number (RFC 5288 section 3 allows it)
            b[p + 7 - i] = (s >> (8 * i)) & 0xFF
        h = self._next(t, n, b, p)
        b[p + x:p + x + n] = data
        a.seal(self.nonce, h, b, p + x, n)
        return body
