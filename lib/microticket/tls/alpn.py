"""Application-Layer Protocol Negotiation (RFC 7301), both roles, TLS 1.2 and 1.3: loaded only by a connection
that negotiates it (a client given ``alpn=``, a server configured with protocols that gets the extension).

    extension_data (ClientHello): ProtocolNameList, a 2-byte length then non-empty names of a 1-byte length
    each; the server's (TLS 1.2 ServerHello, TLS 1.3 EncryptedExtensions): the same with exactly one name,
    one the client offered.

The server picks the first of its own protocols (its preference order) that the client offered; when the
client offered protocols and none is the server's: no_application_protocol (section 3.2). A client that
gets a protocol it did not offer aborts with illegal_parameter. ALPN is negotiated in every handshake, a
resumption too; a ticket does not carry it (only early data, not built here, would need it: RFC 8446
section 4.6.1)."""

from micropython import const

from microticket import errors

_DECODE_ERROR = const(50)
_ILLEGAL_PARAMETER = const(47)
_NO_APPLICATION_PROTOCOL = const(120)
_EXT_ALPN = const(16)


def encode(names):
    """The ProtocolNameList of ``names`` (bytes, 1..255 each, at least one)."""
    b = b""
    for n in names:
        if not 0 < len(n) < 256:
            raise ValueError("ALPN: a protocol name is 1..255 bytes")
        b += bytes((len(n),)) + n
    if not b or len(b) > 0xFFFF - 2:
        raise ValueError("ALPN: one protocol name at least")
    return bytes((len(b) >> 8, len(b) & 0xFF)) + b


def names(d):
    """[names] of the ProtocolNameList ``d``; a malformed one (an empty name among them) is decode_error."""
    n = len(d)
    if n < 3 or 2 + ((d[0] << 8) | d[1]) != n:
        raise errors.TlsAlert(_DECODE_ERROR, "ALPN")
    out = []
    p = 2
    while p < n:
        k = d[p]
        if not k or p + 1 + k > n:
            raise errors.TlsAlert(_DECODE_ERROR, "ALPN")
        out.append(bytes(d[p + 1:p + 1 + k]))
        p += 1 + k
    return out


def parse(c, d):
    """The protocol the server agreed to in its extension data ``d`` (exactly one name), checked against what
    the client ``c`` offered (``c.alpn``)."""
    got = names(d)
    if len(got) != 1:
        raise errors.TlsAlert(_DECODE_ERROR, "ALPN")
    if got[0] not in names(c.alpn):
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "ALPN: a protocol not offered")
    return got[0]


def answer(s, exts, out):
    """The server engine ``s`` (configured with protocols, ``s.cfg.alpn``) answers the client's ALPN extension
    (in ``exts``, the ClientHello's {type: data}): ``s.alpn_protocol`` set, the reply appended to ``out``
    (the ServerHello's or EncryptedExtensions' [(type, data)])."""
    s.alpn_protocol, d = choose(s.cfg.alpn, exts[_EXT_ALPN])
    out.append((_EXT_ALPN, d))


def choose(mine, d):
    """(protocol, the server's extension data) for the client's extension data ``d``: the first of the
    server's protocols ``mine`` that the client offered."""
    offered = names(d)
    for m in mine:
        if m in offered:
            return m, encode((m,))
    raise errors.TlsAlert(_NO_APPLICATION_PROTOCOL, "no application protocol in common")
