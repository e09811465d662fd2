"""Ephemeral ECDH for the TLS 1.2 key exchanges (RFC 8422 section 5.4): the ServerECDHParams with a named
curve, and the groups' operations with their alerts. Groups: x25519 (RFC 7748, RFC 8422 section 5.11) and
secp256r1 (NIST P-256, uncompressed points: RFC 8422 section 5.4.1), each in its module of
microticket.pk, loaded by the first handshake that uses it. A new group is one more branch here and a
number in the ClientHello's supported_groups (microticket.tls.engine).
Shared by ECDHE_PSK (microticket.tls.kx_psk) and ECDHE_RSA / ECDHE_ECDSA (microticket.tls.kx_ecdhe_cert),
both roles.
"""

from micropython import const

from microticket import errors  # TlsAlert: created on the first error (microticket.errors)

_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_CURVE_NAMED = const(3)
_GROUP_SECP256R1 = const(23)
_GROUP_X25519 = const(29)


def choose(groups):
    """The group a server takes from the client's supported_groups (None: the client sent none, RFC 8422
    section 5.1: any), x25519 first; 0 when it offered neither."""
    if groups is None or _GROUP_X25519 in groups:
        return _GROUP_X25519
    return _GROUP_SECP256R1 if _GROUP_SECP256R1 in groups else 0


def keypair(group, rng):
    """(private, public) of a fresh share of ``group``."""
    if group == _GROUP_X25519:
        from microticket.pk import x25519
        priv = rng(32)
        return priv, x25519.x25519_base(priv)
    from microticket.pk import p256
    return p256.keypair(rng)


def shared(group, priv, peer):
    """The shared secret with the peer's share ``peer`` (illegal_parameter for a bad share: a point of
    the wrong length or format, off the curve, or a zero result). The last step of a handshake's key
    exchange: on MicroPython, microticket.pk.x25519 and this module are unloaded after it (microticket.pk.unload;
    the next handshake imports them again)."""
    try:
        if group == _GROUP_X25519:
            from microticket.pk import x25519
            if len(peer) != 32:
                raise ValueError
            z = x25519.x25519_shared(priv, bytes(peer))
        else:
            from microticket.pk import p256
            z = p256.shared(priv, bytes(peer))
    except ValueError:
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "bad ECDH share")
    # the handshake's last ECDH step (every caller's): X25519 and this module unloaded (P-256 stays: a TLS 1.3
    # server signs with it next; microticket.tls.kx_ecdhe_cert unloads it)
    from microticket import pk
    pk.unload(b"pk.x25519 tls.ecdhe")
    return z


def params(group, public):
    """ServerECDHParams: curve_type named_curve, the group, the public point<1..255>."""
    return bytes((_CURVE_NAMED, 0, group, len(public))) + public


def parse_params(b, p):
    """(group, peer public point, end offset) of the ServerECDHParams at ``b[p:]`` (the client offered
    both groups)."""
    n = len(b)
    if p + 4 > n or p + 4 + b[p + 3] > n or not b[p + 3]:
        raise errors.TlsAlert(_DECODE_ERROR, "ServerKeyExchange")
    g = (b[p + 1] << 8) | b[p + 2]
    if b[p] != _CURVE_NAMED or (g != _GROUP_X25519 and g != _GROUP_SECP256R1):
        raise errors.TlsAlert(_ILLEGAL_PARAMETER, "group not offered")
    e = p + 4 + b[p + 3]
    return g, bytes(b[p + 4:e]), e
