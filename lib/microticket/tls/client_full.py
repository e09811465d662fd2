"""The full-handshake half of TlsClient (Certificate with pin check, ServerKeyExchange, ServerHelloDone,
ClientKeyExchange): loaded only when a server does not resume, so a resuming client never pays for it.
Functions take the TlsClient as ``self``.
"""

from micropython import const

from microticket import crypto
from microticket.errors import TlsAlert, DecodeError
from microticket.wire import Reader
from microticket.tls import messages as M
from microticket.tls import msg_full as F

_ST_OPEN = const(100)
_VERSION_TLS12 = const(0x0303)
_HT_HELLO_REQUEST = const(0)
_HT_CLIENT_HELLO = const(1)
_HT_SERVER_HELLO = const(2)
_HT_NEW_SESSION_TICKET = const(4)
_HT_CERTIFICATE = const(11)
_HT_SERVER_KEY_EXCHANGE = const(12)
_HT_SERVER_HELLO_DONE = const(14)
_HT_CLIENT_KEY_EXCHANGE = const(16)
_HT_FINISHED = const(20)
_HT_CCS = const(0x100)
_LEVEL_WARNING = const(1)
_UNEXPECTED_MESSAGE = const(10)
_HANDSHAKE_FAILURE = const(40)
_BAD_CERTIFICATE = const(42)
_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_DECRYPT_ERROR = const(51)
_PROTOCOL_VERSION = const(70)
_NO_RENEGOTIATION = const(100)
_UNSUPPORTED_EXTENSION = const(110)
_EXT_SERVER_NAME = const(0)
_EXT_MAX_FRAGMENT_LENGTH = const(1)
_EXT_SUPPORTED_GROUPS = const(10)
_EXT_EC_POINT_FORMATS = const(11)
_EXT_SIGNATURE_ALGORITHMS = const(13)
_EXT_ENCRYPT_THEN_MAC = const(22)
_EXT_EXTENDED_MASTER_SECRET = const(23)
_EXT_SESSION_TICKET = const(35)
_EXT_RENEGOTIATION_INFO = const(0xFF01)
_PSK_WITH_AES_128_CBC_SHA256 = const(0x00AE)
_ECDHE_PSK_WITH_AES_128_CBC_SHA256 = const(0xC037)
_ECDHE_RSA_WITH_AES_128_CBC_SHA256 = const(0xC027)
_GROUP_X25519 = const(29)
_SIG_RSA_PKCS1_SHA256 = const(0x0401)
_MAX_PLAINTEXT = const(16384)
_C_SKE = const(3)
_C_SHD = const(4)
_C_F_WAIT = const(5)


def handle(self, body):
    """Entry from TlsClient's transition table for the three full-handshake messages (the type of the
    one being dispatched is in _mtype)."""
    t = self._mtype
    if t == _HT_CERTIFICATE:
        on_certificate(self, body)
    elif t == _HT_SERVER_KEY_EXCHANGE:
        on_server_key_exchange(self, body)
    else:
        on_server_hello_done(self, body)


def _check_full(self):
    if self._echoed:
        raise TlsAlert(_UNEXPECTED_MESSAGE, "session ID echoed but full handshake")

def on_certificate(self, body):
    _check_full(self)
    if self.suite != _ECDHE_RSA_WITH_AES_128_CBC_SHA256:
        raise TlsAlert(_UNEXPECTED_MESSAGE, "Certificate in a PSK suite")
    certs = F.decode_certificate(Reader(body))
    if not certs:
        raise TlsAlert(_BAD_CERTIFICATE, "empty certificate list")
    from microticket import der, rsa
    leaf = certs[0]
    try:
        spki = der.cert_spki(leaf)
        ok = crypto.ct_equal(crypto.sha256(leaf), self.pin) or \
            crypto.ct_equal(crypto.sha256(spki), self.pin)
        key = rsa.public_key_from_spki_der(spki) if ok else None
    except (DecodeError, ValueError):
        raise TlsAlert(_BAD_CERTIFICATE, "unparsable certificate")
    if not ok:
        raise TlsAlert(_BAD_CERTIFICATE, "certificate does not match the pin")
    self._server_key = key
    self.state = _C_SKE

def on_server_key_exchange(self, body):
    _check_full(self)
    r = Reader(body)
    suite = self.suite
    if suite == _PSK_WITH_AES_128_CBC_SHA256:
        F.decode_ske_psk(r)  # identity hint: ignored (one identity per server)
    elif suite == _ECDHE_PSK_WITH_AES_128_CBC_SHA256:
        _, group, point = F.decode_ske_ecdhe_psk(r)
        _peer_point(self, group, point)
    else:
        if self.state != _C_SKE:
            raise TlsAlert(_UNEXPECTED_MESSAGE, "ServerKeyExchange before Certificate")
        group, point, params, alg, sig = F.decode_ske_ecdhe_rsa(r)
        if alg != _SIG_RSA_PKCS1_SHA256:
            raise TlsAlert(_ILLEGAL_PARAMETER, "signature algorithm")
        h = crypto.hash_new("sha256", self.client_random)
        h.update(self.server_random)
        h.update(params)
        if not self._server_key.verify_pkcs1_sha256(h.digest(), sig):
            raise TlsAlert(_DECRYPT_ERROR, "bad ServerKeyExchange signature")
        _peer_point(self, group, point)
    self.state = _C_SHD

def _peer_point(self, group, point):
    if group != _GROUP_X25519:
        raise TlsAlert(_ILLEGAL_PARAMETER, "group not offered")
    if len(point) != 32:
        raise TlsAlert(_ILLEGAL_PARAMETER, "X25519 point length")
    self._server_point = point

def on_server_hello_done(self, body):
    _check_full(self)
    if len(body):
        raise TlsAlert(_DECODE_ERROR, "ServerHelloDone not empty")
    suite = self.suite
    if suite != _PSK_WITH_AES_128_CBC_SHA256 and self.state != _C_SHD:
        raise TlsAlert(_UNEXPECTED_MESSAGE, "ServerHelloDone before ServerKeyExchange")
    w = self._w
    s = w.pos
    mark = M.begin_handshake(w, _HT_CLIENT_KEY_EXCHANGE)
    if suite == _PSK_WITH_AES_128_CBC_SHA256:
        w.vec(2, self.psk_identity)
        pms = F.psk_premaster(bytes(len(self.psk)), self.psk)
    else:
        from microticket import x25519
        priv = self.rng(32)
        pub = x25519.x25519_base(priv)
        try:
            z = x25519.x25519_shared(priv, self._server_point)
        except ValueError:
            raise TlsAlert(_ILLEGAL_PARAMETER, "X25519 shared secret is zero")
        if suite == _ECDHE_PSK_WITH_AES_128_CBC_SHA256:
            w.vec(2, self.psk_identity)
            pms = F.psk_premaster(z, self.psk)
        else:
            pms = z
        w.vec(1, pub)
    w.end(mark)
    self._msg_done(s)
    self._make_master(pms)
    self._make_keys()
    self._send_ccs()
    self._send_finished()
    self.state = _C_F_WAIT
