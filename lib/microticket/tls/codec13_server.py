"""The TLS 1.3 handshake messages a server takes and builds (RFC 8446 section 4): the conventions of
microticket.tls.codec13 (the client's half). client_hello13_exts (a 1.3 ClientHello's extensions; None: 1.3
not offered), server_hello13 (and the HelloRetryRequest), encrypted_extensions, certificate13,
certificate_verify, new_session_ticket13. Loaded only by a server's TLS 1.3 handshake
(microticket.tls.server13). The server echoes the client's legacy_session_id (server_hello13's ``sid``,
appendix D.4).
"""

from micropython import const

from microticket import errors
from microticket.tls.engine import put_extensions

_HT_NEW_SESSION_TICKET = const(4)
_HT_ENCRYPTED_EXTENSIONS = const(8)
_HT_CERTIFICATE = const(11)
_HT_CERTIFICATE_VERIFY = const(15)
_ILLEGAL_PARAMETER = const(47)
_DECODE_ERROR = const(50)
_MISSING_EXTENSION = const(109)
_EXT_SUPPORTED_GROUPS = const(10)
_EXT_SIGNATURE_ALGORITHMS = const(13)
_EXT_PRE_SHARED_KEY = const(41)
_EXT_EARLY_DATA = const(42)
_EXT_SUPPORTED_VERSIONS = const(43)
_EXT_COOKIE = const(44)
_EXT_PSK_KEY_EXCHANGE_MODES = const(45)
_EXT_KEY_SHARE = const(51)
_GROUP_SECP256R1 = const(23)
_GROUP_X25519 = const(29)
_MAX_LIFETIME = const(604800)  # 7 days (section 4.6.1)
# SHA-256("HelloRetryRequest"): a ServerHello with this random is a HelloRetryRequest (section 4.1.3)
_HRR_RANDOM = const(b"\xcf\x21\xad\x74\xe5\x9a\x61\x11\xbe\x1d\x8c\x02\x1e\x65\xb8\x91"
                    b"\xc2\xa2\x11\x16\x7a\xbb\x8c\x5e\x07\x9e\x09\xe2\xc8\xa8\x33\x9c")


def _alert(d, what):
    return errors.TlsAlert(d, what)


