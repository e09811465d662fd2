"""A minimal, bounded DER reader (ITU-T X.690) and the certificate fields a TLS client needs.

Only what microticket needs to pull the RSA or P-256 key out of an X.509 certificate; PEM and the private keys'
fields are in microticket.pk.pem (a server's start), so a client reading a certificate loads neither.
Every read is checked against the end of its enclosing element, so a truncated or lying length raises
``DecodeError`` instead of IndexError, a slice that silently comes back short, or a hang.

Deliberate limits:
  * single-byte tags only (the high-tag-number form, 0x1F, is refused: X.509 and the key formats do not
    use it);
  * definite lengths only, in the short form or the long form with 1 to 3 length bytes (up to 16 MiB),
    which must be minimal as DER requires (X.690 section 10.1).

The reader works on bytes, bytearray or memoryview and returns offsets into the buffer, so nothing is
copied until a caller asks for the bytes of one element. Error messages are kept terse on purpose: on the
unix port and with .mpy files every distinct string costs heap (about 1.5 KB for long ones here).
"""

from micropython import const

from microticket import errors  # DecodeError: the class is made on the first error (microticket.errors)

# Error messages are longer than 10 characters: MicroPython interns a shorter string constant (on a board,
# heap for good), not a longer one.

_TAG_INTEGER = const(0x02)
_TAG_BIT_STRING = const(0x03)
_TAG_OCTET_STRING = const(0x04)
_TAG_NULL = const(0x05)
_TAG_OID = const(0x06)
_TAG_SEQUENCE = const(0x30)
_TAG_SET = const(0x31)
_TAG_CONTEXT_0 = const(0xA0)  # [0] EXPLICIT, constructed (e.g. the X.509 version)

# 1.2.840.113549.1.1.1 rsaEncryption (RFC 8017 appendix C), content octets of the OID.
_OID_RSA_ENCRYPTION = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"


def read_tlv(buf, off, end):
    """Read the element starting at ``off``, which must end at or before ``end``.

    Returns ``(tag, content_start, content_end)``; the next element starts at ``content_end``.
    """
    if off < 0 or end > len(buf) or off + 2 > end:
        raise errors.DecodeError("DER overrun")
    tag = buf[off]
    if tag & 0x1F == 0x1F:
        raise errors.DecodeError("bad DER tag")
    first = buf[off + 1]
    off += 2
    if first < 0x80:
        length = first
    else:
        nbytes = first & 0x7F
        if nbytes == 0:
            raise errors.DecodeError("bad DER length")
        if nbytes > 3:
            raise errors.DecodeError("bad DER length")
        if off + nbytes > end:
            raise errors.DecodeError("DER overrun")
        length = 0
        for i in range(nbytes):
            length = (length << 8) | buf[off + i]
        off += nbytes
        # X.690 section 10.1: the long form only when needed, without leading zero octets.
        if length < 0x80 or buf[off - nbytes] == 0:
            raise errors.DecodeError("bad DER length")
    if length > end - off:
        raise errors.DecodeError("DER overrun")
    return tag, off, off + length


def expect(buf, off, end, tag):
    """Read one element that must carry ``tag``; returns ``(content_start, content_end)``."""
    t, start, stop = read_tlv(buf, off, end)
    if t != tag:
        raise errors.DecodeError("bad DER tag")
    return start, stop


def read_uint(buf, off, end):
    """Read a non-negative INTEGER; returns ``(value, next_offset)``."""
    start, stop = expect(buf, off, end, _TAG_INTEGER)
    if start == stop:
        raise errors.DecodeError("DER integer")
    if buf[start] & 0x80:
        raise errors.DecodeError("DER integer")
    # straight from a view of the buffer (no bytes copy per integer: keys are parsed on boards)
    return int.from_bytes(buf[start:stop], "big"), stop


def element_bytes(buf, off, end):
    """The whole encoding (tag, length and content) of the element at ``off``, as bytes."""
    _, _, stop = read_tlv(buf, off, end)
    return bytes(buf[off:stop])


# --- X.509 (RFC 5280 section 4.1) and SubjectPublicKeyInfo --------------------------------------------

