"""A server's private key from PEM, of either kind: RSA or P-256 (what ``tls-server --key`` takes).

    load_private_key(text, in_place=False) -> RsaPrivateKey or P256PrivateKey
    private_key_fields(der) -> ("rsa", [n, e, d, p, q, dp, dq, qinv]) or ("p256", d32)
    P256PrivateKey(d32): .kind == "p256", .sign(digest, extra=b"") -> DER ECDSA signature, .public_key()

Both key classes carry ``kind`` ("rsa" or "p256"): a caller picks the signature scheme by it. The kind comes
from the file: the PEM label and, for PKCS#8, the key's algorithm. The P-256 key formats (SEC 1 / RFC 5915
ECPrivateKey, PKCS#8 with id-ecPublicKey) are parsed here; RSA keys go to microticket.pk.rsa_sign's loader.

Why a module of its own: the RSA key class lives in microticket.pk.rsa_sign, whose loaders import
microticket.pk.pem, so pem cannot build keys (an import cycle); and an RSA-only server that keeps using
rsa_sign.load_private_key_pem loads none of the EC parsing (its smallest heap is unchanged). The parsers
(pem, der) are imported when a key is loaded, never at import: a server can unload them afterwards.
"""

from micropython import const

from microticket.errors import DecodeError

_TAG_BIT_STRING = const(0x03)  # DER tags (X.690), as in microticket.pk.der
_TAG_OCTET_STRING = const(0x04)
_TAG_SEQUENCE = const(0x30)
_TAG_CONTEXT_0 = const(0xA0)  # [0] EXPLICIT, constructed
_TAG_CONTEXT_1 = const(0xA1)

# 1.2.840.10045.2.1 id-ecPublicKey; the ECParameters (RFC 5480 section 2.1.1) namedCurve prime256v1,
# 1.2.840.10045.3.1.7, as a whole DER element
_OID_EC_PUBLIC_KEY = const(b"\x2a\x86\x48\xce\x3d\x02\x01")
_P256_PARAMS = const(b"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07")


def _check_curve(buf, off, end):
    """The ECParameters at ``off`` must be prime256v1 and fill ``end``: another curve (or explicit
    parameters) is a ValueError, trailing bytes a DecodeError."""
    from microticket.pk import der
    if der.element_bytes(buf, off, end) != _P256_PARAMS:
        raise ValueError("EC curve not supported (P-256 only)")
    if off + 10 != end:
        raise DecodeError("EC parameters")


class P256PrivateKey:
    """An ECDSA P-256 private key: ``d`` is the scalar as 32 bytes, big-endian, in [1, n-1] (checked).
    Signing is microticket.pk.p256.sign (RFC 6979 nonces, hedged with ``extra``; see its side-channel note)."""

    kind = "p256"

    # microticket.pk.p256 is imported where it is used: an RSA server that loads its key here never holds it
    def __init__(self, d):
        from microticket.pk import p256
        p256._scalar(d)  # ValueError unless 32 bytes in [1, n-1]
        self.d = bytes(d)

    def sign(self, digest, extra=b""):
        from microticket.pk import p256, unload
        sig = p256.sign(self.d, digest, extra)
        # a handshake signs once, after its other uses of P-256 (a TLS 1.3 server's ECDH; a TLS 1.2 server's
        # comes later and imports it again): unloaded until the next handshake (MicroPython; see
        # microticket.pk.unload), so that it is not heap beside the record keys made next
        unload(b"pk.p256")
        return sig

    def public_key(self):
        """The 65-byte uncompressed public point."""
        from microticket.pk import p256
        return p256.public_key(self.d)


def load_private_key(text, in_place=False):
    """The private key in PEM ``text`` (str or bytes; a bytearray decoded where it lies with ``in_place``,
    see microticket.pk.pem.pem_decode_in_place): "RSA PRIVATE KEY" (PKCS#1), "EC PRIVATE KEY" (SEC 1, with
    or without its parameters and public key; an "EC PARAMETERS" block before it is skipped) or "PRIVATE
    KEY" (PKCS#8, RSA or P-256). An EC key on another curve than P-256: ValueError; an encrypted key or
    anything that does not parse: DecodeError."""
    from microticket.pk import pem
    data = text if in_place else pem.pem_bytes(text)
    if not pem.has_pem_block(data, b"RSA PRIVATE KEY"):
        for label in (b"EC PRIVATE KEY", b"PRIVATE KEY"):
            if pem.has_pem_block(data, label):
                if in_place:
                    s, e, _ = pem.pem_decode_in_place(data, label)
                    der = memoryview(data)[s:e]
                else:
                    der = pem.pem_to_der(data, label)
                kind, fields = private_key_fields(der)
                if kind == "p256":
                    # the RSA modules (rsa_sign, rsa) are not loaded for a P-256 key: on a board their names
                    # would be interned strings on the heap for good
                    try:
                        return P256PrivateKey(fields)
                    except ValueError as e:  # the scalar out of range: the file's fault
                        raise DecodeError(str(e))
                from microticket.pk import rsa_sign
                return rsa_sign.from_fields(rsa_sign.RsaPrivateKey, fields)
    from microticket.pk import rsa_sign
    return rsa_sign.load_private_key_pem(data, in_place)  # RSA PRIVATE KEY; encrypted or none: DecodeError