def client_hello13_exts(b, exts):
    """The TLS 1.3 part of a ClientHello: ``b`` its body, ``exts`` its {type: data} (server.parse_client_hello).
    None when supported_versions does not offer 1.3 (a TLS 1.2 ClientHello). Otherwise (key shares
    [(group, key)], supported_groups, psk_key_exchange_modes bytes, psk, cookie or None, early_data): psk
    None or ([(identity, obfuscated_ticket_age)], [binder], truncated length): the body's length before the
    binders list (the truncated ClientHello is the 4-byte header and that much of the body, section
    4.2.11.2). Checks: the lists' syntax, key shares unique, in supported_groups and in its order
    (section 4.2.8: illegal_parameter), x25519 32 bytes and secp256r1 65 uncompressed, pre_shared_key
    last (illegal_parameter), as many binders as identities, and the extensions section 9.2 requires
    together (missing_extension)."""
    d = exts.get(_EXT_SUPPORTED_VERSIONS)
    if d is None:
        return None
    n = len(d)
    if n < 3 or n & 1 == 0 or d[0] != n - 1:
        raise _alert(_DECODE_ERROR, "ClientHello supported_versions")
    for i in range(1, n, 2):
        if d[i] == 3 and d[i + 1] == 4:
            break
    else:
        return None
    groups = None
    d = exts.get(_EXT_SUPPORTED_GROUPS)
    if d is not None:
        n = len(d)
        if n < 4 or n & 1 or ((d[0] << 8) | d[1]) != n - 2:
            raise _alert(_DECODE_ERROR, "ClientHello supported_groups")
        groups = [(d[i] << 8) | d[i + 1] for i in range(2, n, 2)]
    shares = None
    d = exts.get(_EXT_KEY_SHARE)
    if d is not None:
        n = len(d)
        if n < 2 or ((d[0] << 8) | d[1]) != n - 2:
            raise _alert(_DECODE_ERROR, "ClientHello key_share")
        if groups is None:  # section 9.2
            raise _alert(_MISSING_EXTENSION, "ClientHello supported_groups")
        shares = []
        p = 2
        last = -1
        while p < n:
            if p + 4 > n:
                raise _alert(_DECODE_ERROR, "ClientHello key_share")
            g = (d[p] << 8) | d[p + 1]
            k = (d[p + 2] << 8) | d[p + 3]
            p += 4
            if not k or p + k > n:
                raise _alert(_DECODE_ERROR, "ClientHello key_share")
            if g not in groups or groups.index(g) <= last:
                raise _alert(_ILLEGAL_PARAMETER, "ClientHello key_share")
            last = groups.index(g)
            if (g == _GROUP_X25519 and k != 32) or (g == _GROUP_SECP256R1 and (k != 65 or d[p] != 4)):
                raise _alert(_ILLEGAL_PARAMETER, "ClientHello key_share")
            shares.append((g, d[p:p + k]))
            p += k
    modes = exts.get(_EXT_PSK_KEY_EXCHANGE_MODES)
    if modes is not None:
        if not len(modes) or modes[0] != len(modes) - 1 or len(modes) < 2:
            raise _alert(_DECODE_ERROR, "ClientHello psk_key_exchange_modes")
        modes = modes[1:]
    cookie = exts.get(_EXT_COOKIE)
    if cookie is not None:
        n = len(cookie)
        if n < 3 or ((cookie[0] << 8) | cookie[1]) != n - 2:
            raise _alert(_DECODE_ERROR, "ClientHello cookie")
        cookie = cookie[2:]
    early = exts.get(_EXT_EARLY_DATA)
    if early is not None and len(early):
        raise _alert(_DECODE_ERROR, "ClientHello early_data")
    psk = None
    d = exts.get(_EXT_PRE_SHARED_KEY)
    if d is not None:
        # its data must be the body's last bytes, preceded by its type and length: walk the extensions to
        # the last one (parse_client_hello checked the framing)
        nb = len(b)
        p = 35 + b[34]
        p += 2 + ((b[p] << 8) | b[p + 1])
        p += 3 + b[p]
        q = p
        while p < nb:
            q = p
            p += 4 + ((b[p + 2] << 8) | b[p + 3])
        if (b[q] << 8) | b[q + 1] != _EXT_PRE_SHARED_KEY:
            raise _alert(_ILLEGAL_PARAMETER, "ClientHello pre_shared_key not last")
        n = len(d)
        if n < 2:
            raise _alert(_DECODE_ERROR, "ClientHello pre_shared_key")
        e = 2 + ((d[0] << 8) | d[1])
        if e + 2 > n or e < 9:
            raise _alert(_DECODE_ERROR, "ClientHello pre_shared_key")
        ids = []
        p = 2
        while p < e:
            k = (d[p] << 8) | d[p + 1] if p + 2 <= e else 0
            if not k or p + 2 + k + 4 > e:
                raise _alert(_DECODE_ERROR, "ClientHello pre_shared_key identity")
            p += 2 + k
            ids.append((d[p - k:p], (d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]))
            p += 4
        if e + 2 + ((d[e] << 8) | d[e + 1]) != n or n - e < 35:
            raise _alert(_DECODE_ERROR, "ClientHello pre_shared_key binders")
        binders = []
        p = e + 2
        while p < n:
            k = d[p]
            if k < 32 or p + 1 + k > n:
                raise _alert(_DECODE_ERROR, "ClientHello pre_shared_key binder")
            binders.append(d[p + 1:p + 1 + k])
            p += 1 + k
        if len(binders) != len(ids):
            raise _alert(_ILLEGAL_PARAMETER, "ClientHello pre_shared_key binders")
        if modes is None:
            raise _alert(_MISSING_EXTENSION, "ClientHello psk_key_exchange_modes")
        psk = (ids, binders, nb - (n - e))
    # section 9.2: without a PSK, signature_algorithms and supported_groups; key_share and supported_groups
    # together
    if psk is None and (_EXT_SIGNATURE_ALGORITHMS not in exts or groups is None):
        raise _alert(_MISSING_EXTENSION, "ClientHello signature_algorithms/supported_groups")
    if (groups is None) != (shares is None):
        raise _alert(_MISSING_EXTENSION, "ClientHello key_share/supported_groups")
    return shares or [], groups or [], modes or b"", psk, cookie, early is not None


