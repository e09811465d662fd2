"""`ike-gateway --port P --psk HEX --id ID ...`: the IKEv2 responder (microticket.ike.gateway) on a UDP port
until killed; events printed, secrets never. Options: microticket.cli.usage (``ike-gateway --help``)."""

from microticket.cli import parse, fail, out
from microticket.cli.helpers import bind


def main(argv):
    import socket
    try:
        a = parse(argv, "ike-gateway", "cookie rotate", "port:0..65535 psk:hex id tickets keys host "
                  "lifetime:1..1000000000 reauth:1..1000000000 auth-mode ticket-policy resume "
                  "max-sas:2..1000000 used-capacity:1..100000000", "")
        if a is None:
            return 0
        o = a[1]
        for k in ("port", "psk", "id"):
            if k not in o:
                raise ValueError("need --" + k)
        port = o["port"]
        psk = o["psk"]
        mode = o.get("tickets", "value")
        if mode not in ("value", "reference"):
            raise ValueError("--tickets must be value or reference, not %r" % mode)
        lifetime = o.get("lifetime", 3600)
        reauth = o.get("reauth")
        auth_mode = o.get("auth-mode", "both")
        if auth_mode not in ("signed", "message", "both"):
            raise ValueError("--auth-mode must be signed, message or both, not %r" % auth_mode)
        resume = o.get("resume", "accept")
        if resume not in ("accept", "nack", "drop"):
            raise ValueError("--resume must be accept, nack or drop, not %r" % resume)
        policy = o.get("ticket-policy", "issue")
        if policy not in ("issue", "ack", "nack"):
            raise ValueError("--ticket-policy must be issue, ack or nack, not %r" % policy)
    except ValueError as e:
        return fail(e)
    import time
    from microticket.ticket import KeyRing
    from microticket.errors import MicroticketError
    from microticket.ike.gateway import Gateway, serve
    now = int(time.time())
    kf = o.get("keys")
    ring = refs = used = None
    if kf and kf.encode().split(b"://")[0] in (b"redis", b"rediss"):
        # a fleet's keys, tickets by reference and one-time-use list in Redis (CPython only:
        # microticket.fleet.redis_ike, imported by a name in bytes as tls_server does it: no board part names it)
        if "rotate" in o:
            return fail("--rotate is for a key file (a fleet's leader rotates; `keys rotate URL` asks it)")
        try:  # (the errors name the URL without its password)
            ring, refs, used = __import__(b"microticket.fleet.redis_ike".decode(), None, None, (True,)).load(
                kf, now, lifetime if reauth is None else min(lifetime, reauth))
        except ValueError as e:
            return fail(e, 1)
    try:
        if kf and ring is None:
            try:
                ring = KeyRing.load(kf, now)
            except OSError:
                pass   # no key file yet: made below
            if ring is not None and "rotate" in o:
                ring.rotate(now)
                ring.save(kf)
        if ring is None:
            ring = KeyRing.generate(now)
            if kf:
                ring.save(kf)
    except (OSError, ValueError, MicroticketError) as e:
        return fail("--keys %s: %s" % (kf, e), 1)
    import sys
    big = sys.implementation.name != "micropython"  # a server's heap, not a board's
    gw = Gateway(psk, o["id"], ring=ring, tickets=mode, lifetime=lifetime, reauth=reauth,
                 max_sas=o.get("max-sas", 4096 if big else 64), used_capacity=o.get("used-capacity", 100000 if big else 512),
                 cookie=True if "cookie" in o else None, auth_mode=None if auth_mode == "both" else auth_mode, ticket_policy=policy,
                 resume=resume, refs=refs, used=used)
    host = o.get("host", "0.0.0.0")
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
    s = socket.socket(ai[0], socket.SOCK_DGRAM)
    try:
        port = bind(s, host, port)
    except OSError as e:
        s.close()
        return fail("%s:%d: %s" % (host, port, e), 1)
    out("ike-gateway: listening on %d (tickets=%s%s)" % (port, mode, "" if used is None else ", shared in Redis"))

    def after():
        for ev in gw.events():
            out("event: " + " ".join([x.decode() if isinstance(x, bytes) else str(x) for x in ev]))

    try:
        serve(gw, port, host, after=after, sock=s)
    except KeyboardInterrupt:
        pass
    return 0
