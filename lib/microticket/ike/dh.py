"""Diffie-Hellman for IKE_SA_INIT: group 14 (2048-bit MODP, RFC 3526) and group 31 (Curve25519, RFC 8031).

Both come from other microticket modules (imported only when a group is used, so a board that uses only
group 31 never loads the MODP code):  ``keypair(group, rng) -> (private, public_bytes)`` and
``shared(group, private, peer_public) -> g^ir bytes``. A peer value of the wrong length or an invalid one
raises DecodeError (wrong length or a degenerate value).
"""

from microticket.errors import DecodeError
from micropython import const

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_DH_CURVE25519 = const(31)
_DH_MODP2048 = const(14)

GROUPS = (14, 31)


def keypair(group, rng):
    if group == _DH_CURVE25519:
        from microticket import x25519
        priv = rng(32)
        return priv, x25519.x25519_base(priv)
    if group == _DH_MODP2048:
        from microticket import modp
        return modp.dh14_keypair(rng(32))
    raise ValueError("unsupported DH group")


def shared(group, priv, peer):
    if len(peer) != (32 if group == _DH_CURVE25519 else 256):
        raise DecodeError("KE data has the wrong length for its group")
    try:
        if group == _DH_CURVE25519:
            from microticket import x25519
            return x25519.x25519_shared(priv, peer)
        from microticket import modp
        return modp.dh14_shared(priv, peer)
    except ValueError:
        raise DecodeError("degenerate DH public value")