def cert_spki(cert_der):
    """The SubjectPublicKeyInfo element (tag and length included) of a DER X.509 certificate.

    Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity,
                                  subject, subjectPublicKeyInfo, ... }
    """
    buf = memoryview(cert_der)
    start, stop = expect(buf, 0, len(buf), _TAG_SEQUENCE)
    start, stop = expect(buf, start, stop, _TAG_SEQUENCE)  # tbsCertificate
    tag, _, off = read_tlv(buf, start, stop)
    if tag == _TAG_CONTEXT_0:  # explicit version; then serialNumber
        tag, _, off = read_tlv(buf, off, stop)
    if tag != _TAG_INTEGER:
        raise errors.DecodeError("X.509 certificate")
    for _ in range(4):  # signature, issuer, validity, subject
        _, off = expect(buf, off, stop, _TAG_SEQUENCE)
    tag, _, _ = read_tlv(buf, off, stop)
    if tag != _TAG_SEQUENCE:
        raise errors.DecodeError("X.509 certificate")
    return element_bytes(buf, off, stop)


def read_algorithm(buf, off, end):
    """Read an AlgorithmIdentifier; returns (oid_content_bytes, params_start, params_end, next_offset).

    ``params_start == params_end`` when the parameters are absent.
    """
    start, stop = expect(buf, off, end, _TAG_SEQUENCE)
    o_start, o_stop = expect(buf, start, stop, _TAG_OID)
    return bytes(buf[o_start:o_stop]), o_stop, stop, stop


def check_rsa_algorithm(buf, off, end):
    """Read an AlgorithmIdentifier that must be rsaEncryption with NULL (or absent) parameters."""
    oid, p_start, p_stop, nxt = read_algorithm(buf, off, end)
    if oid != _OID_RSA_ENCRYPTION:
        raise errors.DecodeError("not an RSA key")
    if p_start != p_stop:
        s, e = expect(buf, p_start, p_stop, _TAG_NULL)
        if s != e or e != p_stop:
            raise errors.DecodeError("RSA parameters")
    return nxt


def spki_rsa_public(spki_der):
    """(n, e) from an RSA SubjectPublicKeyInfo (RFC 5280 section 4.1.2.7, RFC 8017 appendix A.1.1).

    SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
    RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    """
    buf = memoryview(spki_der)
    start, stop = expect(buf, 0, len(buf), _TAG_SEQUENCE)
    if stop != len(buf):
        raise errors.DecodeError("SubjectPublicKeyInfo")
    off = check_rsa_algorithm(buf, start, stop)
    b_start, b_stop = expect(buf, off, stop, _TAG_BIT_STRING)
    if b_start == b_stop or buf[b_start] != 0:
        raise errors.DecodeError("SubjectPublicKeyInfo")
    return rsa_public_key_fields(buf, b_start + 1, b_stop)


def rsa_public_key_fields(buf, off, end):
    """(n, e) from the RSAPublicKey SEQUENCE at ``off``."""
    start, stop = expect(buf, off, end, _TAG_SEQUENCE)
    n, nxt = read_uint(buf, start, stop)
    e, nxt = read_uint(buf, nxt, stop)
    if nxt != stop:
        raise errors.DecodeError("RSAPublicKey")
    return n, e


def spki_p256_public(spki_der):
    """The 65-byte uncompressed point 04 | X | Y of a P-256 SubjectPublicKeyInfo (RFC 5480 section 2):
    algorithm id-ecPublicKey (1.2.840.10045.2.1) with the namedCurve prime256v1 (1.2.840.10045.3.1.7).
    Not EC, or a compressed point: DecodeError; another curve (or explicit parameters): ValueError. The
    point is not checked to be on the curve here (microticket.pk.p256 checks it where it is used). The
    OIDs are literals, not module names: this module is in every client's heap."""
    buf = memoryview(spki_der)
    start, stop = expect(buf, 0, len(buf), _TAG_SEQUENCE)
    if stop != len(buf):
        raise errors.DecodeError("SubjectPublicKeyInfo")
    oid, p_start, p_stop, off = read_algorithm(buf, start, stop)
    if oid != b"\x2a\x86\x48\xce\x3d\x02\x01":
        raise errors.DecodeError("not an EC key")
    if element_bytes(buf, p_start, p_stop) != b"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07":
        raise ValueError("EC curve not supported (P-256 only)")
    if p_start + 10 != p_stop:
        raise errors.DecodeError("SubjectPublicKeyInfo")
    b_start, b_stop = expect(buf, off, stop, _TAG_BIT_STRING)
    if b_stop != stop or b_stop - b_start != 66 or buf[b_start] != 0 or buf[b_start + 1] != 4:
        raise errors.DecodeError("SubjectPublicKeyInfo")
    return bytes(buf[b_start + 1:b_stop])
