"""The TLS 1.3 handshake messages a client takes and builds (RFC 8446 section 4), as functions: the engines'
TLS 1.2 codec conventions (microticket.tls.engine, microticket.tls.server): index arithmetic on a message
where it lies, no Reader/Writer objects, every length checked against its enclosing structure, a bad one a
TlsAlert naming the message (decode_error, illegal_parameter, unsupported_extension, missing_extension).
Builders return the whole message (4-byte header included); parsers take the body. The server's half is
microticket.tls.codec13_server, what both take (CertificateVerify's signed content, KeyUpdate) is in
microticket.tls.hs13: a board loads only its own role's half.

hello_exts13 (the 1.3 extensions of a ClientHello, pre_shared_key last with a zero binder: the ClientHello
itself is microticket.tls.engine.client_hello's, TLS 1.2's beside them), truncated_len / put_binder (RFC 8446
section 4.2.11.2),
parse_server_hello13 (ServerHello or HelloRetryRequest), check_downgrade (section 4.1.3),
parse_encrypted_extensions, parse_certificate13, parse_certificate_verify, parse_new_session_ticket13.

Middlebox compatibility (appendix D.4): the client's legacy_session_id is 32 random bytes drawn from the
engine's rng (microticket.tls.client13).
"""

from micropython import const

from microticket import errors
from microticket.tls.engine import put_extensions

_VERSION_TLS12 = const(0x0303)
_VERSION_TLS13 = const(0x0304)
_HT_CLIENT_HELLO = const(1)
_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_MISSING_EXTENSION = const(109)
_UNSUPPORTED_EXTENSION = const(110)
_EXT_SERVER_NAME = const(0)
_EXT_MAX_FRAGMENT_LENGTH = const(1)
_EXT_SUPPORTED_GROUPS = const(10)
_EXT_SIGNATURE_ALGORITHMS = const(13)
_EXT_ALPN = const(16)
_EXT_PRE_SHARED_KEY = const(41)
_EXT_EARLY_DATA = const(42)
_EXT_SUPPORTED_VERSIONS = const(43)
_EXT_COOKIE = const(44)
_EXT_PSK_KEY_EXCHANGE_MODES = const(45)
_EXT_KEY_SHARE = const(51)
_SIG_ECDSA_SECP256R1_SHA256 = const(0x0403)
_SIG_RSA_PSS_RSAE_SHA256 = const(0x0804)
_MAX_LIFETIME = const(604800)  # 7 days (section 4.6.1)
# SHA-256("HelloRetryRequest"): a ServerHello with this random is a HelloRetryRequest (section 4.1.3)
_HRR_RANDOM = const(b"\xcf\x21\xad\x74\xe5\x9a\x61\x11\xbe\x1d\x8c\x02\x1e\x65\xb8\x91"
                    b"\xc2\xa2\x11\x16\x7a\xbb\x8c\x5e\x07\x9e\x09\xe2\xc8\xa8\x33\x9c")
_DOWNGRADE = const(b"DOWNGRD")  # the last 8 bytes of a TLS 1.2 (\x01) or 1.1 (\x00) ServerHello.random
# signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256 (CertificateVerify), rsa_pkcs1_sha256
# (certificates only, section 4.2.3)
_SIG_ALGS = const(b"\x00\x06\x04\x03\x08\x04\x04\x01")


def _alert(d, what):
    return errors.TlsAlert(d, what)


