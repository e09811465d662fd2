"""StatePlaintext: the TLS session state sealed inside a ticket (RFC 5077 section 4).

Layout (all integers big-endian). The first part is RFC 5077 section 4 byte for byte; microticket's
additions follow in a versioned tail, so a state without the tail (layout 0) still decodes:

    ProtocolVersion protocol_version;          2   e.g. 0x0303 for TLS 1.2
    CipherSuite     cipher_suite;              2
    CompressionMethod compression_method;      1   always 0 (null)
    opaque          master_secret[48];        48
    ClientIdentity  client_identity;               uint8 type, then
                        anonymous(0):              nothing
                        certificate_based(1):      ASN.1Cert certificate_list<0..2^24-1> (each cert <1..2^24-1>)
                        psk(2):                    opaque psk_identity<0..2^16-1>  (as draft-07 defines it)
    uint32          timestamp;                 4   when this ticket was issued
    -- microticket tail, layout 1 --
    uint8           layout;                    1   = 1
    uint8           flags;                     1   bit 0: extended_master_secret (RFC 7627) was negotiated
    uint32          created;                   4   when the session was first established (kept across renewals)
    opaque          server_name<0..255>;           SNI host name the session was made for (RFC 6066)

A TLS 1.3 state (protocol_version 0x0304, RFC 8446 section 4.6.1) has the same fields with two changes:
master_secret is the ticket's PSK (32 bytes: HKDF-Expand-Label(resumption_master_secret, "resumption",
ticket_nonce)), and its tail is layout 2, which adds after server_name
    uint32          ticket_age_add;            4   the ticket's age_add (RFC 8446 section 4.6.1)
A layout 2 state may be followed by the early-data tail of microticket.tls.early13 (uint32
max_early_data_size | opaque alpn<0..255>, RFC 8446 section 4.2.10's conditions): decode stops before it
(the server reads it from the state's bytes past ``encoded_len``).
``timestamp`` is when the ticket was issued (the server's side of the ticket age check). A 1.3 state
always has layout 2 and a 1.2 state never does: a TLS 1.2 ticket never decodes as a 1.3 PSK nor the
reverse (the server also checks ``version``).

A decoder never trusts a length: every overrun, a bad type or a layout it does not know is a DecodeError.
"""

from micropython import const

from microticket import errors  # BufferFull: made on first use (microticket.errors)
from microticket.errors import DecodeError

AUTH_ANONYMOUS = const(0)
AUTH_CERT = const(1)
AUTH_PSK = const(2)

_LAYOUT = const(1)
_LAYOUT13 = const(2)
_VERSION_TLS13 = const(0x0304)
_PSK13_LEN = const(32)
_FLAG_EMS = const(1)
_MASTER_SECRET_LEN = const(48)
_MAX_SERVER_NAME = const(255)
_TRUNCATED = const("state: truncated")  # (a str constant of 10 or more characters: not interned)


def _u32(b, p, v):
    b[p] = (v >> 24) & 0xFF
    b[p + 1] = (v >> 16) & 0xFF
    b[p + 2] = (v >> 8) & 0xFF
    b[p + 3] = v & 0xFF
    return p + 4


def _vec(b, p, w, d):
    # d with a w-byte length before it, at p; the position after it
    k = len(d)
    if k >> (8 * w):
        raise errors.BufferFull("vector too long for its length field")
    for i in range(w):
        b[p + i] = (k >> (8 * (w - 1 - i))) & 0xFF
    p += w
    b[p:p + k] = d
    return p + k


