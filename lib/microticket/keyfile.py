"""The ticket key file: the unit a fleet of servers shares (JSON, owner-only permissions).

    {"format": "microticket-keys/1", "profile": "rfc5077" | "draft07", "lifetime": seconds,
     "keys": [{"name": 32 hex, "aes": 32 hex, "hmac": 64 hex (40 for draft07), "created": unix seconds}, ...]}

Newest key first: it seals; every key inside its decrypt window opens. Kept apart from microticket.ticket
so a board that gets its keys some other way never loads the JSON code. The format is this module's own
(its key sizes included): it imports nothing of microticket.ticket, whose KeyRing.save/load call it.
``loads(cls, text, **kw)`` gives ``cls`` (the KeyRing class) the keys as (name, aes, hmac, created) tuples.
"""

import json

from microticket.errors import DecodeError

FORMAT = "microticket-keys/1"
_NAME_LEN = 16
_AES_LEN = 16
_HMAC_LEN = {"rfc5077": 32, "draft07": 20}  # per profile (microticket.ticket.PROFILES)


def _hex(b):
    return "".join("%02x" % x for x in b)


def _unhex(s, n, what):
    try:
        b = bytes.fromhex(s)
    except (ValueError, TypeError):
        raise DecodeError("key file: %s is not hex" % what)
    if n is not None and len(b) != n:
        raise DecodeError("key file: %s must be %d bytes" % (what, n))
    return b


def dumps(ring):
    keys = []
    for key in ring.keys:
        keys.append({"name": _hex(key.name), "aes": _hex(key.aes_key), "hmac": _hex(key.hmac_key),
                     "created": key.created})
    return json.dumps({"format": FORMAT, "profile": ring.profile, "lifetime": ring.lifetime, "keys": keys})


def loads(cls, text, now=None, **kw):
    """The ring (``cls``, KeyRing) of the key file's ``text``; ``kw`` as for its constructor. Refused with a
    DecodeError naming the rule: anything malformed, more keys than the ring keeps (a file that no ring
    wrote), and, given ``now``, a key created further ahead than the ring's clock skew (a key from a
    machine whose clock is wrong would outlive its window here)."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise DecodeError("key file: not JSON")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DecodeError("key file: format is not " + FORMAT)
    profile = doc.get("profile")
    if profile not in _HMAC_LEN:
        raise DecodeError("key file: unknown profile")
    hmac_len = _HMAC_LEN[profile]
    lifetime = doc.get("lifetime")
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0:
        raise DecodeError("key file: lifetime must be a positive integer")
    entries = doc.get("keys")
    if not isinstance(entries, list) or not entries:
        raise DecodeError("key file: no keys")
    keys = []
    for e in entries:
        if not isinstance(e, dict):
            raise DecodeError("key file: key entry is not an object")
        created = e.get("created")
        if not isinstance(created, int) or isinstance(created, bool) or created < 0:  # true is an int on CPython
            raise DecodeError("key file: bad created time")
        hkey = _unhex(e.get("hmac"), None, "hmac")
        # draft-07 names a 128-bit HMAC key; we write 160 bits (RFC 2104: at least L) and read both.
        if len(hkey) != hmac_len and not (profile == "draft07" and len(hkey) == 16):
            raise DecodeError("key file: hmac key must be %d bytes" % hmac_len)
        keys.append((_unhex(e.get("name"), _NAME_LEN, "name"), _unhex(e.get("aes"), _AES_LEN, "aes"), hkey,
                     created))
    ring = cls(keys, profile, lifetime, **kw)
    if len(ring.keys) > ring.max_keys:
        raise DecodeError("key file: more keys (%d) than a ring keeps (%d)" % (len(ring.keys), ring.max_keys))
    if now is not None:
        for k in ring.keys:
            if k.created > now + ring.skew:
                raise DecodeError("key file: a key created in the future (clock skew over %d s)" % ring.skew)
    return ring


def describe(ring, now=None):
    """Facts without any secret: profile, lifetime, and per key its name, creation time and role."""
    out = {"profile": ring.profile, "lifetime": ring.lifetime, "keys": []}
    for i in range(len(ring.keys)):
        key = ring.keys[i]
        d = {"name": _hex(key.name), "created": key.created, "seals": i == 0}
        if now is not None:
            d["opens"] = ring.window_open(i, now)
        out["keys"].append(d)
    return out