def hello_exts13(groups, shares, modes=b"\x01\x00", cookie=None, psk=None, hl=32):
    """The TLS 1.3 extensions of a ClientHello as (type, data) in sending order: supported_versions (1.3,
    1.2), supported_groups ``groups`` (RFC 8446 section 9.2: with key_share), key_share ``shares``
    [(group, public key)], signature_algorithms, psk_key_exchange_modes ``modes`` (bytes: 1 = psk_dhe_ke,
    0 = psk_ke; empty: none, and then no PSK may be offered), cookie (the HelloRetryRequest's, echoed), and last pre_shared_key
    with one identity ``psk`` = (ticket, age in ms, ticket_age_add): obfuscated_ticket_age = age + age_add
    mod 2^32 (section 4.2.11.1), and a binder of ``hl`` zero bytes (put_binder writes it)."""
    g = bytearray(2 + 2 * len(groups))
    g[1] = 2 * len(groups)
    for i in range(len(groups)):
        g[3 + 2 * i] = groups[i] & 0xFF
        g[2 + 2 * i] = groups[i] >> 8
    n = 0
    for _, k in shares:
        n += 4 + len(k)
    s = bytearray(2 + n)
    s[0] = n >> 8
    s[1] = n & 0xFF
    p = 2
    for t, k in shares:
        s[p] = t >> 8
        s[p + 1] = t & 0xFF
        s[p + 2] = len(k) >> 8
        s[p + 3] = len(k) & 0xFF
        s[p + 4:p + 4 + len(k)] = k
        p += 4 + len(k)
    ext = [(_EXT_SUPPORTED_VERSIONS, b"\x04\x03\x04\x03\x03"), (_EXT_SUPPORTED_GROUPS, g),
           (_EXT_KEY_SHARE, s), (_EXT_SIGNATURE_ALGORITHMS, _SIG_ALGS)]
    if cookie is not None:
        n = len(cookie)
        ext.append((_EXT_COOKIE, bytes((n >> 8, n & 0xFF)) + cookie))
    if modes:  # also without a PSK: servers send tickets only to clients that can use them (section 4.2.9)
        ext.append((_EXT_PSK_KEY_EXCHANGE_MODES, bytes((len(modes),)) + modes))
    if psk is not None:
        t = psk[0]
        n = len(t)
        a = (psk[1] + psk[2]) & 0xFFFFFFFF
        d = bytearray(2 + 2 + n + 4 + 2 + 1 + hl)
        d[0] = (n + 6) >> 8
        d[1] = (n + 6) & 0xFF
        d[2] = n >> 8
        d[3] = n & 0xFF
        d[4:4 + n] = t
        for i in range(4):
            d[4 + n + i] = (a >> (24 - 8 * i)) & 0xFF
        d[8 + n] = 0
        d[9 + n] = hl + 1
        d[10 + n] = hl
        ext.append((_EXT_PRE_SHARED_KEY, d))
    return ext


def truncated_len(m, hl=32):
    """The length of the ClientHello ``m`` (header included, one binder of ``hl`` bytes: hello_exts13)
    truncated before its binders list: the part the binder's transcript hash covers (section 4.2.11.2)."""
    n = len(m) - hl - 3
    if n < 4 or m[n] != 0 or m[n + 1] != hl + 1 or m[n + 2] != hl:
        raise ValueError("ClientHello binders")
    return n


def put_binder(m, binder):
    """Write ``binder`` into the ClientHello ``m`` where its placeholder lies (its last bytes)."""
    n = truncated_len(m, len(binder))
    m[n + 3:] = binder


