"""Key derivation built on microticket.crypto's HMAC: the TLS 1.2 PRF (RFC 5246 section 5). (microticket
speaks TLS 1.2 only: no TLS 1.0/1.1 PRF. IKEv2's prf+ is in microticket.ike.keys, where the IKE key
schedule uses it.)"""

from microticket.crypto import Hmac


def _p_hash(hm, label, seed, out):
    """P_hash (RFC 5246 section 5) written into ``out``."""
    a = hm.mac(label, seed)  # A(1)
    n = len(out)
    pos = 0
    while pos < n:
        block = hm.mac(a, label, seed)
        take = min(len(block), n - pos)
        out[pos:pos + take] = block[:take] if take < len(block) else block
        pos += take
        if pos < n:
            a = hm.mac(a)


def tls12_prf(secret, label, seed, n):
    """TLS 1.2 PRF with SHA-256: P_SHA256(secret, label | seed), n bytes."""
    out = bytearray(n)
    _p_hash(Hmac(secret, "sha256"), label, seed, out)
    return bytes(out)
