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

from microticket.errors import DecodeError
from microticket.wire import Reader, Writer

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
        out = buf if buf is not None else bytearray(self.encoded_len())
        w = Writer(out)
        w.u16(self.version)
        w.u16(self.cipher_suite)
        w.u8(self.compression)
        w.put(self.master_secret)
        w.u8(self.auth_type)
        if self.auth_type == AUTH_CERT:
            m = w.begin(3)
            for c in self.cert_list:
                w.vec(3, c)
            w.end(m)
        elif self.auth_type == AUTH_PSK:
            w.vec(2, self.identity)
        w.u32(self.timestamp)
        w.u8(self.layout)
        w.u8(_FLAG_EMS if self.ems else 0)
        w.u32(self.created)
        w.vec(1, self.server_name)
        if self.layout == _LAYOUT13:
            w.u32(self.age_add)
        if buf is not None:
            return w.pos
        return bytes(out)

    @classmethod
    def decode(cls, data):
        r = Reader(data)
        version = r.u16()
        suite = r.u16()
        compression = r.u8()
        if compression != 0:
            raise DecodeError("state: compression must be null")
        ms = bytes(r.take(_PSK13_LEN if version == _VERSION_TLS13 else _MASTER_SECRET_LEN))
        auth = r.u8()
        identity = b""
        certs = []
        if auth == AUTH_CERT:
            lst = r.sub(3)
            while lst.remaining():
                certs.append(bytes(lst.vec(3, 1)))
        elif auth == AUTH_PSK:
            identity = bytes(r.vec(2))
        elif auth != AUTH_ANONYMOUS:
            raise DecodeError("state: unknown client authentication type")
        timestamp = r.u32()
        st = cls(version, suite, ms, auth, identity, certs, timestamp)
        if r.remaining() == 0 and st.layout == _LAYOUT:
            st.layout = 0  # plain RFC 5077 state: no tail
            st.created = timestamp
            return st
        if r.u8() != st.layout:  # layout 2 for TLS 1.3, 1 for any other version
            raise DecodeError("state: unknown layout")
        flags = r.u8()
        if flags & ~_FLAG_EMS:
            raise DecodeError("state: unknown flags")
        st.ems = bool(flags & _FLAG_EMS)
        st.created = r.u32()
        st.server_name = bytes(r.vec(1))
        if st.layout == _LAYOUT13:
            st.age_add = r.u32()  # (the early-data tail may follow: see the module note)
        else:
            r.done()
        return st

    def __eq__(self, other):
        return isinstance(other, StatePlaintext) and self.encode() == other.encode()

    def __repr__(self):
        # never the master secret
        return "StatePlaintext(version=0x%04x, suite=0x%04x, auth=%d, ems=%s, created=%d)" % (
            self.version, self.cipher_suite, self.auth_type, self.ems, self.created)
