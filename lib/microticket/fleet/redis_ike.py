"""IKE gateways sharing their RFC 5723 state through Redis (CPython only; the gateway engine is unchanged).

    ike-gateway ... --keys redis://[USER:PASSWORD@]HOST:PORT/DB[?prefix=P...]

gives the gateway its ticket keys from the fleet's document (microticket.fleet.redis_keys, rotated by a
leader) and these two stores, drop-ins for ticket.RefStore and ticket.UsedTickets (``Gateway(refs=...,
used=...)``), under the same prefix:

    PREFIXike:ref:HEX    a ticket by reference's state (RFC 5723 Appendix A.2), sealed under the ring's
                         sealing key as a ticket by value is (SK_d is never plain in Redis); it expires with
                         its ticket (PX = the ticket's remaining lifetime + 60 s of clock skew)
    PREFIXike:used:HEX   a used or revoked ticket by value (its MAC): the one-time-use list of RFC 5723
                         sections 4.3.1 and 9.8, SET NX PX the gateway's longest ticket lifetime + 60 s
    PREFIXike:epoch      "RANDOM:LOST_AT": which list this is (see "Redis without its data" below)

One-time use is one atomic step per ticket, taken when the resumed IKE_AUTH's AUTH has checked (RFC 5723:
a ticket is used once an SA is established with it): ``used.add`` is SET NX (true for one caller only) and
``refs.remove`` is DEL (1 for one caller only); the gateway answers the IKE_AUTH only if the claim is its own
(else AUTHENTICATION_FAILED), so a ticket raced at two gateways resumes at one of them. The checks made at
IKE_SESSION_RESUME (EXISTS, GET) only refuse early: they decide nothing.

Redis down: resumption fails closed. A check answers TicketRejected("store-unavailable") (TICKET_NACK: the
initiator runs a full exchange), a claim answers False, a ticket by reference is not issued (TICKET_NACK),
full exchanges and tickets by value go on. The outage is said once; calls made meanwhile go to no socket
(no stall per datagram) while a thread reconnects with backoff (0.1 s doubling to 5 s), replays the
revocations made meanwhile (kept in memory, at most 4096) and says "reachable again". redis-py retries
nothing here (a retried SET NX could not tell its own earlier write from another gateway's).

Redis without its data (restarted with no persistence, flushed, failed over to an empty replica) has
forgotten the used tickets: every check and claim of the list is a Lua script that first compares
PREFIXike:epoch with the one the gateway knows, so no gateway reads a list other than the one it started
with. A gateway that finds another (or none) says so once, marks the new epoch with the time of the loss,
and refuses every resumption by value (TicketRejected("store-lost"): TICKET_NACK, a full exchange) for one
longest ticket lifetime + 60 s from then, by which time every ticket issued before the loss has expired; a
gateway started later reads the loss time from the epoch and refuses until the same time. (A loss that no
running gateway witnessed, every gateway restarted with Redis, is not seen: give Redis persistence,
``appendonly yes``, where a replay matters.) Tickets by reference need none of that: their states went with
the data (unknown-reference).

Imports of redis and threading are inside functions (marked cpython-only for tests/core/test_layers).
"""

import os
import time

from microticket.errors import TicketRejected
from microticket.ike import ticket as T
from microticket.fleet import redis_keys as RK

_SKEW = 60
_BACKOFF_MAX = 5.0
_PENDING_MAX = 4096
_DOWN = "store-unavailable"
_LOST = "store-lost"

# KEYS: epoch, used:TOKEN; ARGV: the epoch known, PX ms. -1: another list (or none); else 1 if claimed here
_CLAIM = ("if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end "
          "if redis.call('set', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return 1 end return 0")
# KEYS: epoch, used:TOKEN; ARGV: the epoch known. -1: another list (or none); else 1 if used
_USED = "if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end return redis.call('exists', KEYS[2])"


class Unavailable(Exception):
    """Redis cannot answer now (down, or said down and not back yet)."""


