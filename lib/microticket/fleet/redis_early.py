"""TLS servers sharing TLS 1.3 0-RTT's one-time-use list through Redis (CPython only; the server engine is
unchanged).

    tls-server ... --keys redis://[USER:PASSWORD@]HOST:PORT/DB[?prefix=P...] --max-early-data N

A server accepts a ticket's early data only on the ticket's first use (microticket.tls.early13: RFC 8446
sections 8 and 8.1, single-use tickets), checked in ``ServerConfig.early_used``. Alone, that list is the
process's own (ike.ticket.UsedTickets); servers sharing ticket keys would each accept the same ticket's early
data once, so a ClientHello replayed at another server of the fleet would have its request run again. With
the keys in Redis, ``tls-server`` gives the config this list instead, shared by every server under the same
prefix:

    PREFIXtls:used:HEX   a ticket whose early data was taken (HEX: the first 16 bytes of its SHA-256), SET NX
                         PX 120 s (early13 keeps a ticket 60 s, longer than its 11-second freshness window,
                         plus 60 s of clock skew): one server of the fleet gets True for it
    PREFIXtls:epoch      which list this is (microticket.fleet.redis_ike: a list lost with Redis's data is
                         seen, and early data refused for 120 s from then)

Redis down: early data is refused (the claim answers False: the handshake still resumes, the client sends
its request again after it, RFC 8446 section 4.2.10), said once, and reconnected with backoff
(microticket.fleet.redis_ike.Shared, the IKE gateways' connection, ``kind`` "tls"). Never early data accepted
twice in the fleet; never a failed handshake for Redis.

Imports of redis and threading are inside functions (marked cpython-only for tests/core/test_layers).
"""

import hashlib

from microticket.fleet import redis_ike as RI

PERIOD = 60  # seconds: microticket.tls.early13 keeps a used ticket that long (> the freshness window)


class EarlyUsed(RI.RedisUsed):
    """RedisUsed keyed by a digest of the ticket (a TLS ticket is ~100-250 bytes; an IKE list's token a MAC)."""

    def add(self, token, now):
        return RI.RedisUsed.add(self, hashlib.sha256(bytes(token)).digest()[:16], now)

    def __contains__(self, token):
        return RI.RedisUsed.__contains__(self, hashlib.sha256(bytes(token)).digest()[:16])


def load(url, out=None):
    """The fleet's 0-RTT one-time-use list for a server whose --keys is ``url`` (``ServerConfig.early_used``);
    ValueError if Redis does not answer now."""
    s = RI.Shared(url, PERIOD, out, kind="tls")
    s.check()
    s.run_in_background()
    return EarlyUsed(s)
