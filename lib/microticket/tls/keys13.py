"""The TLS 1.3 key schedule with SHA-256 (RFC 8446 sections 7.1, 7.3, 4.4.4, 4.6.1, 4.2.11.2, 7.2): functions
over bytes built on microticket.crypto's HMAC. Transcript hashes are the caller's (SHA-256 of the handshake
messages so far, microticket.crypto.hash_new).

A label is passed as its HkdfLabel head (section 7.1), a bytes constant: uint16 length | the label's length |
"tls13 " + label, e.g. b"\x00\x20\x12tls13 c hs traffic" (32 bytes out, 18 bytes of label). The head is what
the HMAC hashes first, as it is: nothing is joined per derivation (tests/tls/test_tls13_keys.py checks every
head in lib/ against its label).

    early       = stage(None, psk)             psk None: 32 zero bytes (no PSK)
    handshake   = stage(early, ecdhe)          ecdhe None: zeros (psk_ke)
    master      = stage(handshake)
    binder_key  = label(early, "res binder" (a ticket) or "ext binder" (an external PSK), None)
    binder      = finished(binder_key, Hash(ClientHello truncated before the binders))
    c/s hs      = label(handshake, "c hs traffic" / "s hs traffic", Hash(ClientHello..ServerHello))
    c/s ap      = label(master, "c ap traffic" / "s ap traffic", Hash(ClientHello..server Finished))
    exporter    = label(master, "exp master", Hash(ClientHello..server Finished))
    resumption  = label(master, "res master", Hash(ClientHello..client Finished))
    ticket PSK  = label(resumption, "resumption", ticket_nonce)
    c e traffic = label(early, "c e traffic", Hash(ClientHello)) (0-RTT)
    next secret = label(secret, "traffic upd") (KeyUpdate, section 7.2)
    key, iv     = traffic(secret, 16) (AES-128-GCM, AES-128-CCM) or traffic(secret, 32) (ChaCha20-Poly1305)
    verify_data = finished(the handshake traffic secret of the Finished's sender, Hash(messages before it))

``label`` is HKDF-Expand-Label, and with a transcript hash as the context Derive-Secret (section 7.1); the
context None stands for the hash of no messages, SHA-256 of "" (Derive-Secret(secret, name, "")).
Four defs: each costs a board ~60 bytes of heap even from ROMFS, each name an interned string (hence the
parameters key, data, name: names the record layer and microticket.crypto intern anyway).
"""

from micropython import const

from microticket.crypto import Hmac

_ZEROS = const(b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")
# SHA-256 of nothing: the transcript hash of no messages (Derive-Secret(..., "derived", ""), binder keys)
_EMPTY_HASH = const(b"\xe3\xb0\xc4\x42\x98\xfc\x1c\x14\x9a\xfb\xf4\xc8\x99\x6f\xb9\x24"
                    b"\x27\xae\x41\xe4\x64\x9b\x93\x4c\xa4\x95\x99\x1b\x78\x52\xb8\x55")


def label(key, name, data=b""):
    """HKDF-Expand-Label(key, label, data, length) (RFC 8446 section 7.1; HKDF-Expand, RFC 5869 section 2.3),
    ``name`` the HkdfLabel's head (uint16 length | label length | "tls13 " + label: the module's note), the
    length read from it."""
    hm = Hmac(key)
    if data is None:
        data = _EMPTY_HASH
    n = (name[0] << 8) | name[1]
    k = len(data)  # the context's length byte: a constant for a hash and for none (no bytes made)
    k = b"\x20" if k == 32 else (b"\x00" if not k else bytes((k,)))
    if n <= 32:  # one block: every secret, key and IV of the SHA-256 suites
        out = hm.mac(name, k, data, b"\x01")
        return out[:n] if n < 32 else out
    data = k + data
    out = b""
    t = b""
    i = 1
    while len(out) < n:
        t = hm.mac(t, name, data, bytes((i,)))
        out += t
        i += 1
    return out[:n] if len(out) > n else out


def stage(key, data=None):
    """The next secret of the chain (early, handshake, master) after the secret ``key``: HKDF-Extract(salt,
    ``data`` (the PSK, the (EC)DHE shared secret) or 32 zero bytes), the salt Derive-Secret(key, "derived",
    "") or, for the early secret (``key`` None), zeros."""
    salt = _ZEROS if key is None else label(key, b"\x00\x20\x0dtls13 derived", None)
    return Hmac(salt).mac(_ZEROS if data is None else data)


def traffic(key, n):
    """(key, iv) of the traffic secret ``key`` (section 7.3): a key of ``n`` bytes and the 12-byte IV."""
    # one HMAC key for both (its pads made once), empty contexts
    hm = Hmac(key)
    return (hm.mac(b"\x00\x10\x09tls13 key" if n == 16 else b"\x00\x20\x09tls13 key", b"\x00", b"\x01")[:n],
            hm.mac(b"\x00\x0c\x08tls13 iv", b"\x00", b"\x01")[:12])


def finished(key, data):
    """HMAC(finished_key, data), finished_key = HKDF-Expand-Label(key, "finished", "", 32) (section 4.4.4):
    with a transcript hash, a Finished's verify_data from its sender's handshake traffic secret ``key``, or
    a PSK binder (section 4.2.11.2) from the binder key."""
    return Hmac(label(key, b"\x00\x20\x0etls13 finished")).mac(data)