# what a kind of server says when its list is away or lost: the IKE gateways' (RedisRefs, RedisUsed), and the
# TLS servers' list of tickets whose 0-RTT early data was taken (microticket.fleet.redis_early)
_SAYS = {"ike": ("resumption refused (TICKET_NACK, full exchanges go on)", "resumption by value refused"),
         "tls": ("0-RTT early data refused (resumption goes on)", "0-RTT early data refused")}


class Shared:
    """The one Redis connection of a gateway's two stores (or of a TLS server's 0-RTT list: ``kind`` "tls",
    its keys under PREFIXtls:): up, or down since a failure (said once) and retried by a thread with
    backoff."""

    def __init__(self, url, period, out=None, timeout=0.5, clock=time.time, kind="ike"):
        import redis  # cpython-only
        from redis.retry import Retry  # cpython-only
        from redis.backoff import NoBackoff  # cpython-only
        import threading  # cpython-only
        self.url, opts, self.shown = RK.parse_url(url)
        self.kind = kind
        self.prefix = opts["prefix"] + kind + ":"
        self.k_epoch = self.prefix + "epoch"
        self.period = period  # the gateways' longest ticket lifetime
        self.clock = clock
        self.r = redis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                      retry=Retry(NoBackoff(), 0))
        self.errors = (redis.RedisError, OSError)
        self.out = out or RK._say
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.down = False
        self.pending = []  # (key, PX ms) SET NX or (key, None) DEL: revocations made while Redis was away
        self.stopped = False
        self.epoch = None      # the list's epoch known (bytes)
        self.lost_until = 0.0  # resumption by value refused until then (a list lost)
        self.claim = self.r.register_script(_CLAIM)
        self.used = self.r.register_script(_USED)

    def do(self, fn):
        """fn(redis client)'s answer; Unavailable at once while Redis is said to be down."""
        if self.down:
            raise Unavailable()
        try:
            if self.pending:
                self._flush()
            return fn(self.r)
        except self.errors as e:
            self._fail(e)
            raise Unavailable()

    def later(self, key, ms):
        """A write that must reach Redis (a revocation): replayed once Redis answers again."""
        with self.lock:
            if len(self.pending) < _PENDING_MAX:
                self.pending.append((key, ms))

    def _flush(self):
        while True:
            with self.lock:
                if not self.pending:
                    return
                key, ms = self.pending[0]
            if ms is None:
                self.r.delete(key)
            else:
                self.r.set(key, b"1", nx=True, px=ms)
            with self.lock:
                self.pending.pop(0)

    def _fail(self, e):
        with self.lock:
            if self.down:
                return
            self.down = True
        self.out("%s: %s unreachable (%s): %s, reconnecting" % (self.kind, self.shown, RK._short(e),
                                                               _SAYS[self.kind][0]))
        self.wake.set()

    def adopt(self):
        """Learn the list's epoch; a list other than the one known was lost: said once, and resumption by
        value refused until its tickets have expired (see the module's doc)."""
        r = self.r
        now = self.clock()
        v = r.get(self.k_epoch)
        lost = self.epoch is not None and v != self.epoch
        if lost and (v is None or v.endswith(b":0")):
            # the first to see the loss dates it (two at once: the one written last, within a second)
            r.set(self.k_epoch, ("%s:%d" % (os.urandom(8).hex(), now)).encode(), nx=v is None)
            v = r.get(self.k_epoch)
        elif v is None:  # a fleet's first list
            r.set(self.k_epoch, ("%s:0" % os.urandom(8).hex()).encode(), nx=True)
            v = r.get(self.k_epoch)
        self.epoch = v
        at = int(v.split(b":")[1])
        if at:
            self.lost_until = max(self.lost_until, at + self.period + _SKEW)
        if lost:
            self.out("%s: %s lost its one-time-use list (back without its data): %s for %d s"
                     % (self.kind, self.shown, _SAYS[self.kind][1], max(0, self.lost_until - now)))

    def check(self):
        """Connect now and learn the list's epoch (ValueError naming the URL, never its password, if Redis does
        not answer)."""
        try:
            self.r.ping()
            self.adopt()
        except self.errors as e:
            raise ValueError("%s: %s" % (self.shown, RK._short(e)))

    def run(self):
        backoff = 0.1
        while not self.stopped:
            if not self.down:
                self.wake.wait(1.0)
                self.wake.clear()
                backoff = 0.1
                continue
            time.sleep(backoff)
            try:
                self.r.ping()
                self.adopt()
                self._flush()
            except self.errors:
                backoff = min(_BACKOFF_MAX, backoff * 2)
                continue
            self.down = False
            self.out("%s: %s reachable again" % (self.kind, self.shown))

    def run_in_background(self):
        import threading  # cpython-only
        t = threading.Thread(target=self.run, name="microticket-%s-store" % self.kind, daemon=True)
        t.start()
        return t


