"""Ephemeral ECDH for the TLS 1.2 key exchanges (RFC 8422 section 5.4): the ServerECDHParams with a named
curve, and the group's operations with their alerts. X25519 (RFC 7748, RFC 8422 section 5.11) is the group
today; a new group is one more branch here and a name in the ClientHello's supported_groups.
Shared by ECDHE_PSK (microticket.tls.kx_psk) and ECDHE_RSA (microticket.tls.kx_ecdhe_cert), both roles.
"""

from micropython import const

from microticket import errors  # TlsAlert: created on the first error (microticket.errors)

_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_CURVE_NAMED = const(3)
_GROUP_X25519 = const(29)


def keypair(rng):
    """(private, public) of a fresh X25519 share."""
    from microticket.pk import x25519
    priv = rng(32)
    return priv, x25519.x25519_base(priv)


def shared(priv, peer):
    """The X25519 shared secret with the peer's share ``peer`` (illegal_parameter for a bad share)."""
    from microticket.pk import x25519
    if len(peer) != 32:
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "X25519 point length")
    try:
        return x25519.x25519_shared(priv, bytes(peer))
    except ValueError:
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "X25519 shared secret is zero")


def params(public):
    """ServerECDHParams: curve_type named_curve, the group, the public point<1..255>."""
    return bytes((_CURVE_NAMED, 0, _GROUP_X25519, len(public))) + public


def parse_params(b, p):
    """(peer public point, end offset) of the ServerECDHParams at ``b[p:]``."""
    n = len(b)
    if p + 4 > n or p + 4 + b[p + 3] > n or not b[p + 3]:
        raise errors.TlsAlert(_DECODE_ERROR, "ServerKeyExchange")
    if b[p] != _CURVE_NAMED or ((b[p + 1] << 8) | b[p + 2]) != _GROUP_X25519:
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "group not offered")
    e = p + 4 + b[p + 3]
    return bytes(b[p + 4:e]), e
