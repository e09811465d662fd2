"""IKEv2 key schedule, the SK payload and AUTH computations for the one suite of this profile.

- ``skeyseed_full``   SKEYSEED = prf(Ni | Nr, g^ir)                         RFC 7296 section 2.14
- ``skeyseed_resume`` SKEYSEED = prf(SK_d_old, "Resumption" | Ni | Nr)      RFC 5723 section 5.1
- ``IkeSaKeys``       {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni|Nr|SPIi|SPIr)
- ``protect``/``unprotect``  the Encrypted payload (section 3.14): AES-CBC-128, HMAC-SHA2-256-128 ICV over
  the whole message up to the ICV, checked in constant time BEFORE decrypting.
- ``psk_auth``        AUTH = prf(prf(PSK, "Key Pad for IKEv2"), <signed octets>)   section 2.15
- ``resume_auth``     RFC 5723 section 4.3.3 AUTH = prf(SK_px, <message octets>) in two readings:
     "signed"  (default; the RFC's reference to section 2.15): <message octets> are the section 2.15
               signed octets  RealMessage | Nonce_of_peer | prf(SK_px, ID payload body), keyed with SK_px
               instead of prf(PSK, pad);
     "message" (libreswan 5.2+ reading): only the sender's own IKE_SESSION_RESUME message, i.e.
               AUTH = prf(SK_px, RealMessage).
  In both, RealMessage is the sender's IKE_SESSION_RESUME message as sent (without the non-ESP marker).
- ``natd_hash``       SHA-1(SPIi | SPIr | IP | port)                          section 2.23

Secrets are never logged here; ``IkeSaKeys.dump()`` returns them for the explicit debug key-dump only.
"""

from micropython import const
from microticket import crypto, prf
from microticket.errors import DecodeError
from microticket.wire import Writer

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_BLOCK = const(16)
_HDR_LEN = const(28)
_ICV_LEN = const(16)
_PT_NONE = const(0)
_PT_SK = const(46)
from microticket.ike import message as M

_KEYMAT = const(192)  # 32 + 2*32 + 2*16 + 2*32
_KEY_PAD = b"Key Pad for IKEv2"
_RESUMPTION = b"Resumption"

AUTH_SIGNED = "signed"
AUTH_MESSAGE = "message"


def skeyseed_full(ni, nr, shared):
    return crypto.Hmac(ni + nr).mac(shared)


def skeyseed_resume(sk_d_old, ni, nr):
    return crypto.Hmac(sk_d_old).mac(_RESUMPTION, ni, nr)


class IkeSaKeys:
    def __init__(self, skeyseed, ni, nr, spi_i, spi_r):
        km = prf.prf_plus(crypto.Hmac(skeyseed), ni + nr + spi_i + spi_r, _KEYMAT)
        self.skeyseed = skeyseed
        self.sk_d = km[0:32]
        self.sk_ai = km[32:64]
        self.sk_ar = km[64:96]
        self.sk_ei = km[96:112]
        self.sk_er = km[112:128]
        self.sk_pi = km[128:160]
        self.sk_pr = km[160:192]
        self.h_ai = crypto.Hmac(self.sk_ai)
        self.h_ar = crypto.Hmac(self.sk_ar)

    def dump(self):
        """Hex of every key (explicit debug key-dump only; compared with charon's ike=4 log in tests)."""
        return {"SKEYSEED": self.skeyseed.hex(), "SK_d": self.sk_d.hex(), "SK_ai": self.sk_ai.hex(),
                "SK_ar": self.sk_ar.hex(), "SK_ei": self.sk_ei.hex(), "SK_er": self.sk_er.hex(),
                "SK_pi": self.sk_pi.hex(), "SK_pr": self.sk_pr.hex()}


def protect(keys, from_initiator, spi_i, spi_r, exch, flags, msg_id, inner, rng):
    """HDR, SK{inner} as bytes. ``inner`` is [(type, body)]; ``rng(n)`` gives the IV."""
    ilen = M.chain_len(inner)
    pad = (_BLOCK - (ilen + 1) % _BLOCK) % _BLOCK
    plen = ilen + pad + 1
    plain = bytearray(plen)
    w = Writer(plain)
    M.write_chain(w, inner)
    plain[plen - 1] = pad
    iv = rng(_BLOCK)
    ek = keys.sk_ei if from_initiator else keys.sk_er
    ct = crypto.aes_cbc_encrypt(ek, iv, plain)
    sk_len = 4 + _BLOCK + plen + _ICV_LEN
    total = _HDR_LEN + sk_len
    buf = bytearray(total)
    w = Writer(buf)
    M.write_header(w, spi_i, spi_r, _PT_SK, exch, flags, msg_id, total)
    w.u8(0)
    w.u8(0)
    w.u16(sk_len)
    # the SK generic header's Next Payload is the first inner payload's type
    buf[_HDR_LEN] = inner[0][0] if inner else _PT_NONE
    w.put(iv)
    w.put(ct)
    h = keys.h_ai if from_initiator else keys.h_ar
    icv = h.mac(memoryview(buf)[:total - _ICV_LEN])
    w.put(icv[:_ICV_LEN])
    return bytes(buf)


def unprotect(keys, m, from_initiator):
    """Check the ICV of ``m``'s SK payload and decrypt it; returns the inner payload list.
    Raises DecodeError for a bad ICV, padding or inner chain (the caller drops the message)."""
    if m.sk is None:
        raise DecodeError("no SK payload")
    first, off, blen = m.sk
    if blen < _BLOCK + _BLOCK + _ICV_LEN or (blen - _BLOCK - _ICV_LEN) % _BLOCK:
        raise DecodeError("bad SK payload length")
    raw = m.raw
    end = off + blen
    h = keys.h_ai if from_initiator else keys.h_ar
    icv = h.mac(memoryview(raw)[:end - _ICV_LEN])
    if not crypto.ct_equal(icv[:_ICV_LEN], raw[end - _ICV_LEN:end]):
        raise DecodeError("bad ICV")
    ek = keys.sk_ei if from_initiator else keys.sk_er
    iv = raw[off:off + _BLOCK]
    plain = crypto.aes_cbc_decrypt(ek, iv, raw[off + _BLOCK:end - _ICV_LEN])
    pad = plain[len(plain) - 1]
    if pad + 1 > len(plain):
        raise DecodeError("bad padding")
    payloads, sk = M.parse_chain(plain, first, 0, len(plain) - 1 - pad, False)
    return payloads


def prf_psk_key(psk):
    return crypto.Hmac(crypto.Hmac(psk).mac(_KEY_PAD))


def psk_auth(psk, real_message, nonce_peer, sk_p, id_body):
    """RFC 7296 section 2.15: prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | Nonce | prf(SK_p, ID'))."""
    maced = crypto.Hmac(sk_p).mac(id_body)
    return prf_psk_key(psk).mac(real_message, nonce_peer, maced)


def resume_auth(mode, sk_p, real_message, nonce_peer, id_body):
    """RFC 5723 section 4.3.3 AUTH = prf(SK_px, <message octets>); see the module text for ``mode``."""
    h = crypto.Hmac(sk_p)
    if mode == AUTH_MESSAGE:
        return h.mac(real_message)
    return h.mac(real_message, nonce_peer, h.mac(id_body))


def natd_hash(spi_i, spi_r, ip4, port):
    return crypto.sha1(spi_i + spi_r + ip4 + bytes((port >> 8, port & 0xFF)))


def ip4_bytes(dotted):
    parts = dotted.split(".")
    if len(parts) != 4:
        raise ValueError("not an IPv4 address")
    return bytes([int(p) for p in parts])
