"""The full-handshake half of PskClient (microticket.tls.psk_client): the server's ServerKeyExchange and
ServerHelloDone, then our ClientKeyExchange, the premaster secret and the CCS + Finished flight. Loaded
only when a server does not resume, so a resuming board never holds it (nor X25519).

PSK (RFC 4279 section 2): ServerKeyExchange is optional and carries only the psk_identity_hint; the
premaster is uint16 N | N zero bytes | uint16 len | psk. ECDHE_PSK (RFC 5489 section 2): the
ServerKeyExchange carries the hint and ServerECDHParams (named_curve x25519, RFC 8422 section 5.4), the
ClientKeyExchange our X25519 share after the identity, and the premaster's other_secret is the X25519
shared secret. The hint is ignored: a board has one identity per server.
"""

from micropython import const

from microticket.errors import TlsAlert

_HT_SERVER_KEY_EXCHANGE = const(12)
_HT_CLIENT_KEY_EXCHANGE = const(16)
_UNEXPECTED_MESSAGE = const(10)
_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_PSK_WITH_AES_128_CBC_SHA256 = const(0x00AE)
_GROUP_X25519 = const(29)
_EC_NAMED_CURVE = const(3)
# PskClient's states (microticket.tls.psk_client)
_S_AFTER_SH = const(2)
_S_SHD = const(3)
_S_NST = const(4)


def handle(self, t, b):
    """ServerKeyExchange or ServerHelloDone (type ``t``, body ``b``) for the PskClient ``self``."""
    n = len(b)
    psk_only = self.suite == _PSK_WITH_AES_128_CBC_SHA256
    if t == _HT_SERVER_KEY_EXCHANGE:
        if self.state != _S_AFTER_SH:
            raise TlsAlert(_UNEXPECTED_MESSAGE, "second ServerKeyExchange")
        p = 2 + ((b[0] << 8) | b[1]) if n >= 2 else n + 1  # after the psk_identity_hint
        if psk_only:
            if p != n:
                raise TlsAlert(_DECODE_ERROR, "ServerKeyExchange")
        else:
            if p + 4 > n or p + 4 + b[p + 3] != n:
                raise TlsAlert(_DECODE_ERROR, "ServerKeyExchange")
            if b[p] != _EC_NAMED_CURVE or ((b[p + 1] << 8) | b[p + 2]) != _GROUP_X25519:
                raise TlsAlert(_ILLEGAL_PARAMETER, "group not offered")
            if b[p + 3] != 32:
                raise TlsAlert(_ILLEGAL_PARAMETER, "X25519 point length")
            self._point = bytes(b[p + 4:n])
        self.state = _S_SHD
        return
    # ServerHelloDone
    if n:
        raise TlsAlert(_DECODE_ERROR, "ServerHelloDone not empty")
    ident = self.psk_identity
    k = len(ident)
    psk = self.psk
    if psk_only:
        z = bytes(len(psk))
        m = bytearray(6 + k)
    else:
        if self.state != _S_SHD:
            raise TlsAlert(_UNEXPECTED_MESSAGE, "ServerHelloDone before ServerKeyExchange")
        from microticket import x25519
        priv = self.rng(32)
        try:
            z = x25519.x25519_shared(priv, self._point)
        except ValueError:
            raise TlsAlert(_ILLEGAL_PARAMETER, "X25519 shared secret is zero")
        m = bytearray(6 + k + 33)
        m[6 + k] = 32
        m[7 + k:] = x25519.x25519_base(priv)
    # ClientKeyExchange: psk_identity<0..2^16-1> (then for ECDHE_PSK our share, ECPoint<1..255>)
    m[0] = _HT_CLIENT_KEY_EXCHANGE
    m[2] = (len(m) - 4) >> 8
    m[3] = (len(m) - 4) & 0xFF
    m[4] = k >> 8
    m[5] = k & 0xFF
    m[6:6 + k] = ident
    self._send_message(m)
    # premaster: uint16 len | other_secret | uint16 len | psk
    n = len(z)
    k = len(psk)
    pms = bytearray(4 + n + k)
    pms[1] = n
    pms[2:2 + n] = z
    pms[2 + n] = k >> 8
    pms[3 + n] = k & 0xFF
    pms[4 + n:] = psk
    self._make_keys(pms)
    self._send_ccs_finished()
    self.state = _S_NST
