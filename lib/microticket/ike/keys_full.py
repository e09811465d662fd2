"""The full exchange's key schedule and AUTH (what a resumption never computes; keys.py holds the rest):

- ``skeyseed_full``   SKEYSEED = prf(Ni | Nr, g^ir)                                RFC 7296 section 2.14
- ``psk_auth``        AUTH = prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | Nonce | prf(SK_p, ID'))
                      (``prf_psk_key``: the outer key)                           RFC 7296 section 2.15
- ``natd_hash``       NAT detection: SHA-1(SPIi | SPIr | IP | port)              RFC 7296 section 2.23
"""

from microticket import crypto


def skeyseed_full(ni, nr, shared):
    return crypto.Hmac(ni + nr).mac(shared)


def prf_psk_key(psk):
    return crypto.Hmac(crypto.Hmac(psk).mac(b"Key Pad for IKEv2"))


def psk_auth(psk, real_message, nonce_peer, sk_p, id_body):
    """RFC 7296 section 2.15: prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | Nonce | prf(SK_p, ID'))."""
    maced = crypto.Hmac(sk_p).mac(id_body)
    return prf_psk_key(psk).mac(real_message, nonce_peer, maced)


def natd_hash(spi_i, spi_r, ip4, port):
    """SHA-1(SPIi | SPIr | IPv4 address (4 bytes) | port) (RFC 7296 section 2.23)."""
    return crypto.sha1(spi_i + spi_r + ip4 + bytes((port >> 8, port & 0xFF)))
