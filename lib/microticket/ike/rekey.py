"""IKE SA rekeying pieces both roles use (RFC 7296 sections 1.3.2 and 2.18): the new SA's SKEYSEED, the
responder's choice of a rekey proposal and its SAr. The initiator's own rekey steps (its request, the
answer to the responder's) are in initiator_full.py; the gateway's in gateway.py.
"""

from micropython import const
from microticket import crypto
from microticket.errors import IkeNotifyError
from microticket.ike import payloads as P

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_INVALID_KE_PAYLOAD = const(17)
_NO_PROPOSAL_CHOSEN = const(14)
_PROTO_IKE = const(1)


def skeyseed_rekey(sk_d, shared, ni, nr):
    """SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)."""
    return crypto.Hmac(sk_d).mac(shared, ni, nr)


def select_rekey(proposals, ke, groups):
    """Responder side of an IKE rekey: (proposal number, the peer's new SPI, DH group, KE data) for the
    first proposal with our suite and an 8-octet SPI whose DH group is the KE's; IkeNotifyError
    NO_PROPOSAL_CHOSEN or INVALID_KE_PAYLOAD (its ``data``: the group we want) otherwise."""
    kg, kdata = P.parse_ke(ke)
    want = None
    for num, proto, spi, trs in proposals:
        if proto != _PROTO_IKE or len(spi) != 8:
            continue
        try:
            n, offered = P.select_ike_proposal([(num, proto, b"", trs)], groups)
        except IkeNotifyError:
            continue
        if kg in offered:
            return num, spi, kg, kdata
        if want is None:
            for g in groups:
                if g in offered:
                    want = g
                    break
    if want is None:
        raise IkeNotifyError(_NO_PROPOSAL_CHOSEN, "no acceptable IKE rekey proposal")
    e = IkeNotifyError(_INVALID_KE_PAYLOAD, "KE group")
    e.data = bytes((want >> 8, want & 0xFF))
    raise e


def answer_sa(num, group, spi):
    """SAr of a rekey: our one proposal (numbered as the chosen one) with our new SPI."""
    b = bytearray(P.sa_body([P.ike_proposal((group,), spi)]))
    b[4] = num
    return bytes(b)
