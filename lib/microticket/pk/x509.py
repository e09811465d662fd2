"""X.509 path validation for a TLS client (RFC 5280 section 6, the basics) and server name matching (RFC 6125).

    validate(chain, ca, name, now, time_unknown=False) -> the leaf's public key
        (an RsaPublicKey, or the 65-byte P-256 point), or raises errors.TlsAlert(description, reason)

``chain`` is the body of the TLS Certificate message (certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>,
leaf first), read where it lies (a memoryview into the handshake buffer: no certificate is copied; every
field is an offset pair into it). ``ca`` is the trust anchors: a PEM file's path, or anything with
``readinto`` (an open file, io.BytesIO). ``name`` is the server name the client connects to (bytes or str):
a DNS name or an IP literal. ``now`` is the caller's clock, in Unix seconds.

The path: from the leaf, each certificate's issuer is looked up among the certificates the server sent (the
issuer Name equal to the subject Name, compared as DER bytes), at most _MAX_PATH certificates (the leaf and 4
intermediates). The CA file is then streamed once, one certificate at a time (read in chunks, base64
decoded into one buffer, then parsed where it lies): a root whose subject equals the issuer of a
certificate of the path anchors the path there, the nearest to the leaf winning (OpenSSL's "trusted first":
a root the server also sent is not needed). The matching root's key is made only to verify the one
signature it gives, then dropped: nothing of the CA file is kept but that verdict. A trust anchor is taken
as given, as ``openssl verify -x509_strict`` takes it: its own signature is not checked; its dates,
basicConstraints (cA, pathLenConstraint), keyUsage and critical extensions are.

Checked for every certificate of the path: the signature (sha256WithRSAEncryption; RSASSA-PSS with SHA-256,
MGF1-SHA-256 and a 32-byte salt; ecdsa-with-SHA256; ecdsa-with-SHA384, which needs microticket.sha512),
the same algorithm inside and outside the tbsCertificate, the dates, no unknown critical extension (known:
basicConstraints, keyUsage, extendedKeyUsage, subjectAltName); for CA certificates: cA true, keyCertSign when
keyUsage is present, pathLenConstraint (self-issued intermediates do not count); for the leaf:
digitalSignature when keyUsage is present (an ECDHE server signs), and for every certificate but the anchor
extendedKeyUsage, when present, holding serverAuth or anyExtendedKeyUsage.

Names (RFC 6125 section 6.4): only subjectAltName (no fallback to the subject's CN). A DNS name matches a
dNSName case-insensitively (ASCII), one trailing dot of the server name ignored; a wildcard is only the whole
left-most label ("*.example.com"), stands for exactly one non-empty label, and needs at least two labels
after it ("*.com" matches nothing); "f*o.example.com" and other partial wildcards match nothing. An IPv4 or
IPv6 literal matches an iPAddress entry (4 or 16 bytes) and never a dNSName.

The board's clock: a board that has not set its RTC (no network time yet, no battery) reads a date in 2000
or 2021, and every certificate issued since would be "not yet valid" while any certificate that expired
since would look good. So a ``now`` before _FLOOR (2026-12-01 00:00 UTC, when this module was written; no
correct clock can read earlier) means "the clock is not set", and validation is refused with "clock not
set". ``time_unknown=True`` is the caller saying it knows its clock may be wrong: notBefore is then not
checked at all (a certificate issued after the clock's reading is expected), but notAfter is always: it is
checked against max(now, _FLOOR), so a certificate that expired before this code was written is still
refused, whatever the clock says. Expiry is never skipped silently: a stolen key of an expired certificate
stays refused.

Refusals: errors.TlsAlert with the alert description and one of these reasons as its message:
"expired", "not yet valid" (certificate_expired 45), "unknown issuer" (unknown_ca 48), "name mismatch",
"bad signature", "not a CA", "path length exceeded", "malformed", "chain too long" (bad_certificate 42),
"key usage", "extended key usage", "unknown critical extension", "unsupported algorithm"
(unsupported_certificate 43), "clock not set" (certificate_unknown 46).

Keys: _spki_key dispatches on the SubjectPublicKeyInfo (rsaEncryption, or id-ecPublicKey with its named
curve); P-384 is refused there ("unsupported algorithm") until microticket.pk has it: it plugs in as one
branch there and one in _verify.

This module reads the CA file: it is called by the client's authentication module (microticket.tls.auth_x509)
with the path the application configured.
"""

