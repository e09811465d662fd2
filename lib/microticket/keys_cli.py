"""`python -m microticket keys new|rotate|show KEYFILE [--profile rfc5077|draft07] [--lifetime S]`

The ticket key file of microticket.ticket: make one, rotate it (new sealing key, keys whose decrypt window
has closed dropped), or show it. ``show`` prints key names, ages and roles, never a secret.
"""

import time

from microticket.errors import MicroticketError

USAGE = "usage: keys new|rotate|show KEYFILE [--profile rfc5077|draft07] [--lifetime SECONDS]"


def main(argv, now=None):
    from microticket.ticket import KeyRing, DEFAULT_LIFETIME, PROFILES
    from microticket import keyfile
    if len(argv) < 2 or argv[0] not in ("new", "rotate", "show"):
        print(USAGE)
        return 2
    action, path = argv[0], argv[1]
    profile, lifetime = "rfc5077", DEFAULT_LIFETIME
    rest = argv[2:]
    i = 0
    while i < len(rest):
        if rest[i] == "--profile" and i + 1 < len(rest) and rest[i + 1] in PROFILES:
            profile = rest[i + 1]
        elif rest[i] == "--lifetime" and i + 1 < len(rest) and rest[i + 1].isdigit() and int(rest[i + 1]) > 0:
            lifetime = int(rest[i + 1])
        else:
            print(USAGE)
            return 2
        i += 2
    if now is None:
        now = int(time.time())
    try:
        if action == "new":
            ring = KeyRing.generate(now, profile=profile, lifetime=lifetime)
            ring.save(path)
        else:
            ring = KeyRing.load(path)
            if action == "rotate":
                ring.rotate(now)
                ring.save(path)
    except OSError as e:
        print("keys: cannot use %s: %s" % (path, e))
        return 1
    except MicroticketError as e:
        print("keys: %s: %s" % (path, e.args[0] if e.args else e))
        return 1
    info = keyfile.describe(ring, now)
    print("key file %s: profile %s, lifetime %d s, %d key(s)" % (path, info["profile"], info["lifetime"],
                                                                  len(info["keys"])))
    for k in info["keys"]:
        role = "seals+opens" if k["seals"] else ("opens" if k["opens"] else "expired")
        print("  %s  age %7d s  %s" % (k["name"], now - k["created"], role))
    return 0
