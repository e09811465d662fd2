"""Diffie-Hellman for IKEv2 (the KE payload, RFC 7296 sections 1.2, 2.14 and 3.4): group 14 (2048-bit MODP,
RFC 3526 section 3; ike/modp.py) and group 31 (Curve25519, RFC 8031; microticket.pk.x25519). Each group's
module is imported only when that group is used, so a board that uses only group 31 never loads the MODP
code, and a resumption (RFC 5723) loads neither.

    keypair(group, rng) -> (private, public_bytes)
    shared(group, private, peer_public) -> g^ir bytes

A peer value of the wrong length or a degenerate one raises DecodeError.
"""

from micropython import const
from microticket.errors import DecodeError

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_DH_CURVE25519 = const(31)
_DH_MODP2048 = const(14)

GROUPS = (14, 31)


def keypair(group, rng):
    if group == _DH_CURVE25519:
        from microticket.pk import x25519
        priv = rng(32)
        return priv, x25519.x25519_base(priv)
    if group == _DH_MODP2048:
        from microticket.ike import modp
        return modp.dh14_keypair(rng(32))
    raise ValueError("unsupported DH group")


def shared(group, priv, peer):
    if len(peer) != (32 if group == _DH_CURVE25519 else 256):
        raise DecodeError("KE data has the wrong length for its group")
    try:
        if group == _DH_CURVE25519:
            from microticket.pk import x25519
            return x25519.x25519_shared(priv, peer)
        from microticket.ike import modp
        return modp.dh14_shared(priv, peer)
    except ValueError:
        raise DecodeError("degenerate DH public value")


def __getattr__(name):
    # microticket.ike.cli (command-line code, moving to the cli package) still imports KEY_NAMES from here;
    # the table lives in keydump.py (which imports nothing of this module)
    if name == "KEY_NAMES":
        from microticket.ike.keydump import KEY_NAMES
        return KEY_NAMES
    raise AttributeError(name)