def parse_server_hello13(b, sid, suites, groups, shared, ids):
    """A ServerHello body ``b`` after a TLS 1.3 ClientHello that had the legacy_session_id ``sid``, the
    ``suites``, supported_groups ``groups``, key shares for the groups ``shared`` and ``ids`` PSK identities.
    None: no supported_versions, a TLS 1.2 ServerHello (engine.parse_server_hello and check_downgrade take
    it). Otherwise (hrr, suite, group, share, selected identity or -1, cookie): a HelloRetryRequest
    (random of section 4.1.3) names a group of ``groups`` that had no share (share None) or a cookie; a
    ServerHello a key share in a group of ``shared`` and/or a selected identity < ``ids``. The server's
    random is b[2:34]."""
    n = len(b)
    if n < 38:
        raise _alert(_DECODE_ERROR, "ServerHello")
    sl = b[34]
    p = 35 + sl
    if p + 3 > n:
        raise _alert(_DECODE_ERROR, "ServerHello")
    # supported_versions decides which version's rules apply: find it first
    e = p + 3
    if e < n:
        if e + 2 > n or e + 2 + ((b[e] << 8) | b[e + 1]) != n:
            raise _alert(_DECODE_ERROR, "ServerHello")
        e += 2
    q = e
    v = -1
    while q < n:
        if q + 4 > n or q + 4 + ((b[q + 2] << 8) | b[q + 3]) > n:
            raise _alert(_DECODE_ERROR, "ServerHello")
        if (b[q] << 8) | b[q + 1] == _EXT_SUPPORTED_VERSIONS:
            if b[q + 3] != 2 or b[q + 2]:
                raise _alert(_DECODE_ERROR, "ServerHello")
            v = (b[q + 4] << 8) | b[q + 5]
        q += 4 + ((b[q + 2] << 8) | b[q + 3])
    if v < 0:
        return None
    # section 4.1.3: 1.3 only; legacy_version 1.2; the session ID echoed; an offered suite; no compression
    if v != _VERSION_TLS13 or ((b[0] << 8) | b[1]) != _VERSION_TLS12:
        raise _alert(_ILLEGAL_PARAMETER, "ServerHello")
    if sl != len(sid) or bytes(b[35:p]) != sid:
        raise _alert(_ILLEGAL_PARAMETER, "ServerHello")
    suite = (b[p] << 8) | b[p + 1]
    if suite not in suites or b[p + 2]:
        raise _alert(_ILLEGAL_PARAMETER, "ServerHello")
    hrr = bytes(b[2:34]) == _HRR_RANDOM
    group = 0
    share = None
    sel = -1
    cookie = None
    seen = []
    p = e
    while p < n:
        t = (b[p] << 8) | b[p + 1]
        k = (b[p + 2] << 8) | b[p + 3]
        p += 4
        if t in seen:
            raise _alert(_DECODE_ERROR, "ServerHello")
        seen.append(t)
        if t == _EXT_KEY_SHARE:
            if k < 2:
                raise _alert(_DECODE_ERROR, "ServerHello")
            group = (b[p] << 8) | b[p + 1]
            if hrr:
                # section 4.2.8: a group offered in supported_groups, not one that already had a share
                if k != 2:
                    raise _alert(_DECODE_ERROR, "HelloRetryRequest")
                if group not in groups or group in shared:
                    raise _alert(_ILLEGAL_PARAMETER, "HelloRetryRequest")
            else:
                if k < 4 or 4 + ((b[p + 2] << 8) | b[p + 3]) != k or k == 4:
                    raise _alert(_DECODE_ERROR, "ServerHello")
                if group not in shared:
                    raise _alert(_ILLEGAL_PARAMETER, "ServerHello")
                share = bytes(b[p + 4:p + k])
        elif t == _EXT_PRE_SHARED_KEY and not hrr:
            if k != 2:
                raise _alert(_DECODE_ERROR, "ServerHello")
            sel = (b[p] << 8) | b[p + 1]
            if sel >= ids:  # none offered: ids == 0 refuses any
                raise _alert(_ILLEGAL_PARAMETER, "ServerHello")
        elif t == _EXT_COOKIE and hrr:
            if k < 3 or 2 + ((b[p] << 8) | b[p + 1]) != k:
                raise _alert(_DECODE_ERROR, "HelloRetryRequest")
            cookie = bytes(b[p + 2:p + k])
        elif t != _EXT_SUPPORTED_VERSIONS:
            # an extension the ServerHello may not carry (section 4.2): one a client sends is misplaced,
            # any other was never requested
            if t in (_EXT_SERVER_NAME, _EXT_MAX_FRAGMENT_LENGTH, _EXT_SUPPORTED_GROUPS, _EXT_SIGNATURE_ALGORITHMS,
                     _EXT_ALPN, _EXT_EARLY_DATA, _EXT_PSK_KEY_EXCHANGE_MODES, _EXT_COOKIE, _EXT_PRE_SHARED_KEY):
                raise _alert(_ILLEGAL_PARAMETER, "ServerHello")
            raise _alert(_UNSUPPORTED_EXTENSION, "ServerHello")
        p += k
    if hrr:
        if not group and cookie is None:  # section 4.1.4: a retry that would change nothing
            raise _alert(_ILLEGAL_PARAMETER, "HelloRetryRequest")
    elif not group and sel < 0:
        raise _alert(_MISSING_EXTENSION, "ServerHello")
    return hrr, suite, group, share, sel, cookie


