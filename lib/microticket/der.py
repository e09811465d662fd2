"""A minimal, bounded DER reader (ITU-T X.690) and PEM unwrapping (RFC 7468).

Only what microticket needs to pull RSA keys out of PKCS#1 / PKCS#8 private keys and X.509 certificates.
Every read is checked against the end of its enclosing element, so a truncated or lying length raises
``DecodeError`` instead of IndexError, a slice that silently comes back short, or a hang.

Deliberate limits:
  * single-byte tags only (the high-tag-number form, 0x1F, is refused: X.509 and the key formats do not
    use it);
  * definite lengths only, in the short form or the long form with 1 to 3 length bytes (up to 16 MiB),
    which must be minimal as DER requires (X.690 section 10.1);
  * no base64 or binascii module: ``pem_to_der`` carries its own small decoder (RFC 4648 section 4).

The reader works on bytes, bytearray or memoryview and returns offsets into the buffer, so nothing is
copied until a caller asks for the bytes of one element. Error messages are kept terse on purpose: on the
unix port and with .mpy files every distinct string costs heap (about 1.5 KB for long ones here).
"""

from microticket.errors import DecodeError

TAG_INTEGER = 0x02
TAG_BIT_STRING = 0x03
TAG_OCTET_STRING = 0x04
TAG_NULL = 0x05
TAG_OID = 0x06
TAG_SEQUENCE = 0x30
TAG_SET = 0x31
TAG_CONTEXT_0 = 0xA0  # [0] EXPLICIT, constructed (e.g. the X.509 version)

# 1.2.840.113549.1.1.1 rsaEncryption (RFC 8017 appendix C), content octets of the OID.
OID_RSA_ENCRYPTION = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"


def read_tlv(buf, off, end):
    """Read the element starting at ``off``, which must end at or before ``end``.

    Returns ``(tag, content_start, content_end)``; the next element starts at ``content_end``.
    """
    if off < 0 or end > len(buf) or off + 2 > end:
        raise DecodeError("DER overrun")
    tag = buf[off]
    if tag & 0x1F == 0x1F:
        raise DecodeError("DER tag")
    first = buf[off + 1]
    off += 2
    if first < 0x80:
        length = first
    else:
        nbytes = first & 0x7F
        if nbytes == 0:
            raise DecodeError("DER length")
        if nbytes > 3:
            raise DecodeError("DER length")
        if off + nbytes > end:
            raise DecodeError("DER overrun")
        length = 0
        for i in range(nbytes):
            length = (length << 8) | buf[off + i]
        off += nbytes
        # X.690 section 10.1: the long form only when needed, without leading zero octets.
        if length < 0x80 or buf[off - nbytes] == 0:
            raise DecodeError("DER length")
    if length > end - off:
        raise DecodeError("DER overrun")
    return tag, off, off + length


def expect(buf, off, end, tag):
    """Read one element that must carry ``tag``; returns ``(content_start, content_end)``."""
    t, start, stop = read_tlv(buf, off, end)
    if t != tag:
        raise DecodeError("DER tag")
    return start, stop


def read_uint(buf, off, end):
    """Read a non-negative INTEGER; returns ``(value, next_offset)``."""
    start, stop = expect(buf, off, end, TAG_INTEGER)
    if start == stop:
        raise DecodeError("DER integer")
    if buf[start] & 0x80:
        raise DecodeError("DER integer")
    # straight from a view of the buffer (no bytes copy per integer: keys are parsed on boards)
    return int.from_bytes(buf[start:stop], "big"), stop


def element_bytes(buf, off, end):
    """The whole encoding (tag, length and content) of the element at ``off``, as bytes."""
    _, _, stop = read_tlv(buf, off, end)
    return bytes(buf[off:stop])


# --- base64 (RFC 4648 section 4) ----------------------------------------------------------------------

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_TABLE = None  # 256-byte map: sextet value, 0xFE for whitespace, 0xFF for anything else


def _b64_table():
    global _B64_TABLE
    if _B64_TABLE is None:
        t = bytearray(b"\xff" * 256)
        for i in range(64):
            t[_B64_ALPHABET[i]] = i
        for c in b" \t\r\n":
            t[c] = 0xFE
        _B64_TABLE = bytes(t)
    return _B64_TABLE


