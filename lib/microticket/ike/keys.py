"""IKEv2 key schedule, the SK payload and AUTH computations for the one suite of this profile.

- ``skeyseed_resume`` SKEYSEED = prf(SK_d_old, "Resumption" | Ni | Nr)      RFC 5723 section 5.1
- ``IkeSaKeys``       {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni|Nr|SPIi|SPIr)
- ``protect``/``unprotect``  the Encrypted payload (section 3.14): AES-CBC-128, HMAC-SHA2-256-128 ICV over
  the whole message up to the ICV, checked in constant time BEFORE decrypting.
- ``resume_auth``     RFC 5723 section 4.3.3 AUTH = prf(SK_px, <message octets>) in two readings:
     "signed"  (the RFC's reference to section 2.15): <message octets> are the section 2.15
               signed octets  RealMessage | Nonce_of_peer | prf(SK_px, ID payload body), keyed with SK_px
               instead of prf(PSK, pad);
     "message" (the deployed gateways' reading, libreswan 5.2+; the initiator's default): only the sender's
               own IKE_SESSION_RESUME message, i.e. AUTH = prf(SK_px, RealMessage).
  Our gateway accepts both; the initiator learns per peer which one works (initiator_full.fallback).
  In both, RealMessage is the sender's IKE_SESSION_RESUME message as sent (without the non-ESP marker).

What a resumption never computes is in keys_full.py: ``skeyseed_full`` (section 2.14), ``psk_auth``
(section 2.15), ``natd_hash`` (section 2.23); the rekey SKEYSEED (section 2.18) is in rekey.py.

Secrets are never logged here; ``keydump.dump_keys(keys)`` returns them for the explicit debug key-dump only.

Heap: parameters reuse the short names microticket.crypto already has (each distinct name is a qstr).
"""

from micropython import const
from microticket import crypto
from microticket.errors import DecodeError

# IKEv2 numbers used here as private consts (folded by the compiler, no RAM); the public table is consts.py
_BLOCK = const(16)
_HDR_LEN = const(28)
_ICV_LEN = const(16)
_PT_NONE = const(0)
_PT_SK = const(46)
from microticket.ike import message as M

_KEYMAT = const(192)  # 32 + 2*32 + 2*16 + 2*32

AUTH_SIGNED = "signed"
AUTH_MESSAGE = "message"


def skeyseed_resume(key, ni, nr):
    return crypto.Hmac(key).mac(b"Resumption", ni, nr)


class IkeSaKeys:
    def __init__(self, skeyseed, ni, nr, spi_i, spi_r):
        # prf+ (RFC 7296 section 2.13): T1 | T2 | ... with Ti = prf(SKEYSEED, Ti-1 | Ni | Nr | SPIi | SPIr | i),
        # the only use of prf+ here (tests/ike/test_ike_keys.py checks it against charon's key log)
        h = crypto.Hmac(skeyseed)
        seed = ni + nr + spi_i + spi_r
        km = bytearray(_KEYMAT)
        t = b""
        ctr = bytearray(1)
        for i in range(_KEYMAT // 32):
            ctr[0] = i + 1
            t = h.mac(t, seed, ctr)
            km[32 * i:32 * i + 32] = t
        km = bytes(km)
        self.skeyseed = skeyseed
        self.sk_d = km[0:32]
        self.sk_ai = km[32:64]
        self.sk_ar = km[64:96]
        self.sk_ei = km[96:112]
        self.sk_er = km[112:128]
        self.sk_pi = km[128:160]
        self.sk_pr = km[160:192]
        # (no HMAC objects kept for SK_ai/SK_ar: with their pads they are ~450 bytes each on MicroPython,
        # for one ICV per message; protect/unprotect make one when needed)


def protect(keys, a, spi_i, spi_r, exch, flags, msg_id, payloads, rng, pre=0):
    """HDR, SK{payloads} as bytes, sent by the initiator if ``a`` (else the responder). ``payloads`` is
    [(type, body)], the inner payloads; ``rng(n)`` gives the IV. The message is built in one buffer: the
    inner payloads are written where their ciphertext goes and encrypted in place. With ``pre`` (4: room for
    the RFC 3948 non-ESP marker) the result is that buffer itself, a bytearray starting with ``pre`` zero
    bytes (the datagram as sent: no copy of the message)."""
    ilen = M.chain_len(payloads)
    pad = (_BLOCK - (ilen + 1) % _BLOCK) % _BLOCK
    plen = ilen + pad + 1
    sk_len = 4 + _BLOCK + plen + _ICV_LEN
    total = _HDR_LEN + sk_len
    buf = bytearray(pre + total)
    mv = memoryview(buf)
    if pre:
        mv = mv[pre:]
    M.write_header(mv, spi_i, spi_r, _PT_SK, exch, flags, msg_id, total)
    # the SK generic header's Next Payload is the first inner payload's type
    mv[_HDR_LEN] = payloads[0][0] if payloads else _PT_NONE
    mv[_HDR_LEN + 2] = sk_len >> 8
    mv[_HDR_LEN + 3] = sk_len & 0xFF
    p = _HDR_LEN + 4
    iv = rng(_BLOCK)
    mv[p:p + _BLOCK] = iv
    p += _BLOCK
    M.write_chain(mv, p, payloads)
    mv[p + plen - 1] = pad
    body = mv[p:p + plen]
    crypto.aes_cbc_encryptor(keys.sk_ei if a else keys.sk_er, iv).encrypt(body, body)
    mv[total - _ICV_LEN:] = crypto.Hmac(keys.sk_ai if a else keys.sk_ar).mac(mv[:total - _ICV_LEN])[:_ICV_LEN]
    return buf if pre else bytes(buf)


def unprotect(keys, m, a):
    """Check the ICV of ``m``'s SK payload (sent by the initiator if ``a``) and decrypt it; returns the inner
    payload list.
    Raises DecodeError for a bad ICV, padding or inner chain (the caller drops the message)."""
    if m.sk is None:
        raise DecodeError("no SK payload")
    first, off, blen = m.sk
    if blen < _BLOCK + _BLOCK + _ICV_LEN or (blen - _BLOCK - _ICV_LEN) % _BLOCK:
        raise DecodeError("bad SK payload length")
    raw = memoryview(m.raw)  # slices of it are views, not copies
    end = off + blen - _ICV_LEN
    h = crypto.Hmac(keys.sk_ai if a else keys.sk_ar)
    if not crypto.ct_equal_at(h.mac(raw[:end])[:_ICV_LEN], m.raw, end):
        raise DecodeError("bad ICV")
    ek = keys.sk_ei if a else keys.sk_er
    plain = crypto.aes_cbc_decrypt(ek, raw[off:off + _BLOCK], raw[off + _BLOCK:end])
    n = len(plain) - 1
    pad = plain[n]
    if pad > n:
        raise DecodeError("bad padding")
    payloads, sk = M.parse_chain(plain, first, 0, n - pad, False)
    return payloads


def resume_auth(a, key, message, b, id_body):
    """RFC 5723 section 4.3.3 AUTH = prf(SK_px, <message octets>) in mode ``a`` (AUTH_SIGNED or
    AUTH_MESSAGE, see the module text); ``b`` is the peer's nonce."""
    h = crypto.Hmac(key)
    if a == AUTH_MESSAGE:
        return h.mac(message)
    return h.mac(message, b, h.mac(id_body))


def ip4_bytes(a):
    b = a.split(".")
    if len(b) != 4:
        raise ValueError("not an IPv4 address")
    return bytes(map(int, b))