def check_downgrade(b):
    """Section 4.1.3: a TLS 1.2 ServerHello body ``b`` answering a ClientHello that offered 1.3 must not
    carry the downgrade sentinel (DOWNGRD 01: the server does 1.3; DOWNGRD 00: 1.2) in its random."""
    if len(b) >= 34 and bytes(b[26:33]) == _DOWNGRADE and b[33] < 2:
        raise _alert(_ILLEGAL_PARAMETER, "ServerHello downgrade sentinel")


def parse_encrypted_extensions(b, sent):
    """(server_name acknowledged, the ALPN extension's data or None, max_fragment_length code or 0, early_data
    accepted) of an EncryptedExtensions body ``b``; ``sent``: the ClientHello's extension types. What a
    client may get (section 4.2 table): server_name (empty), supported_groups (the server's, checked and
    dropped), ALPN (one protocol), max_fragment_length, early_data (empty). One not sent is
    unsupported_extension, one sent but not for this message illegal_parameter."""
    n = len(b)
    if n < 2 or 2 + ((b[0] << 8) | b[1]) != n:
        raise _alert(_DECODE_ERROR, "EncryptedExtensions")
    p = 2
    sni = False
    alpn = None
    mfl = 0
    early = False
    seen = []
    while p < n:
        if p + 4 > n:
            raise _alert(_DECODE_ERROR, "EncryptedExtensions")
        t = (b[p] << 8) | b[p + 1]
        k = (b[p + 2] << 8) | b[p + 3]
        p += 4
        if p + k > n or t in seen:
            raise _alert(_DECODE_ERROR, "EncryptedExtensions")
        seen.append(t)
        if t not in sent:
            raise _alert(_UNSUPPORTED_EXTENSION, "EncryptedExtensions")
        if t == _EXT_SERVER_NAME or t == _EXT_EARLY_DATA:
            if k:
                raise _alert(_DECODE_ERROR, "EncryptedExtensions")
            if t == _EXT_EARLY_DATA:
                early = True
            else:
                sni = True
        elif t == _EXT_SUPPORTED_GROUPS:
            if k < 4 or k & 1 or 2 + ((b[p] << 8) | b[p + 1]) != k:
                raise _alert(_DECODE_ERROR, "EncryptedExtensions")
        elif t == _EXT_ALPN:
            alpn = b[p:p + k]  # checked by microticket.tls.alpn.parse (RFC 7301 section 3.1)
        elif t == _EXT_MAX_FRAGMENT_LENGTH:
            if k != 1 or not 1 <= b[p] <= 4:
                raise _alert(_ILLEGAL_PARAMETER, "EncryptedExtensions")
            mfl = b[p]
        else:
            raise _alert(_ILLEGAL_PARAMETER, "EncryptedExtensions")
        p += k
    return sni, alpn, mfl, early