from micropython import const

from microticket import errors
from microticket.pk import der

_FLOOR = const(1796083200)  # 2026-12-01T00:00:00Z: a ``now`` before this is a clock that is not set
_MAX_PATH = const(5)  # the leaf and at most 4 intermediates below the trust anchor
_MAX_SENT = const(10)  # certificates in one Certificate message
_CHUNK = const(512)  # the CA file is read this many bytes at a time

# alert descriptions (RFC 5246 section 7.2)
_BAD_CERTIFICATE = const(42)
_UNSUPPORTED_CERTIFICATE = const(43)
_CERTIFICATE_EXPIRED = const(45)
_CERTIFICATE_UNKNOWN = const(46)
_UNKNOWN_CA = const(48)

# a parsed certificate: a list of offsets into its buffer and values
_TBS_S = const(0)  # the tbsCertificate element (tag and length included): what is signed
_TBS_E = const(1)
_ALG_S = const(2)  # the signatureAlgorithm element
_ALG_E = const(3)
_SIG_S = const(4)  # the signature BIT STRING's bits
_SIG_E = const(5)
_ISS_S = const(6)  # issuer Name element
_ISS_E = const(7)
_SUB_S = const(8)  # subject Name element
_SUB_E = const(9)
_NB = const(10)  # notBefore, notAfter: Unix seconds
_NA = const(11)
_SPKI_S = const(12)  # subjectPublicKeyInfo element
_SPKI_E = const(13)
_FLAGS = const(14)
_PATHLEN = const(15)  # pathLenConstraint, -1: none
_SAN_S = const(16)  # the GeneralNames of subjectAltName (contents), both 0 when absent
_SAN_E = const(17)
_FIELDS = const(18)

# _FLAGS bits
_F_CA = const(1)
_F_BC = const(2)  # basicConstraints present
_F_KU = const(4)  # keyUsage present
_F_KU_SIGN = const(8)  # digitalSignature
_F_KU_CERT = const(16)  # keyCertSign
_F_EKU = const(32)  # extendedKeyUsage present
_F_EKU_SERVER = const(64)  # serverAuth or anyExtendedKeyUsage in it
_F_SAN = const(128)
_F_CRITICAL = const(256)  # an unknown critical extension
_F_SELF = const(512)  # self-issued: issuer == subject

_KEY_RSA = const(1)
_KEY_P256 = const(2)
_KEY_P384 = const(3)


def _refuse(code, reason):
    return errors.TlsAlert(code, reason)


def _eq(a, a_s, a_e, b, b_s, b_e):
    """a[a_s:a_e] == b[b_s:b_e], byte by byte (no copies; memoryviews do not compare on MicroPython)."""
    n = a_e - a_s
    if n != b_e - b_s:
        return False
    for i in range(n):
        if a[a_s + i] != b[b_s + i]:
            return False
    return True


def _d2(buf, i):
    a = buf[i] - 48
    b = buf[i + 1] - 48
    if not (0 <= a <= 9 and 0 <= b <= 9):
        raise errors.DecodeError("time")
    return a * 10 + b


def _time(buf, off, end):
    """A Time (UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, RFC 5280 section 4.1.2.5) at
    ``off``: (Unix seconds, next offset). Days from the civil date with the proleptic Gregorian rules."""
    tag, s, e = der.read_tlv(buf, off, end)
    n = e - s
    if tag == 0x17 and n == 13:
        y = _d2(buf, s)
        y += 1900 if y >= 50 else 2000
        s += 2
    elif tag == 0x18 and n == 15:
        y = _d2(buf, s) * 100 + _d2(buf, s + 2)
        s += 4
    else:
        raise errors.DecodeError("time")
    if buf[e - 1] != 0x5A:  # 'Z'
        raise errors.DecodeError("time")
    m = _d2(buf, s)
    d = _d2(buf, s + 2)
    h = _d2(buf, s + 4)
    mi = _d2(buf, s + 6)
    sec = _d2(buf, s + 8)
    if not (1 <= m <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and sec < 60):
        raise errors.DecodeError("time")
    if m <= 2:
        y -= 1
        m += 9
    else:
        m -= 3
    era = y // 400
    yoe = y - era * 400
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + (153 * m + 2) // 5 + d - 1 - 719468
    return days * 86400 + h * 3600 + mi * 60 + sec, e