def b64decode(data, start=0, end=None):
    """Decode standard base64 in ``data[start:end]`` (bytes), ignoring whitespace; DecodeError when malformed.

    Padding is optional at the very end; a lone trailing sextet or characters after the padding are
    refused. Two passes (count, then fill) so that exactly one output buffer is allocated.
    """
    data = pem_bytes(data)
    if end is None or end > len(data):
        end = len(data)
    out = bytearray(_b64_count(data, start, end) * 6 // 8)
    _b64_fill(data, start, out, 0, len(out))
    return bytes(out)


def _b64_count(data, start, end):
    """Pass 1: validate ``data[start:end]`` and count its sextets."""
    table = _b64_table()
    count = 0
    i = start
    while i < end:
        c = data[i]
        v = table[c]
        i += 1
        if v < 64:
            count += 1
        elif v == 0xFE:
            continue
        elif c == 0x3D:  # '=': only padding and whitespace may follow
            while i < end:
                c = data[i]
                if c != 0x3D and table[c] != 0xFE:
                    raise DecodeError("base64")
                i += 1
            break
        else:
            raise DecodeError("base64")
    if count % 4 == 1:  # a lone sextet cannot encode a byte
        raise DecodeError("base64")
    return count


def _b64_fill(data, i, out, n, end):
    """Pass 2: decode from data[i] into out[n:end] (the text is known to be valid). ``out`` may be
    ``data`` itself with n <= i: each output byte is written behind the characters it was read from."""
    table = _b64_table()
    acc = 0
    bits = 0
    while n < end:
        v = table[data[i]]
        i += 1
        if v < 64:
            acc = ((acc << 6) | v) & 0xFFFFFF
            bits += 6
            if bits >= 8:
                bits -= 8
                out[n] = (acc >> bits) & 0xFF
                n += 1


# --- PEM (RFC 7468) ------------------------------------------------------------------------------------


def pem_bytes(text):
    """PEM text as bytes: str is encoded once, bytes passes through uncopied."""
    if isinstance(text, str):
        return text.encode()
    if isinstance(text, (bytes, bytearray)):
        return text
    return bytes(text)


def _pem_find(data, label, pos):
    """Find the next ``label`` block at or after ``pos``; returns (b64_start, b64_end, after) or None."""
    if isinstance(label, str):
        label = label.encode()
    begin = b"-----BEGIN " + label + b"-----"
    finish = b"-----END " + label + b"-----"
    i = data.find(begin, pos)
    if i < 0:
        return None
    s = i + len(begin)
    j = data.find(finish, s)
    if j < 0:
        raise DecodeError("PEM end")
    return s, j, j + len(finish)


def pem_to_der(text, label):
    """The DER inside the first ``-----BEGIN <label>-----`` block of ``text`` (str or bytes).

    PEM headers (such as the ``Proc-Type`` of encrypted legacy keys) are not supported and raise
    DecodeError, as does a missing block.
    """
    data = pem_bytes(text)
    found = _pem_find(data, label, 0)
    if found is None:
        raise DecodeError("no PEM block")
    return b64decode(data, found[0], found[1])


def pem_decode_in_place(buf, label, pos=0):
    """Decode the first ``label`` block at or after ``pos`` of the bytearray ``buf`` IN PLACE: the DER is
    written over the start of the block's base64 text (which is destroyed). Returns (der_start, der_end,
    after_block) or None when there is no such block. No second buffer: on a board the PEM file is read
    into one bytearray and decoded where it lies."""
    found = _pem_find(buf, label, pos)
    if found is None:
        return None
    s = found[0]
    n = _b64_count(buf, s, found[1]) * 6 // 8
    _b64_fill(buf, s, buf, s, s + n)
    return s, s + n, found[2]


def has_pem_block(text, label):
    """True when ``text`` holds a ``-----BEGIN <label>-----`` line."""
    try:
        return _pem_find(pem_bytes(text), label, 0) is not None
    except DecodeError:  # a BEGIN line without its END line
        return True


def read_pem_certs(text, in_place=False):
    """Every CERTIFICATE block of ``text`` (a PEM chain), as a list of DER byte strings, in order.

    ``in_place=True``: ``text`` is a bytearray (a certificate file read into one), decoded where it lies
    and destroyed (pem_decode_in_place); only the DER strings returned are allocated."""
    data = text if in_place else pem_bytes(text)
    certs = []
    pos = 0
    while True:
        found = (pem_decode_in_place if in_place else _pem_find)(data, b"CERTIFICATE", pos)
        if found is None:
            return certs
        if in_place:
            certs.append(bytes(memoryview(data)[found[0]:found[1]]))
        else:
            certs.append(b64decode(data, found[0], found[1]))
        pos = found[2]


# --- X.509 (RFC 5280 section 4.1) and SubjectPublicKeyInfo --------------------------------------------


def cert_spki(cert_der):
    """The SubjectPublicKeyInfo element (tag and length included) of a DER X.509 certificate.

    Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity,
                                  subject, subjectPublicKeyInfo, ... }
    """
    buf = memoryview(cert_der)
    start, stop = expect(buf, 0, len(buf), TAG_SEQUENCE)
    start, stop = expect(buf, start, stop, TAG_SEQUENCE)  # tbsCertificate
    tag, _, off = read_tlv(buf, start, stop)
    if tag == TAG_CONTEXT_0:  # explicit version; then serialNumber
        tag, _, off = read_tlv(buf, off, stop)
    if tag != TAG_INTEGER:
        raise DecodeError("X.509")
    for _ in range(4):  # signature, issuer, validity, subject
        _, off = expect(buf, off, stop, TAG_SEQUENCE)
    tag, _, _ = read_tlv(buf, off, stop)
    if tag != TAG_SEQUENCE:
        raise DecodeError("X.509")
    return element_bytes(buf, off, stop)


def read_algorithm(buf, off, end):
    """Read an AlgorithmIdentifier; returns (oid_content_bytes, params_start, params_end, next_offset).

    ``params_start == params_end`` when the parameters are absent.
    """
    start, stop = expect(buf, off, end, TAG_SEQUENCE)
    o_start, o_stop = expect(buf, start, stop, TAG_OID)
    return bytes(buf[o_start:o_stop]), o_stop, stop, stop


def check_rsa_algorithm(buf, off, end):
    """Read an AlgorithmIdentifier that must be rsaEncryption with NULL (or absent) parameters."""
    oid, p_start, p_stop, nxt = read_algorithm(buf, off, end)
    if oid != OID_RSA_ENCRYPTION:
        raise DecodeError("not RSA")
    if p_start != p_stop:
        s, e = expect(buf, p_start, p_stop, TAG_NULL)
        if s != e or e != p_stop:
            raise DecodeError("RSA params")
    return nxt


def spki_rsa_public(spki_der):
    """(n, e) from an RSA SubjectPublicKeyInfo (RFC 5280 section 4.1.2.7, RFC 8017 appendix A.1.1).

    SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
    RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    """
    buf = memoryview(spki_der)
    start, stop = expect(buf, 0, len(buf), TAG_SEQUENCE)
    if stop != len(buf):
        raise DecodeError("SPKI")
    off = check_rsa_algorithm(buf, start, stop)
    b_start, b_stop = expect(buf, off, stop, TAG_BIT_STRING)
    if b_start == b_stop or buf[b_start] != 0:
        raise DecodeError("SPKI")
    return rsa_public_key_fields(buf, b_start + 1, b_stop)


def rsa_public_key_fields(buf, off, end):
    """(n, e) from the RSAPublicKey SEQUENCE at ``off``."""
    start, stop = expect(buf, off, end, TAG_SEQUENCE)
    n, nxt = read_uint(buf, start, stop)
    e, nxt = read_uint(buf, nxt, stop)
    if nxt != stop:
        raise DecodeError("RSAPublicKey")
    return n, e


# --- RSA key files: the fields of the keys (microticket.rsa's loaders build the key objects from them; this
# module imports nothing of microticket.rsa) --------------------------------------------------------------


def _rsa_private_key_fields(buf, off, end):
    """The 8 integers (n, e, d, p, q, dp, dq, qinv) of the RSAPrivateKey (RFC 8017 appendix A.1.2) at
    ``off``: version 0 (two primes) only."""
    start, stop = expect(buf, off, end, TAG_SEQUENCE)
    version, nxt = read_uint(buf, start, stop)
    if version != 0:
        raise DecodeError("multi-prime RSA")
    vals = []
    for _ in range(8):
        v, nxt = read_uint(buf, nxt, stop)
        vals.append(v)
    if nxt != stop:
        raise DecodeError("RSAPrivateKey")
    return vals


def rsa_private_key_fields(der_bytes):
    """The RSA private key fields (see _rsa_private_key_fields) of DER: PKCS#1 RSAPrivateKey or PKCS#8
    PrivateKeyInfo with rsaEncryption (rsa.load_private_key_der makes the key).

    PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier,
                                  privateKey OCTET STRING (an RSAPrivateKey), ... }   (RFC 5208 / 5958)
    """
    buf = memoryview(der_bytes)
    end = len(buf)
    start, stop = expect(buf, 0, end, TAG_SEQUENCE)
    if stop != end:
        raise DecodeError("private key")
    version, nxt = read_uint(buf, start, stop)
    tag, _, _ = read_tlv(buf, nxt, stop)
    if tag == TAG_INTEGER:  # PKCS#1: version is followed by the modulus
        return _rsa_private_key_fields(buf, 0, end)
    if version > 1:
        raise DecodeError("PrivateKeyInfo")
    nxt = check_rsa_algorithm(buf, nxt, stop)
    o_start, o_stop = expect(buf, nxt, stop, TAG_OCTET_STRING)
    key = _rsa_private_key_fields(buf, o_start, o_stop)
    # The RSAPrivateKey must fill the OCTET STRING exactly.
    _, _, k_stop = read_tlv(buf, o_start, o_stop)
    if k_stop != o_stop:
        raise DecodeError("PrivateKeyInfo")
    return key


def rsa_private_key_pem_fields(text, in_place=False):
    """The RSA private key fields from PEM text (str or bytes): "RSA PRIVATE KEY" (PKCS#1) or "PRIVATE KEY"
    (PKCS#8) (rsa.load_private_key_pem makes the key).
    Encrypted keys are refused with DecodeError.

    ``in_place=True``: ``text`` is a bytearray (e.g. a key file read into one) and is decoded where it
    lies, destroying it; no second buffer for the DER (what a board with a small heap wants)."""
    data = text if in_place else pem_bytes(text)
    for label in (b"RSA PRIVATE KEY", b"PRIVATE KEY"):
        if has_pem_block(data, label):
            if in_place:
                s, e, _ = pem_decode_in_place(data, label)
                return rsa_private_key_fields(memoryview(data)[s:e])
            return rsa_private_key_fields(pem_to_der(data, label))
    if has_pem_block(data, b"ENCRYPTED PRIVATE KEY"):
        raise DecodeError("encrypted key")
    raise DecodeError("no PEM block")