def private_key_fields(der_bytes):
    """The kind and fields of a private key in DER: ``("p256", d)`` (d: 32 bytes, big-endian) for a SEC 1
    ECPrivateKey or a PKCS#8 PrivateKeyInfo with id-ecPublicKey and prime256v1, else ``("rsa", fields)``
    from microticket.pk.pem.rsa_private_key_fields (PKCS#1, PKCS#8 rsaEncryption; DecodeError otherwise).

    PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier,
                                  privateKey OCTET STRING (here an ECPrivateKey), ... }   (RFC 5208 / 5958)
    """
    from microticket.pk import der, pem
    buf = memoryview(der_bytes)
    end = len(buf)
    start, stop = der.expect(buf, 0, end, _TAG_SEQUENCE)
    if stop != end:
        raise DecodeError("private key")
    version, nxt = der.read_uint(buf, start, stop)
    tag, _, _ = der.read_tlv(buf, nxt, stop)
    if tag == _TAG_OCTET_STRING:  # SEC 1: version 1, then the private key
        return "p256", _ec_private_key(buf, 0, end, False)
    if tag == _TAG_SEQUENCE:
        oid, p_start, p_stop, a_stop = der.read_algorithm(buf, nxt, stop)
        if oid == _OID_EC_PUBLIC_KEY:
            if version > 1:
                raise DecodeError("PrivateKeyInfo")
            _check_curve(buf, p_start, p_stop)
            o_start, o_stop = der.expect(buf, a_stop, stop, _TAG_OCTET_STRING)
            return "p256", _ec_private_key(buf, o_start, o_stop, True)
    return "rsa", pem.rsa_private_key_fields(buf)


def _ec_private_key(buf, off, end, curve_known):
    """The 32-byte private key of the ECPrivateKey (RFC 5915 section 3) at ``off``, which must fill ``end``:

    ECPrivateKey ::= SEQUENCE { version INTEGER (1), privateKey OCTET STRING,
                                parameters [0] ECParameters OPTIONAL, publicKey [1] BIT STRING OPTIONAL }

    Parameters, when present, must name prime256v1 (another curve: ValueError); without them and without a
    PKCS#8 envelope naming the curve (``curve_known`` False), a 32-byte key is taken as P-256 and a longer
    one refused as another curve. The public key, when present, must be an uncompressed point; it is not
    compared with the private key. The scalar's range is checked by P256PrivateKey."""
    from microticket.pk import der
    start, stop = der.expect(buf, off, end, _TAG_SEQUENCE)
    if stop != end:
        raise DecodeError("ECPrivateKey")
    version, nxt = der.read_uint(buf, start, stop)
    if version != 1:
        raise DecodeError("ECPrivateKey")
    k_start, k_stop = der.expect(buf, nxt, stop, _TAG_OCTET_STRING)
    nxt = k_stop
    if nxt < stop and buf[nxt] == _TAG_CONTEXT_0:
        p_start, nxt = der.expect(buf, nxt, stop, _TAG_CONTEXT_0)
        _check_curve(buf, p_start, nxt)
        curve_known = True
    if k_stop - k_start != 32:
        if not curve_known and k_stop - k_start > 32:
            raise ValueError("EC curve not supported (P-256 only)")
        raise DecodeError("ECPrivateKey")
    if nxt < stop:
        b_start, nxt = der.expect(buf, nxt, stop, _TAG_CONTEXT_1)
        b_start, b_stop = der.expect(buf, b_start, nxt, _TAG_BIT_STRING)
        if b_stop != nxt or b_stop - b_start != 66 or buf[b_start] != 0 or buf[b_start + 1] != 4:
            raise DecodeError("ECPrivateKey")
    if nxt != stop:
        raise DecodeError("ECPrivateKey")
    return bytes(buf[k_start:k_stop])