def parse(buf, off, end):
    """The certificate filling buf[off:end]: a list of _FIELDS offsets and values (see _TBS_S...). Anything
    that is not DER X.509 v1-v3 raises DecodeError."""
    c = [0] * _FIELDS
    s, e = der.expect(buf, off, end, 0x30)
    if e != end:
        raise errors.DecodeError("X.509")
    tag, ts, te = der.read_tlv(buf, s, e)  # tbsCertificate
    if tag != 0x30:
        raise errors.DecodeError("X.509")
    c[_TBS_S] = s
    c[_TBS_E] = te
    c[_ALG_S] = te
    _, c[_ALG_E] = der.expect(buf, te, e, 0x30)
    bs, be = der.expect(buf, c[_ALG_E], e, 0x03)
    if be != e or bs == be or buf[bs]:
        raise errors.DecodeError("X.509")
    c[_SIG_S] = bs + 1
    c[_SIG_E] = be
    tag, vs, p = der.read_tlv(buf, ts, te)
    version = 0
    if tag == 0xA0:  # [0] EXPLICIT Version
        version, vs = der.read_uint(buf, vs, p)
        if vs != p or version > 2:
            raise errors.DecodeError("X.509")
        tag, vs, p = der.read_tlv(buf, p, te)
    if tag != 0x02:  # serialNumber
        raise errors.DecodeError("X.509")
    a = p  # signature: the same AlgorithmIdentifier as signatureAlgorithm (RFC 5280 section 4.1.1.2)
    _, p = der.expect(buf, p, te, 0x30)
    if not _eq(buf, a, p, buf, c[_ALG_S], c[_ALG_E]):
        raise errors.DecodeError("X.509")
    c[_ISS_S] = p
    _, p = der.expect(buf, p, te, 0x30)
    c[_ISS_E] = p
    vs, p = der.expect(buf, p, te, 0x30)  # validity
    c[_NB], vs = _time(buf, vs, p)
    c[_NA], vs = _time(buf, vs, p)
    if vs != p:
        raise errors.DecodeError("X.509")
    c[_SUB_S] = p
    _, p = der.expect(buf, p, te, 0x30)
    c[_SUB_E] = p
    c[_SPKI_S] = p
    _, p = der.expect(buf, p, te, 0x30)
    c[_SPKI_E] = p
    c[_PATHLEN] = -1
    flags = _F_SELF if _eq(buf, c[_ISS_S], c[_ISS_E], buf, c[_SUB_S], c[_SUB_E]) else 0
    while p < te:  # [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions: in this order
        tag, vs, ve = der.read_tlv(buf, p, te)
        if tag == 0xA3 and version == 2:
            flags = _extensions(buf, vs, ve, c, flags)
            if ve != te:
                raise errors.DecodeError("X.509")
        elif not (tag == 0x81 or tag == 0x82) or version == 0:
            raise errors.DecodeError("X.509")
        p = ve
    c[_FLAGS] = flags
    return c