class RedisRefs:
    """Tickets by reference (Appendix A.2) shared by the fleet: ticket.RefStore's put/get/remove."""

    def __init__(self, shared, ring, max_lifetime, rng=os.urandom, clock=time.time):
        self.s = shared
        self.ring = ring
        self.max_lifetime = max_lifetime
        self.rng = rng
        self.clock = clock

    def _key(self, ref):
        return self.s.prefix + "ref:" + bytes(ref).hex()

    def put(self, ref, state):
        blob = T.seal_value(self.ring, state, self.rng)
        ms = max(1000, int((state.expiration - self.clock() + _SKEW) * 1000))
        try:
            self.s.do(lambda r: r.set(self._key(ref), blob, px=ms))
        except Unavailable:
            raise TicketRejected(_DOWN)

    def get(self, ref):
        try:
            blob = self.s.do(lambda r: r.get(self._key(ref)))
        except Unavailable:
            raise TicketRejected(_DOWN)
        if blob is None:
            return None
        try:
            return T.open_value(self.ring, blob, self.clock(), self.max_lifetime)
        except TicketRejected:
            return None  # its key's window closed, or expired: as if gone

    def remove(self, ref):
        """True if this call removed the state (the claim of a by-reference ticket: DEL answers 1 once)."""
        key = self._key(ref)
        try:
            return self.s.do(lambda r: r.delete(key)) == 1
        except Unavailable:
            self.s.later(key, None)
            return False


class RedisUsed:
    """The fleet's one-time-use list: ticket.UsedTickets' ``add(token, now)`` and ``token in used``."""

    def __init__(self, shared):
        self.s = shared
        self.ms = int((shared.period + _SKEW) * 1000)

    def _ask(self, script, key, *args):
        """The script's answer on the list known, or None: another list (the loss said) or a loss's window."""
        s = self.s
        n = s.do(lambda r: script(keys=[s.k_epoch, key], args=[s.epoch] + list(args)))
        if n == -1:
            s.do(lambda r: s.adopt())
            return None
        return None if s.clock() < s.lost_until else n

    def add(self, token, now):
        """True if this call put ``token`` in the list (SET NX: one caller in the fleet gets True)."""
        key = self.s.prefix + "used:" + bytes(token).hex()
        try:
            return self._ask(self.s.claim, key, self.ms) == 1
        except Unavailable:
            self.s.later(key, self.ms)
            return False

    def __contains__(self, token):
        try:
            n = self._ask(self.s.used, self.s.prefix + "used:" + bytes(token).hex())
        except Unavailable:
            raise TicketRejected(_DOWN)
        if n is None:
            raise TicketRejected(_LOST)
        return n == 1


def stores(url, ring, max_lifetime, out=None):
    """(refs, used) for a gateway whose --keys is ``url``; ValueError if Redis does not answer now."""
    s = Shared(url, max_lifetime, out)
    s.check()
    s.run_in_background()
    return RedisRefs(s, ring, max_lifetime), RedisUsed(s)


def load(url, now, max_lifetime):
    """The gateway's (ring, refs, used): the fleet's keys (redis_keys.load) and the shared stores."""
    ring = RK.load(url, now)
    refs, used = stores(url, ring, max_lifetime)
    return ring, refs, used