def server_hello13(random, sid, suite, group, share, psk=-1, cookie=None):
    """A TLS 1.3 ServerHello (legacy_version 1.2, the client's legacy_session_id ``sid`` echoed, ``suite``)
    with supported_versions, key_share (``group`` and our ``share``; none when ``group`` is 0: psk_ke) and
    pre_shared_key (the selected identity ``psk``; none when < 0). ``random`` None: a HelloRetryRequest
    (section 4.1.4) naming ``group`` (share None) and/or carrying ``cookie``."""
    from microticket.tls.server_hello import server_hello  # loaded by the server role
    ext = [(_EXT_SUPPORTED_VERSIONS, b"\x03\x04")]
    if group:
        if share is None:
            ext.append((_EXT_KEY_SHARE, bytes((group >> 8, group & 0xFF))))
        else:
            n = len(share)
            ext.append((_EXT_KEY_SHARE, bytes((group >> 8, group & 0xFF, n >> 8, n & 0xFF)) + share))
    if random is None:
        random = _HRR_RANDOM
        if cookie is not None:
            n = len(cookie)
            ext.append((_EXT_COOKIE, bytes((n >> 8, n & 0xFF)) + cookie))
    elif psk >= 0:
        ext.append((_EXT_PRE_SHARED_KEY, bytes((psk >> 8, psk & 0xFF))))
    return server_hello(random, sid, suite, ext)


def encrypted_extensions(ext):
    """EncryptedExtensions with the extensions ``ext`` [(type, data)]."""
    elen = 0
    for _, d in ext:
        elen += 4 + len(d)
    m = bytearray(6 + elen)
    m[0] = _HT_ENCRYPTED_EXTENSIONS
    m[2] = (elen + 2) >> 8
    m[3] = (elen + 2) & 0xFF
    put_extensions(m, 4, ext, elen)
    return m


def certificate13(chain, prefix=b"\x00"):
    """A TLS 1.3 Certificate (section 4.4.2): ``prefix``, the request context with its length byte (empty for
    a server's; a client echoes its CertificateRequest's, microticket.tls.client_auth), each DER of ``chain``
    (leaf first; empty: a client without one) in a CertificateEntry with no extensions."""
    k = 0
    for c in chain:
        k += 5 + len(c)
    h = len(prefix)
    m = bytearray(7 + h + k)
    m[0] = _HT_CERTIFICATE
    n = k + 3 + h
    m[1] = n >> 16
    m[2] = (n >> 8) & 0xFF
    m[3] = n & 0xFF
    m[4:4 + h] = prefix
    p = 4 + h
    m[p] = k >> 16
    m[p + 1] = (k >> 8) & 0xFF
    m[p + 2] = k & 0xFF
    p += 3
    for c in chain:
        n = len(c)
        m[p] = n >> 16
        m[p + 1] = (n >> 8) & 0xFF
        m[p + 2] = n & 0xFF
        m[p + 3:p + 3 + n] = c
        p += 5 + n
    return m


def certificate_verify(scheme, sig):
    """A CertificateVerify: ``scheme`` and the signature ``sig`` over signed_content."""
    n = len(sig)
    m = bytearray(8 + n)
    m[0] = _HT_CERTIFICATE_VERIFY
    m[2] = (n + 4) >> 8
    m[3] = (n + 4) & 0xFF
    m[4] = scheme >> 8
    m[5] = scheme & 0xFF
    m[6] = n >> 8
    m[7] = n & 0xFF
    m[8:] = sig
    return m


def new_session_ticket13(lifetime, age_add, nonce, ticket, max_early=0):
    """A TLS 1.3 NewSessionTicket (section 4.6.1): ``lifetime`` seconds (at most 7 days), ``age_add``, the
    ``nonce``, the ``ticket``, and early_data with ``max_early`` when not 0."""
    if lifetime > _MAX_LIFETIME or not ticket or len(nonce) > 255:
        raise ValueError("NewSessionTicket")
    a = len(nonce)
    k = len(ticket)
    e = 8 if max_early else 0
    body = 4 + 4 + 1 + a + 2 + k + 2 + e
    m = bytearray(4 + body)
    m[0] = _HT_NEW_SESSION_TICKET
    m[2] = body >> 8
    m[3] = body & 0xFF
    for i in range(4):
        m[4 + i] = (lifetime >> (24 - 8 * i)) & 0xFF
        m[8 + i] = (age_add >> (24 - 8 * i)) & 0xFF
    m[12] = a
    m[13:13 + a] = nonce
    p = 13 + a
    m[p] = k >> 8
    m[p + 1] = k & 0xFF
    m[p + 2:p + 2 + k] = ticket
    p += 2 + k
    m[p + 1] = e
    if e:
        m[p + 3] = _EXT_EARLY_DATA
        m[p + 5] = 4
        for i in range(4):
            m[p + 6 + i] = (max_early >> (24 - 8 * i)) & 0xFF
    return m