def _extensions(buf, s, e, c, flags):
    """Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension (RFC 5280 section 4.2): the four this module
    knows set their flags and fields; any other marked critical sets _F_CRITICAL. Returns the flags."""
    s, e = der.expect(buf, s, e, 0x30)
    if s == e:
        raise errors.DecodeError("X.509")
    while s < e:
        xs, xe = der.expect(buf, s, e, 0x30)
        s = xe
        os_, oe = der.expect(buf, xs, xe, 0x06)
        crit = False
        tag, vs, ve = der.read_tlv(buf, oe, xe)
        if tag == 0x01:  # critical BOOLEAN DEFAULT FALSE
            if ve - vs != 1:
                raise errors.DecodeError("X.509")
            crit = buf[vs] != 0
            tag, vs, ve = der.read_tlv(buf, ve, xe)
        if tag != 0x04 or ve != xe:
            raise errors.DecodeError("X.509")
        oid = bytes(buf[os_:oe])
        if oid == b"\x55\x1d\x13":  # basicConstraints: SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLen INTEGER OPTIONAL }
            bit = _F_BC
            qs, qe = der.expect(buf, vs, ve, 0x30)
            if qe != ve:
                raise errors.DecodeError("X.509")
            if qs < qe and buf[qs] == 0x01:
                tag, bs, qs = der.read_tlv(buf, qs, qe)
                if qs - bs != 1:
                    raise errors.DecodeError("X.509")
                if buf[bs]:
                    flags |= _F_CA
            if qs < qe:
                n, qs = der.read_uint(buf, qs, qe)
                c[_PATHLEN] = n if n < 255 else 255
            if qs != qe:
                raise errors.DecodeError("X.509")
        elif oid == b"\x55\x1d\x0f":  # keyUsage BIT STRING: bit 0 digitalSignature, bit 5 keyCertSign
            bit = _F_KU
            bs, be = der.expect(buf, vs, ve, 0x03)
            if be != ve or bs == be:
                raise errors.DecodeError("X.509")
            if be - bs > 1:
                if buf[bs + 1] & 0x80:
                    flags |= _F_KU_SIGN
                if buf[bs + 1] & 0x04:
                    flags |= _F_KU_CERT
        elif oid == b"\x55\x1d\x25":  # extKeyUsage: SEQUENCE SIZE (1..MAX) OF KeyPurposeId
            bit = _F_EKU
            qs, qe = der.expect(buf, vs, ve, 0x30)
            if qe != ve or qs == qe:
                raise errors.DecodeError("X.509")
            while qs < qe:
                ps, qs = der.expect(buf, qs, qe, 0x06)
                k = bytes(buf[ps:qs])
                # id-kp-serverAuth 1.3.6.1.5.5.7.3.1, anyExtendedKeyUsage 2.5.29.37.0
                if k == b"\x2b\x06\x01\x05\x05\x07\x03\x01" or k == b"\x55\x1d\x25\x00":
                    flags |= _F_EKU_SERVER
        elif oid == b"\x55\x1d\x11":  # subjectAltName: GeneralNames (read when the name is matched)
            bit = _F_SAN
            qs, qe = der.expect(buf, vs, ve, 0x30)
            if qe != ve:
                raise errors.DecodeError("X.509")
            c[_SAN_S] = qs
            c[_SAN_E] = qe
        else:
            if crit:
                flags |= _F_CRITICAL
            continue
        if flags & bit:  # an extension appears at most once (RFC 5280 section 4.2)
            raise errors.DecodeError("X.509")
        flags |= bit
    return flags


# --- keys and signatures ---------------------------------------------------------------------------

