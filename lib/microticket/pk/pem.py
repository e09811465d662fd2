"""PEM (RFC 7468) with its own small base64 decoder (RFC 4648 section 4: MicroPython boards may have no
binascii), and the fields of RSA private keys (PKCS#1, PKCS#8): what a server needs to load its
certificate and key at start, kept out of microticket.pk.der, which a client's full handshake loads to read
a certificate (a board's heap holds every def of a loaded module, even from ROMFS).
"""

from microticket.errors import DecodeError

# Error messages are longer than 10 characters: MicroPython interns a shorter string constant (on a board,
# heap for good), not a longer one.
from micropython import const

from microticket.pk.der import expect, read_tlv, read_uint, check_rsa_algorithm

_TAG_INTEGER = const(0x02)  # DER tags (X.690), as in microticket.pk.der
_TAG_OCTET_STRING = const(0x04)
_TAG_SEQUENCE = const(0x30)

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
                    raise DecodeError("invalid base64")
                i += 1
            break
        else:
            raise DecodeError("invalid base64")
    if count % 4 == 1:  # a lone sextet cannot encode a byte
        raise DecodeError("invalid base64")
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
        raise DecodeError("no PEM END line")
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




# --- RSA key files: the fields of the keys (microticket.pk.rsa's loaders build the key objects from them; this
# module imports nothing of microticket.pk.rsa) --------------------------------------------------------------


def _rsa_private_key_fields(buf, off, end):
    """The 8 integers (n, e, d, p, q, dp, dq, qinv) of the RSAPrivateKey (RFC 8017 appendix A.1.2) at
    ``off``: version 0 (two primes) only."""
    start, stop = expect(buf, off, end, _TAG_SEQUENCE)
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
    PrivateKeyInfo with rsaEncryption (rsa_sign.load_private_key_der makes the key).

    PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier,
                                  privateKey OCTET STRING (an RSAPrivateKey), ... }   (RFC 5208 / 5958)
    """
    buf = memoryview(der_bytes)
    end = len(buf)
    start, stop = expect(buf, 0, end, _TAG_SEQUENCE)
    if stop != end:
        raise DecodeError("private key")
    version, nxt = read_uint(buf, start, stop)
    tag, _, _ = read_tlv(buf, nxt, stop)
    if tag == _TAG_INTEGER:  # PKCS#1: version is followed by the modulus
        return _rsa_private_key_fields(buf, 0, end)
    if version > 1:
        raise DecodeError("PrivateKeyInfo")
    nxt = check_rsa_algorithm(buf, nxt, stop)
    o_start, o_stop = expect(buf, nxt, stop, _TAG_OCTET_STRING)
    key = _rsa_private_key_fields(buf, o_start, o_stop)
    # The RSAPrivateKey must fill the OCTET STRING exactly.
    _, _, k_stop = read_tlv(buf, o_start, o_stop)
    if k_stop != o_stop:
        raise DecodeError("PrivateKeyInfo")
    return key


def rsa_private_key_pem_fields(text, in_place=False):
    """The RSA private key fields from PEM text (str or bytes): "RSA PRIVATE KEY" (PKCS#1) or "PRIVATE KEY"
    (PKCS#8) (rsa_sign.load_private_key_pem makes the key).
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