def parse_certificate13(b):
    """The server's Certificate body ``b`` (section 4.4.2) turned, in place, into a TLS 1.2 Certificate
    body (3-byte length | (3-byte length | DER)*) for microticket.pk.x509.validate; returns a memoryview of
    it (within ``b``). No copy of the chain: each entry's 2-byte extensions field is dropped by moving
    the certificates after it down (the body must be writable: the record or reassembly buffer; call it
    after the message joined the transcript). The request context must be empty (server authentication);
    an empty list is decode_error (section 4.4.2.4); a CertificateEntry extension is unsupported_extension
    (the client requests neither status_request nor signed_certificate_timestamp)."""
    n = len(b)
    if n and b[0]:
        raise _alert(_ILLEGAL_PARAMETER, "Certificate")
    if n < 4 or 4 + ((b[1] << 16) | (b[2] << 8) | b[3]) != n:
        raise _alert(_DECODE_ERROR, "Certificate")
    if n == 4:
        raise _alert(_DECODE_ERROR, "Certificate")
    mv = memoryview(b)
    p = 4
    w = 4  # where the next entry's 3-byte length | DER goes
    while p < n:
        if p + 3 > n:
            raise _alert(_DECODE_ERROR, "Certificate")
        k = 3 + ((b[p] << 16) | (b[p + 1] << 8) | b[p + 2])
        if k == 3 or p + k + 2 > n:
            raise _alert(_DECODE_ERROR, "Certificate")
        e = (b[p + k] << 8) | b[p + k + 1]
        if p + k + 2 + e > n:
            raise _alert(_DECODE_ERROR, "Certificate")
        if e:
            raise _alert(_UNSUPPORTED_EXTENSION, "Certificate")
        if w != p:
            mv[w:w + k] = mv[p:p + k]
        w += k
        p += k + 2
    k = w - 4
    b[1] = k >> 16
    b[2] = (k >> 8) & 0xFF
    b[3] = k & 0xFF
    return mv[1:w]


def parse_certificate_verify(b):
    """(scheme, signature) of a CertificateVerify body ``b``; the scheme one of those offered for it
    (ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256), illegal_parameter otherwise (section 4.4.3)."""
    n = len(b)
    if n < 5 or 4 + ((b[2] << 8) | b[3]) != n:
        raise _alert(_DECODE_ERROR, "CertificateVerify")
    s = (b[0] << 8) | b[1]
    if s != _SIG_ECDSA_SECP256R1_SHA256 and s != _SIG_RSA_PSS_RSAE_SHA256:
        raise _alert(_ILLEGAL_PARAMETER, "CertificateVerify")
    return s, bytes(b[4:n])


def parse_new_session_ticket13(b):
    """(ticket_lifetime, ticket_age_add, ticket_nonce, ticket, max_early_data_size or 0) of a TLS 1.3
    NewSessionTicket body (section 4.6.1): a lifetime over 7 days is illegal_parameter; unknown extensions
    are ignored, early_data's is a uint32."""
    n = len(b)
    if n < 9 or 9 + b[8] + 2 > n:
        raise _alert(_DECODE_ERROR, "NewSessionTicket")
    life = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
    if life > _MAX_LIFETIME:
        raise _alert(_ILLEGAL_PARAMETER, "NewSessionTicket")
    age_add = (b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]
    p = 9 + b[8]
    nonce = bytes(b[9:p])
    k = (b[p] << 8) | b[p + 1]
    p += 2
    if not k or p + k + 2 > n:
        raise _alert(_DECODE_ERROR, "NewSessionTicket")
    ticket = bytes(b[p:p + k])
    p += k
    if p + 2 + ((b[p] << 8) | b[p + 1]) != n:
        raise _alert(_DECODE_ERROR, "NewSessionTicket")
    p += 2
    early = 0
    seen = []
    while p < n:
        if p + 4 > n:
            raise _alert(_DECODE_ERROR, "NewSessionTicket")
        t = (b[p] << 8) | b[p + 1]
        k = (b[p + 2] << 8) | b[p + 3]
        p += 4
        if p + k > n or t in seen:
            raise _alert(_DECODE_ERROR, "NewSessionTicket")
        seen.append(t)
        if t == _EXT_EARLY_DATA:
            if k != 4:
                raise _alert(_DECODE_ERROR, "NewSessionTicket")
            early = (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]
        p += k
    return life, age_add, nonce, ticket, early