class StatePlaintext:
    def __init__(self, version, cipher_suite, master_secret, auth_type=AUTH_ANONYMOUS, identity=b"",
                 cert_list=(), timestamp=0, ems=False, created=0, server_name=b"", compression=0, age_add=0):
        if len(master_secret) != (_PSK13_LEN if version == _VERSION_TLS13 else _MASTER_SECRET_LEN):
            raise ValueError("master_secret must be 48 bytes (TLS 1.3: a 32-byte PSK)")
        if auth_type not in (AUTH_ANONYMOUS, AUTH_CERT, AUTH_PSK):
            raise ValueError("unknown client authentication type")
        self.version = version
        self.cipher_suite = cipher_suite
        self.compression = compression
        self.master_secret = bytes(master_secret)
        self.auth_type = auth_type
        self.identity = bytes(identity)
        self.cert_list = tuple([bytes(c) for c in cert_list])
        self.timestamp = timestamp
        self.ems = bool(ems)
        self.created = created
        self.server_name = bytes(server_name)
        self.layout = _LAYOUT
        if version == _VERSION_TLS13:  # (a TLS 1.2 state holds no attribute it does not use: a board's heap)
            self.age_add = age_add
            self.layout = _LAYOUT13

    def encoded_len(self):
        n = 2 + 2 + 1 + len(self.master_secret) + 1 + 4 + 1 + 1 + 4 + 1 + len(self.server_name)
        if self.layout == _LAYOUT13:
            n += 4
        if self.auth_type == AUTH_CERT:
            n += 3
            for c in self.cert_list:
                n += 3 + len(c)
        elif self.auth_type == AUTH_PSK:
            n += 2 + len(self.identity)
        return n

    def encode(self, buf=None):
        """The encoded state as bytes, or written into ``buf`` (returns the length then)."""
        if len(self.server_name) > _MAX_SERVER_NAME:
            raise ValueError("server name too long")
        n = self.encoded_len()
        out = buf if buf is not None else bytearray(n)
        if len(out) < n:
            raise errors.BufferFull("output buffer full")
        # index arithmetic, as the handshake codecs (no Writer object and no call per field)
        v = self.version
        out[0] = (v >> 8) & 0xFF
        out[1] = v & 0xFF
        v = self.cipher_suite
        out[2] = (v >> 8) & 0xFF
        out[3] = v & 0xFF
        out[4] = self.compression & 0xFF
        v = self.master_secret
        p = 5 + len(v)
        out[5:p] = v
        a = self.auth_type
        out[p] = a & 0xFF
        p += 1
        if a == AUTH_CERT:
            q = p
            p += 3
            for c in self.cert_list:
                p = _vec(out, p, 3, c)
            k = p - q - 3
            if k >> 24:
                raise errors.BufferFull("vector too long for its length field")
            out[q] = k >> 16
            out[q + 1] = (k >> 8) & 0xFF
            out[q + 2] = k & 0xFF
        elif a == AUTH_PSK:
            p = _vec(out, p, 2, self.identity)
        p = _u32(out, p, self.timestamp)
        out[p] = self.layout & 0xFF
        out[p + 1] = _FLAG_EMS if self.ems else 0
        p = _vec(out, _u32(out, p + 2, self.created), 1, self.server_name)
        if self.layout == _LAYOUT13:
            p = _u32(out, p, self.age_add)
        if buf is not None:
            return p
        return bytes(out)

    @classmethod
    def decode(cls, data):
        # index arithmetic, every length checked against the end before it is used: an overrun, a bad type
        # or an unknown layout is a DecodeError
        n = len(data)
        if n < 5:
            raise DecodeError(_TRUNCATED)
        version = (data[0] << 8) | data[1]
        suite = (data[2] << 8) | data[3]
        if data[4] != 0:
            raise DecodeError("state: compression must be null")
        p = 5 + (_PSK13_LEN if version == _VERSION_TLS13 else _MASTER_SECRET_LEN)
        if p + 1 > n:
            raise DecodeError(_TRUNCATED)
        ms = bytes(data[5:p])
        auth = data[p]
        p += 1
        identity = b""
        certs = []
        if auth == AUTH_CERT:
            if p + 3 > n:
                raise DecodeError(_TRUNCATED)
            end = p + 3 + ((data[p] << 16) | (data[p + 1] << 8) | data[p + 2])
            p += 3
            if end > n:
                raise DecodeError(_TRUNCATED)
            while p < end:
                if p + 3 > end:
                    raise DecodeError(_TRUNCATED)
                k = (data[p] << 16) | (data[p + 1] << 8) | data[p + 2]
                p += 3
                if not k or p + k > end:  # a certificate <1..2^24-1> inside the list
                    raise DecodeError(_TRUNCATED)
                certs.append(bytes(data[p:p + k]))
                p += k
        elif auth == AUTH_PSK:
            if p + 2 > n:
                raise DecodeError(_TRUNCATED)
            k = p + 2 + ((data[p] << 8) | data[p + 1])
            if k > n:
                raise DecodeError(_TRUNCATED)
            identity = bytes(data[p + 2:k])
            p = k
        elif auth != AUTH_ANONYMOUS:
            raise DecodeError("state: unknown client authentication type")
        if p + 4 > n:
            raise DecodeError(_TRUNCATED)
        st = cls(version, suite, ms, auth, identity, certs,
                 (data[p] << 24) | (data[p + 1] << 16) | (data[p + 2] << 8) | data[p + 3])
        p += 4
        if p == n and st.layout == _LAYOUT:
            st.layout = 0  # plain RFC 5077 state: no tail
            st.created = st.timestamp
            return st
        if p + 1 > n:
            raise DecodeError(_TRUNCATED)
        if data[p] != st.layout:  # layout 2 for TLS 1.3, 1 for any other version
            raise DecodeError("state: unknown layout")
        if p + 7 > n:  # flags, created, the server name's length
            raise DecodeError(_TRUNCATED)
        flags = data[p + 1]
        if flags & ~_FLAG_EMS:
            raise DecodeError("state: unknown flags")
        st.ems = bool(flags & _FLAG_EMS)
        st.created = (data[p + 2] << 24) | (data[p + 3] << 16) | (data[p + 4] << 8) | data[p + 5]
        k = p + 7 + data[p + 6]
        if k > n:
            raise DecodeError(_TRUNCATED)
        st.server_name = bytes(data[p + 7:k])
        if st.layout == _LAYOUT13:
            if k + 4 > n:
                raise DecodeError(_TRUNCATED)
            st.age_add = (data[k] << 24) | (data[k + 1] << 16) | (data[k + 2] << 8) | data[k + 3]
            # (the early-data tail may follow: see the module note)
        elif k != n:
            raise DecodeError("state: trailing bytes")
        return st

    def __eq__(self, other):
        return isinstance(other, StatePlaintext) and self.encode() == other.encode()

    def __repr__(self):
        # never the master secret
        return "StatePlaintext(version=0x%04x, suite=0x%04x, auth=%d, ems=%s, created=%d)" % (
            self.version, self.cipher_suite, self.auth_type, self.ems, self.created)
