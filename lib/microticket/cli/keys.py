"""`keys new|rotate|show KEYFILE [--profile rfc5077|draft07] [--lifetime SECONDS]`: the ticket key file of
microticket.ticket: make one, rotate it (a new sealing key; keys whose decrypt window has closed are
dropped), or show it (key names, ages and roles, never a secret). KEYFILE may be a redis:// URL (CPython:
microticket.fleet.redis_keys.main). Help: ``keys --help``."""

from microticket.cli import parse, fail


def main(argv, now=None):
    from microticket.ticket import KeyRing, DEFAULT_LIFETIME, PROFILES
    from microticket.errors import MicroticketError
    try:
        a = parse(argv, "keys", "", "profile lifetime:1..1000000000", "new|rotate|show KEYFILE")
        if a is None:
            return 0
        (action, path), o = a
        if action not in ("new", "rotate", "show"):
            raise ValueError("unknown action %r (new, rotate or show)" % action)
        profile = o.get("profile", "rfc5077")
        if profile not in PROFILES:
            raise ValueError("--profile must be rfc5077 or draft07, not %r" % profile)
        lifetime = o.get("lifetime", DEFAULT_LIFETIME)
        if action != "new" and len(o):
            raise ValueError("--profile and --lifetime are for keys new")
    except ValueError as e:
        return fail(e)
    if now is None:
        import time
        now = int(time.time())
    if path.encode().split(b"://")[0] in (b"redis", b"rediss"):
        # a fleet's keys in Redis (CPython only): imported by a name in bytes, as tls_server does it
        return __import__(b"microticket.fleet.redis_keys".decode(), None, None, (True,)).main(action, path, o, now)
    try:
        if action == "new":
            ring = KeyRing.generate(now, profile=profile, lifetime=lifetime)
            ring.save(path)
        else:
            ring = KeyRing.load(path, now)
            if action == "rotate":
                ring.rotate(now)
                ring.save(path)
    except (OSError, ValueError, MicroticketError) as e:
        # missing, unreadable or damaged (DecodeError says what), or not writable
        return fail("%s: %s" % (path, e), 1)
    from microticket import keyfile
    info = keyfile.describe(ring, now)
    print("key file %s: profile %s, lifetime %d s, %d key(s)" % (path, info["profile"], info["lifetime"],
                                                                  len(info["keys"])))
    for k in info["keys"]:
        role = "seals+opens" if k["seals"] else ("opens" if k["opens"] else "expired")
        print("  %s  age %7d s  %s" % (k["name"], now - k["created"], role))
    return 0