def _spki_key(buf, s, e):
    """(kind, key) of the SubjectPublicKeyInfo buf[s:e]: (_KEY_RSA, RsaPublicKey), (_KEY_P256, the 65-byte
    point) or (_KEY_P384, the 97-byte point: secp384r1, 1.3.132.0.34, verified by microticket.pk.p384)."""
    qs, qe = der.expect(buf, s, e, 0x30)
    oid, ps, pe, _ = der.read_algorithm(buf, qs, qe)
    if oid == b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01":  # rsaEncryption
        from microticket.pk import rsa
        return _KEY_RSA, rsa.from_fields(rsa.RsaPublicKey, der.spki_rsa_public(buf[s:e]))
    if oid == b"\x2a\x86\x48\xce\x3d\x02\x01":  # id-ecPublicKey; the namedCurve
        if _eq(buf, ps, pe, b"\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 0, 10):  # prime256v1
            return _KEY_P256, der.spki_p256_public(buf[s:e])
        if _eq(buf, ps, pe, b"\x06\x05\x2b\x81\x04\x00\x22", 0, 7):  # secp384r1
            # subjectPublicKey BIT STRING: no unused bits, the uncompressed point 04 | X | Y
            bs, be = der.expect(buf, pe, qe, 0x03)
            if be != qe or be - bs != 98 or buf[bs] != 0 or buf[bs + 1] != 4:
                raise errors.DecodeError("X.509")
            return _KEY_P384, bytes(buf[bs + 1:be])
    raise _refuse(_UNSUPPORTED_CERTIFICATE, "unsupported algorithm")  # other curves, DSA, PSS-only keys


def _sha384(data):
    """SHA-384 from microticket.sha512 (pure Python: MicroPython's hashlib has none), imported when a
    signature needs it."""
    try:
        from microticket import sha512
    except ImportError:
        raise _refuse(_UNSUPPORTED_CERTIFICATE, "unsupported algorithm")
    h = sha512.sha384(data)
    return h if isinstance(h, bytes) else h.digest()


def _pss_sha256(buf, s, e):
    """True when the RSASSA-PSS-params at buf[s:e] are SHA-256, MGF1 with SHA-256, a 32-byte salt and the
    trailer 1 (RFC 4055 section 3.1; the hash AlgorithmIdentifiers with NULL or absent parameters)."""
    s, e = der.expect(buf, s, e, 0x30)
    sha256 = b"\x60\x86\x48\x01\x65\x03\x04\x02\x01"
    ok = 0
    while s < e:
        tag, vs, s = der.read_tlv(buf, s, e)
        if tag == 0xA0 or tag == 0xA1:
            oid, ps, pe, nxt = der.read_algorithm(buf, vs, s)
            if tag == 0xA1:  # maskGenAlgorithm: id-mgf1 with the hash's AlgorithmIdentifier
                if oid != b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x08" or pe != s:
                    return False
                oid, ps, pe, nxt = der.read_algorithm(buf, ps, pe)
            if oid != sha256 or nxt != s or not (ps == pe or _eq(buf, ps, pe, b"\x05\x00", 0, 2)):
                return False
            ok |= 1 if tag == 0xA0 else 2
        elif tag == 0xA2 or tag == 0xA3:  # saltLength 32, trailerField 1
            n, nxt = der.read_uint(buf, vs, s)
            if nxt != s or n != (32 if tag == 0xA2 else 1):
                return False
            if tag == 0xA2:
                ok |= 4
        else:
            return False
    return ok == 7  # the defaults (SHA-1, salt 20) are not what we verify


def _verify(kbuf, ks, ke, buf, c):
    """Raise unless the certificate ``c`` (in ``buf``) is signed by the key of the SubjectPublicKeyInfo
    kbuf[ks:ke]."""
    oid, ps, pe, _ = der.read_algorithm(buf, c[_ALG_S], c[_ALG_E])
    kind, key = _spki_key(kbuf, ks, ke)
    tbs = buf[c[_TBS_S]:c[_TBS_E]]
    sig = buf[c[_SIG_S]:c[_SIG_E]]
    if oid[:8] == b"\x2a\x86\x48\x86\xf7\x0d\x01\x01" and len(oid) == 9 and kind == _KEY_RSA:
        from microticket.crypto import sha256
        if oid[8] == 11:  # sha256WithRSAEncryption, NULL or absent parameters
            if ps != pe and not _eq(buf, ps, pe, b"\x05\x00", 0, 2):
                raise errors.DecodeError("X.509")
            ok = key.verify_pkcs1_sha256(sha256(tbs), sig)
        elif oid[8] == 10 and _pss_sha256(buf, ps, pe):  # id-RSASSA-PSS
            ok = key.verify_pss_sha256(sha256(tbs), sig)
        else:
            raise _refuse(_UNSUPPORTED_CERTIFICATE, "unsupported algorithm")
    elif oid[:7] == b"\x2a\x86\x48\xce\x3d\x04\x03" and len(oid) == 8 and (kind == _KEY_P256 or kind == _KEY_P384):
        if ps != pe:  # ecdsa-with-SHA*: no parameters (RFC 5758 section 3.2)
            raise errors.DecodeError("X.509")
        if oid[7] == 2:  # ecdsa-with-SHA256
            from microticket.crypto import sha256
            digest = sha256(tbs)
        elif oid[7] == 3:  # ecdsa-with-SHA384 (a P-256 key takes the digest's leftmost 256 bits)
            digest = _sha384(tbs)
        else:
            raise _refuse(_UNSUPPORTED_CERTIFICATE, "unsupported algorithm")
        if kind == _KEY_P256:
            from microticket.pk import p256
            ok = p256.verify(key, digest, sig)
        else:
            try:  # (a board may install the TLS part without the sha512 part, which holds P-384 too)
                from microticket.pk import p384
            except ImportError:
                raise _refuse(_UNSUPPORTED_CERTIFICATE, "unsupported algorithm")
            ok = p384.verify(key, digest, sig)
    else:
        raise _refuse(_UNSUPPORTED_CERTIFICATE, "unsupported algorithm")
    if not ok:
        raise _refuse(_BAD_CERTIFICATE, "bad signature")


# --- names (RFC 6125) --------------------------------------------------------------------------------

def _ip(name):
    """The 4 or 16 bytes of an IPv4 (dotted quad) or IPv6 (RFC 4291 section 2.2) literal; None for a DNS
    name; DecodeError for something with a colon that is not an IPv6 address."""
    if b":" not in name:
        parts = name.split(b".")
        if len(parts) != 4:
            return None
        out = bytearray(4)
        for i in range(4):
            p = parts[i]
            if not p or len(p) > 3 or not p.isdigit() or int(p) > 255:
                return None
            out[i] = int(p)
        return bytes(out)
    head, sep, tail = name.partition(b"::")
    if b"::" in tail:
        raise errors.DecodeError("IP")
    words = []
    for part in (head, tail):
        ws = []
        if part:
            gs = part.split(b":")
            for i in range(len(gs)):
                g = gs[i]
                if b"." in g:  # an IPv4 tail: two words, last only
                    v4 = _ip(g)
                    if v4 is None or part is head and sep or i != len(gs) - 1:
                        raise errors.DecodeError("IP")
                    ws.append((v4[0] << 8) | v4[1])
                    ws.append((v4[2] << 8) | v4[3])
                elif 1 <= len(g) <= 4:
                    ws.append(int(g, 16))
                else:
                    raise errors.DecodeError("IP")
        words.append(ws)
    n = len(words[0]) + len(words[1])
    if (sep and n > 7) or (not sep and n != 8):
        raise errors.DecodeError("IP")
    words = words[0] + [0] * (8 - n) + words[1]
    out = bytearray(16)
    for i in range(8):
        out[2 * i] = words[i] >> 8
        out[2 * i + 1] = words[i] & 0xFF
    return bytes(out)


def _lower(c):
    return c | 0x20 if 0x41 <= c <= 0x5A else c


def _dns_match(buf, s, e, name):
    """The dNSName buf[s:e] matches ``name`` (lower case, no trailing dot)."""
    n = len(name)
    off = 0
    if e - s > 2 and buf[s] == 0x2A and buf[s + 1] == 0x2E:  # "*." then at least two labels
        s += 1
        if 0x2E not in bytes(buf[s + 1:e]):
            return False
        off = name.find(b".")
        if off <= 0:
            return False
    if n - off != e - s:
        return False
    for i in range(e - s):
        c = _lower(buf[s + i])
        if c == 0x2A or c != name[off + i]:  # a '*' anywhere else never matches
            return False
    return True


def match_name(buf, c, name):
    """True when the subjectAltName of the certificate ``c`` names ``name`` (bytes or str), per RFC 6125."""
    if isinstance(name, str):
        name = name.encode()
    name = bytes(name).lower()
    if name.endswith(b"."):
        name = name[:-1]
    if not name:
        return False
    try:
        ip = _ip(name)
    except (errors.DecodeError, ValueError):
        return False
    s = c[_SAN_S]
    e = c[_SAN_E]
    while s < e:
        tag, vs, s = der.read_tlv(buf, s, e)
        if ip is not None:
            if tag == 0x87 and _eq(buf, vs, s, ip, 0, len(ip)):
                return True
        elif tag == 0x82 and _dns_match(buf, vs, s, name):
            return True
    return False


# --- the path --------------------------------------------------------------------------------------

def _dates(c, now, time_unknown):
    if not time_unknown and now < c[_NB]:
        raise _refuse(_CERTIFICATE_EXPIRED, "not yet valid")
    if now > c[_NA]:
        raise _refuse(_CERTIFICATE_EXPIRED, "expired")


def _ca_checks(c, below):
    """A certificate acting as a CA: cA, keyCertSign, unknown critical extensions, and ``below`` (the
    non-self-issued intermediates under it) within its pathLenConstraint."""
    f = c[_FLAGS]
    if not f & _F_CA:
        raise _refuse(_BAD_CERTIFICATE, "not a CA")
    if f & _F_KU and not f & _F_KU_CERT:
        raise _refuse(_UNSUPPORTED_CERTIFICATE, "key usage")
    if f & _F_CRITICAL:
        raise _refuse(_UNSUPPORTED_CERTIFICATE, "unknown critical extension")
    if 0 <= c[_PATHLEN] < below:
        raise _refuse(_BAD_CERTIFICATE, "path length exceeded")


def _below(certs, path, i):
    """The non-self-issued intermediates among path[1:i]."""
    n = 0
    for k in range(1, i):
        if not certs[path[k]][_FLAGS] & _F_SELF:
            n += 1
    return n


def _try_root(der_buf, n, buf, certs, path, st, now, tu):
    """One root of the CA file (der_buf[:n]): when its subject is the issuer of a certificate of the path
    nearer to the leaf than the anchor found so far, check it as a trust anchor and the signature it
    gives. st = [anchor index (or _MAX_PATH), the first refusal of a matching root]."""
    r = parse(der_buf, 0, n)
    for i in range(min(len(path), st[0])):
        c = certs[path[i]]
        if _eq(der_buf, r[_SUB_S], r[_SUB_E], buf, c[_ISS_S], c[_ISS_E]):
            try:
                _dates(r, now, tu)
                _ca_checks(r, _below(certs, path, i + 1))
                _verify(der_buf, r[_SPKI_S], r[_SPKI_E], buf, c)
                st[0] = i
            except errors.TlsAlert as exc:
                if st[1] is None:
                    st[1] = exc
            return


def _scan_ca(ca, buf, certs, path, st, now, tu):
    """Stream the PEM file ``ca`` (a path, or a readable object) one CERTIFICATE block at a time: its
    base64 is decoded into one buffer as it is read, and each whole certificate goes to _try_root. Text
    outside the blocks (comments, other labels) is skipped. Stops early once the leaf's issuer is anchored."""
    f = open(ca, "rb") if isinstance(ca, str) else ca
    try:
        chunk = bytearray(_CHUNK)
        der_buf = bytearray(2048)
        mark = bytearray(32)  # the start of a line that begins with '-'
        m = -1  # >= 0: reading a marker line (bytes kept in mark)
        bol = True  # at the beginning of a line
        inside = False
        acc = bits = n = 0
        while st[0]:
            k = f.readinto(chunk)
            if not k:
                break
            for j in range(k):
                ch = chunk[j]
                if ch == 10 or ch == 13:
                    if m >= 0:
                        if mark[:m] == b"-----BEGIN CERTIFICATE-----":
                            inside = True
                            acc = bits = n = 0
                        elif inside and mark[:m] == b"-----END CERTIFICATE-----":
                            inside = False
                            _try_root(der_buf, n, buf, certs, path, st, now, tu)
                            if not st[0]:
                                return
                        elif inside:
                            raise errors.DecodeError("PEM")
                        m = -1
                    bol = True
                    continue
                if m >= 0:
                    if m < 32:
                        mark[m] = ch
                        m += 1
                    continue
                if bol and ch == 0x2D:  # '-'
                    mark[0] = ch
                    m = 1
                    bol = False
                    continue
                bol = False
                if not inside or ch == 0x20 or ch == 9 or ch == 0x3D:  # outside; space, tab; '=' padding
                    continue
                if 0x41 <= ch <= 0x5A:
                    v = ch - 0x41
                elif 0x61 <= ch <= 0x7A:
                    v = ch - 71
                elif 0x30 <= ch <= 0x39:
                    v = ch + 4
                elif ch == 0x2B:
                    v = 62
                elif ch == 0x2F:
                    v = 63
                else:
                    raise errors.DecodeError("PEM")
                acc = ((acc << 6) | v) & 0xFFFFFF
                bits += 6
                if bits >= 8:
                    bits -= 8
                    if n == len(der_buf):
                        der_buf.extend(bytes(1024))
                    der_buf[n] = (acc >> bits) & 0xFF
                    n += 1
        if inside:
            raise errors.DecodeError("PEM")
    finally:
        if f is not ca:
            f.close()


def validate(chain, ca, name, now, time_unknown=False):
    """Validate the Certificate body ``chain`` against the trust anchors of ``ca`` for the server ``name``
    at ``now`` (see the module's docstring); returns the leaf's public key or raises errors.TlsAlert."""
    tu = bool(time_unknown)
    if now < _FLOOR:
        if not tu:
            raise _refuse(_CERTIFICATE_UNKNOWN, "clock not set")
        now = _FLOOR
    try:
        buf = chain
        end = len(buf)
        certs = []
        p = 3
        while p < end:
            k = (buf[p] << 16) | (buf[p + 1] << 8) | buf[p + 2]
            p += 3
            if len(certs) == _MAX_SENT:
                raise _refuse(_BAD_CERTIFICATE, "chain too long")
            certs.append(parse(buf, p, p + k))
            p += k
        if not certs or p != end:
            raise errors.DecodeError("Certificate")
        # the leaf: what needs no key first
        leaf = certs[0]
        f = leaf[_FLAGS]
        if f & _F_CRITICAL:
            raise _refuse(_UNSUPPORTED_CERTIFICATE, "unknown critical extension")
        _dates(leaf, now, tu)
        if f & _F_KU and not f & _F_KU_SIGN:
            raise _refuse(_UNSUPPORTED_CERTIFICATE, "key usage")
        if f & _F_EKU and not f & _F_EKU_SERVER:
            raise _refuse(_UNSUPPORTED_CERTIFICATE, "extended key usage")
        if not match_name(buf, leaf, name):
            raise _refuse(_BAD_CERTIFICATE, "name mismatch")
        # the path through the certificates sent: each one's issuer among the others
        path = [0]
        while len(path) < _MAX_PATH and not certs[path[-1]][_FLAGS] & _F_SELF:
            c = certs[path[-1]]
            for j in range(1, len(certs)):
                d = certs[j]
                if j not in path and _eq(buf, d[_SUB_S], d[_SUB_E], buf, c[_ISS_S], c[_ISS_E]):
                    path.append(j)
                    break
            else:
                break
        st = [_MAX_PATH, None]
        _scan_ca(ca, buf, certs, path, st, now, tu)
        top = st[0]
        if top == _MAX_PATH:
            if st[1] is not None:
                raise st[1]
            if len(path) == _MAX_PATH and not certs[path[-1]][_FLAGS] & _F_SELF:
                raise _refuse(_BAD_CERTIFICATE, "chain too long")
            raise _refuse(_UNKNOWN_CA, "unknown issuer")
        for i in range(1, top + 1):
            c = certs[path[i]]
            _dates(c, now, tu)
            _ca_checks(c, _below(certs, path, i))
            if c[_FLAGS] & _F_EKU and not c[_FLAGS] & _F_EKU_SERVER:
                raise _refuse(_UNSUPPORTED_CERTIFICATE, "extended key usage")
        for i in range(top):  # the signatures, the anchor's having been checked in _scan_ca
            c = certs[path[i + 1]]
            _verify(buf, c[_SPKI_S], c[_SPKI_E], buf, certs[path[i]])
        return _spki_key(buf, leaf[_SPKI_S], leaf[_SPKI_E])[1]
    except (errors.DecodeError, ValueError, IndexError):
        raise _refuse(_BAD_CERTIFICATE, "malformed")
