"""Ticket keys shared by a fleet of servers through Redis, rotated by one leader (CPython only).

    --keys redis://[USER:PASSWORD@]HOST:PORT/DB[?prefix=P&rotate=S&ahead=S&lifetime=S&lock-ttl=S&poll=S]

(``rediss://`` for TLS to Redis; any other query option is redis-py's own, e.g. ``ssl_ca_certs``.) Redis
holds, under the prefix (default ``microticket:``):

    PREFIXkeys     the fleet's key set, one JSON document written whole by the leader
    PREFIXleader   the rotation lock: "PID:random" set with SET NX PX lock-ttl, renewed every lock-ttl/3 by
                   its holder only (a Lua check of the token); another process takes it once it expires
    PREFIXevents   pub/sub channel: the document's version after each write (the write and the publish are
                   one Lua script that first checks the writer still holds the lock)

    {"format": "microticket-fleet-keys/1", "profile": "rfc5077", "lifetime": L, "rotate": R, "ahead": A,
     "version": N, "keys": [{"name": hex, "aes": hex, "hmac": hex, "created": unix s, "from": unix s}, ...]}

A key seals from its "from" time until the next key's "from"; it opens from the moment a server holds it
until ``lifetime`` seconds after it stopped sealing (every ticket it sealed has expired by then). The leader
adds a key ``ahead`` seconds before it starts sealing (every server can open with it before any seals with
it: pre-distribution), one key every ``rotate`` seconds, and drops keys whose window has closed. Promotion
is by the clock: each server switches to a key at its "from", with or without Redis (clocks must agree
within ``ahead`` minus the poll interval).

Each server keeps the document in memory only (never on its disk) and the KeyRing the engines use is
updated in place by a background thread: the thread swaps the ring's key list and windows under a lock that
the ring's seal and open also take (FleetRing), so an update falls between two ticket operations; the
ring's buffers (sized by profile and max_state, which never change) are left as they are. Servers pick up
changes on the channel, and poll every ``poll`` seconds in case a message was missed. Redis down: the
thread says so once (one line), the ring keeps sealing and opening with the keys held (and promotes the
pre-distributed key at its time), and the thread reconnects with backoff (0.1 s doubling to 5 s). A Redis
that comes back empty (restarted without persistence) is given back the document by the leader from memory.

Imports of redis, threading and urllib are inside functions (marked cpython-only for tests/core/test_layers).
"""

import json
import os
import sys
import time

from microticket.errors import DecodeError
from microticket.ticket import KeyRing, TicketKey, PROFILES, DEFAULT_LIFETIME

FORMAT = "microticket-fleet-keys/1"
DEFAULTS = {"prefix": "microticket:", "rotate": 43200.0, "ahead": 120.0, "lifetime": float(DEFAULT_LIFETIME),
            "lock-ttl": 10.0, "poll": 10.0}
_NEVER = 0xFFFFFFFF  # a ring "created" that keeps the next key's window open (see ring_view)
_BACKOFF_MAX = 5.0

# the lock: renewed, released and written through only by the token's holder
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_WRITE = ("if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('set', KEYS[2], ARGV[2]) "
          "redis.call('publish', KEYS[3], ARGV[3]) return 1 end return 0")


def is_url(s):
    return s.startswith("redis://") or s.startswith("rediss://")


def parse_url(url):
    """(redis-py URL, options {prefix, rotate, ahead, lifetime, lock-ttl, poll}, URL to print: no
    credentials). ValueError for a malformed one."""
    from urllib.parse import urlsplit, urlunsplit, parse_qsl, urlencode  # cpython-only
    u = urlsplit(url)
    if u.scheme not in ("redis", "rediss") or not u.hostname:
        raise ValueError("%s: not a redis://HOST:PORT/DB URL" % url)
    opts = dict(DEFAULTS)
    rest = []
    for k, v in parse_qsl(u.query, keep_blank_values=True):
        if k in opts:
            if k != "prefix":
                try:
                    v = float(v)
                except ValueError:
                    v = -1.0
                if not v > 0:
                    raise ValueError("%s: %s must be a positive number of seconds" % (url, k))
            opts[k] = v
        else:
            rest.append((k, v))
    if opts["ahead"] >= opts["rotate"]:
        raise ValueError("%s: ahead must be shorter than rotate" % url)
    shown = "%s://%s:%s%s" % (u.scheme, u.hostname, u.port or 6379, u.path or "/0")
    return urlunsplit((u.scheme, u.netloc, u.path, urlencode(rest), "")), opts, shown


# --- the document -----------------------------------------------------------------------------------------

def _hex(b):
    return "".join("%02x" % x for x in b)


def new_entry(now, start, profile, rng=os.urandom):
    return {"name": _hex(rng(16)), "aes": _hex(rng(16)), "hmac": _hex(rng(PROFILES[profile][2])),
            "created": int(now), "from": float(start)}


def new_doc(now, opts, profile="rfc5077"):
    """A fleet's first document: one key, sealing at once."""
    return {"format": FORMAT, "profile": profile, "lifetime": int(opts["lifetime"]), "rotate": opts["rotate"],
            "ahead": opts["ahead"], "version": 1, "keys": [new_entry(now, now, profile)]}


def check_doc(raw):
    """The document from Redis's bytes, its keys sorted newest first; DecodeError naming what is wrong."""
    try:
        doc = json.loads(raw)
    except ValueError:
        raise DecodeError("fleet keys: not JSON")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DecodeError("fleet keys: format is not " + FORMAT)
    if doc.get("profile") not in PROFILES:
        raise DecodeError("fleet keys: unknown profile")
    for f in ("lifetime", "rotate", "ahead"):
        if not isinstance(doc.get(f), (int, float)) or isinstance(doc.get(f), bool) or not doc[f] > 0:
            raise DecodeError("fleet keys: %s must be a positive number" % f)
    keys = doc.get("keys")
    if not isinstance(keys, list) or not keys:
        raise DecodeError("fleet keys: no keys")
    hmac_len = PROFILES[doc["profile"]][2]
    for e in keys:
        if not isinstance(e, dict) or not isinstance(e.get("from"), (int, float)) or \
                not isinstance(e.get("created"), int):
            raise DecodeError("fleet keys: a key without from/created times")
        for f, n in (("name", 16), ("aes", 16), ("hmac", hmac_len)):
            try:
                ok = len(bytes.fromhex(e.get(f))) == n
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise DecodeError("fleet keys: %s must be %d bytes of hex" % (f, n))
    keys.sort(key=lambda e: -e["from"])
    return doc


def ring_view(doc, now):
    """[(entry, ring created)] for a KeyRing at ``now``: the sealing key (the newest whose "from" has come;
    the oldest if none has), then the pre-distributed keys, then older keys whose window is open.

    KeyRing opens key i while now <= keys[i-1].created + lifetime ("key i sealed until key i-1 was made").
    The "created" each key gets in the ring says when the key after it in the ring stopped sealing: the
    pre-distributed keys follow the sealing key and have never sealed (_NEVER: their windows stay open), the
    first older key stopped when the sealing key started, each older key when the one before it started."""
    keys = doc["keys"]  # newest first (check_doc)
    lifetime = doc["lifetime"]
    s = 0
    while s < len(keys) - 1 and keys[s]["from"] > now:
        s += 1
    pending = keys[:s]
    out = [keys[s]] + pending[::-1]
    for j in range(s + 1, len(keys)):
        if now > keys[j - 1]["from"] + lifetime:  # it stopped sealing at keys[j-1]'s "from"
            break
        out.append(keys[j])
    view = []
    for i in range(len(out)):
        if i < len(pending):
            created = _NEVER
        else:  # the first older key stopped when the sealing key began, each older one when its successor did
            created = int(-(-out[0 if i == len(pending) else i]["from"] // 1))  # ceil: never cut a window short
        view.append((out[i], created))
    return view


def leader_update(doc, now, force=False):
    """The leader's changes to ``doc`` at ``now`` (in place): a key added ``ahead`` seconds before it is to
    seal (one every ``rotate`` seconds; ``force``: now, as `keys rotate` asks, unless one is pending), keys
    whose window has closed dropped. True if anything changed."""
    keys = doc["keys"]
    changed = False
    newest = keys[0]
    if newest["from"] <= now and (force or now >= newest["from"] + doc["rotate"] - doc["ahead"]):
        start = now + doc["ahead"] if force else max(now + doc["ahead"], newest["from"] + doc["rotate"])
        keys.insert(0, new_entry(now, start, doc["profile"]))
        changed = True
    keep = [e for e, _ in ring_view(doc, now)]
    if len(keep) < len(keys):
        doc["keys"] = [e for e in keys if e in keep]
        changed = True
    if changed:
        doc["version"] = doc.get("version", 0) + 1
    return changed


# --- the ring the engines use ---------------------------------------------------------------------------------

class FleetRing(KeyRing):
    """A KeyRing whose keys a KeySync thread replaces between two ticket operations: seal and open hold the
    lock that the update holds (an open reads the key list twice; a seal's key must stay the one it
    started with)."""

    def __init__(self, keys, profile, lifetime, **kw):
        import threading  # cpython-only
        KeyRing.__init__(self, keys, profile, lifetime, **kw)
        self.lock = threading.Lock()

    def seal(self, state, now, created=None):
        with self.lock:
            return KeyRing.seal(self, state, now, created)

    def open_into(self, ticket, now):
        with self.lock:
            return KeyRing.open_into(self, ticket, now)

    def find_key(self, name, now):
        with self.lock:
            return KeyRing.find_key(self, name, now)


# --- the thread that keeps a ring in step with Redis, and leads the rotation when it holds the lock ----------

class KeySync:
    def __init__(self, url, out=None, clock=time.time):
        self.url, self.opts, self.shown = parse_url(url)
        p = self.opts["prefix"]
        self.k_keys, self.k_lock, self.channel, self.k_rotate = p + "keys", p + "leader", p + "events", p + "rotate"
        self.token = "%d:%s" % (os.getpid(), _hex(os.urandom(8)))
        self.ttl = self.opts["lock-ttl"]
        self.out = out or _say
        self.clock = clock
        self.r = self.ps = None
        self.doc = None       # the last document seen (memory only)
        self.ring = None
        self.leader = False
        self.down = False     # an outage already said
        self.stopped = False
        self._cache = {}      # key name -> TicketKey (its cipher objects live as long as the key)
        self._next_lock = self._next_poll = 0.0
        self._dirty = True
        self._sealing = None
        self._profile_said = False

    # Redis --------------------------------------------------------------------------------------------------

    def connect(self):
        import redis  # cpython-only
        t = max(0.5, min(2.0, self.ttl / 2))
        self.r = redis.Redis.from_url(self.url, socket_timeout=t, socket_connect_timeout=t)
        self.r.ping()
        self.ps = self.r.pubsub(ignore_subscribe_messages=True)
        self.ps.subscribe(self.channel)
        self._dirty = True

    def disconnect(self):
        for c in (self.ps, self.r):
            try:
                if c is not None:
                    c.close()
            except Exception:  # a connection already broken: nothing to close cleanly
                pass
        self.r = self.ps = None
        self.leader = False

    def lock_tick(self, now):
        """Renew or take the rotation lock; as leader, keep the document rotated."""
        ms = int(self.ttl * 1000)
        if self.leader and not self.r.eval(_RENEW, 1, self.k_lock, self.token, ms):
            self.leader = False
            self.out("keys: no longer the rotation leader")
        if not self.leader and self.r.set(self.k_lock, self.token, nx=True, px=ms):
            self.leader = True
            self.out("keys: rotation leader (pid %d)" % os.getpid())
        self._next_lock = now + self.ttl / (3 if self.leader else 6)
        if self.leader:
            self.lead(now)

    def lead(self, now):
        raw = self.r.get(self.k_keys)
        doc = None
        if raw is not None:
            try:
                doc = check_doc(raw)
            except DecodeError as e:
                self.out("keys: %s%s in Redis: %s: replaced" % (self.shown + "/", self.k_keys, e))
        changed = False
        force = bool(self.r.delete(self.k_rotate))  # `keys rotate` asked for a key now
        if doc is None:
            # a fresh Redis, or one restarted without its data: the keys held in memory go back (no ticket
            # sealed under them is lost), or the fleet's first key
            doc = self.doc or new_doc(now, self.opts)
            changed = True
        if leader_update(doc, now, force):
            changed = True
            self.out("keys: key %s added, seals from %+.1f s" % (doc["keys"][0]["name"][:8],
                                                                doc["keys"][0]["from"] - now))
        if changed:
            if not self.r.eval(_WRITE, 3, self.k_lock, self.k_keys, self.channel, self.token, json.dumps(doc),
                               str(doc["version"])):
                self.leader = False
                self.out("keys: no longer the rotation leader")
                return
            self.doc = doc
            self._dirty = True

    def fetch(self, now):
        raw = self.r.get(self.k_keys)
        self._next_poll = now + self.opts["poll"]
        self._dirty = False
        if raw is None:
            return  # nothing there (yet, or Redis lost it): the keys held stay
        try:
            doc = check_doc(raw)
        except DecodeError as e:
            self.out("keys: %s: ignored, keeping the keys held" % e)
            return
        self.doc = doc

    def release(self):
        try:
            if self.r is not None and self.leader:
                self.r.eval(_RELEASE, 1, self.k_lock, self.token)
        except Exception:  # Redis gone: the lock expires by itself
            pass

    # the ring ---------------------------------------------------------------------------------------------

    def make_ring(self, now, **kw):
        doc = self.doc
        keys = []
        for e, created in ring_view(doc, now):
            keys.append(self._key(e, created, doc["profile"]))
        self.ring = FleetRing(keys, doc["profile"], int(doc["lifetime"]), **kw)
        self._sealing = keys[0].name
        return self.ring

    def _key(self, e, created, profile):
        name = bytes.fromhex(e["name"])
        k = self._cache.get(name)
        if k is None:
            k = TicketKey(name, bytes.fromhex(e["aes"]), bytes.fromhex(e["hmac"]), created, PROFILES[profile][0])
            self._cache[name] = k
        return k

    def apply(self, now):
        """Bring the ring in step with the document at ``now`` (between two ticket operations)."""
        doc, ring = self.doc, self.ring
        if doc is None or ring is None:
            return
        if doc["profile"] != ring.profile:  # the ring's buffers and MAC length are the profile's: no switch
            if not self._profile_said:
                self._profile_said = True
                self.out("keys: the fleet's profile is now %s; this server keeps %s: restart it" %
                         (doc["profile"], ring.profile))
            return
        view = ring_view(doc, now)
        keys = [self._key(e, c, doc["profile"]) for e, c in view]
        with ring.lock:
            for (_, c), k in zip(view, keys):
                k.created = c
            ring.keys = keys
            ring.lifetime = int(doc["lifetime"])
        names = set(k.name for k in keys)
        for n in [n for n in self._cache if n not in names]:
            del self._cache[n]
        if keys[0].name != self._sealing:
            self._sealing = keys[0].name
            self.out("keys: sealing with %s (%d keys)" % (_hex(keys[0].name)[:8], len(keys)))

    def next_change(self, now):
        """When the ring view changes next without any new document: a promotion or a window closing."""
        doc = self.doc
        t = now + 3600
        if doc is not None:
            for e in doc["keys"]:
                for at in (e["from"], e["from"] + doc["lifetime"]):
                    if now < at < t:
                        t = at
        return t

    # start and run --------------------------------------------------------------------------------------------

    def start(self, now, wait=None):
        """Connect, take the lock if free (a first leader makes the fleet's first key), read the document;
        waits up to ``wait`` seconds (default 3 lock TTLs) for a leader to write one. ValueError if Redis
        cannot be reached or holds no document."""
        import redis  # cpython-only
        end = now + (3 * self.ttl if wait is None else wait)
        try:
            self.connect()
            while True:
                now = self.clock()
                self.lock_tick(now)
                self.fetch(now)
                if self.doc is not None or now >= end:
                    break
                time.sleep(min(0.2, self.ttl / 6))
        except (redis.RedisError, OSError) as e:
            self.disconnect()
            raise ValueError("%s: %s" % (self.shown, e))
        if self.doc is None:
            self.disconnect()
            raise ValueError("%s: no keys under %skeys and no leader wrote any" % (self.shown, self.opts["prefix"]))

    def run(self):
        import redis  # cpython-only
        backoff = 0.1
        while not self.stopped:
            now = self.clock()
            try:
                if self.r is None:
                    self.connect()
                if now >= self._next_lock:
                    self.lock_tick(now)
                if self._dirty or now >= self._next_poll:
                    self.fetch(now)
                if self.down:
                    self.down = False
                    self.out("keys: %s reachable again" % self.shown)
                backoff = 0.1
                self.apply(self.clock())
                now = self.clock()
                wait = min(self._next_lock, self._next_poll, self.next_change(now)) - now
                m = self.ps.get_message(timeout=max(0.01, wait))
                if m is not None and m.get("type") == "message":
                    self._dirty = True
            except (redis.RedisError, OSError) as e:
                if not self.down:
                    self.down = True
                    n = len(self.ring.keys) if self.ring is not None else 0
                    self.out("keys: %s unreachable (%s): sealing and opening with the %d keys held, reconnecting"
                             % (self.shown, _short(e), n))
                self.disconnect()
                end = self.clock() + backoff
                while not self.stopped and self.clock() < end:  # promotions go on while Redis is away
                    self.apply(self.clock())
                    time.sleep(max(0.0, min(end, self.next_change(self.clock())) - self.clock()))
                backoff = min(_BACKOFF_MAX, backoff * 2)

    def run_in_background(self):
        import threading  # cpython-only
        t = threading.Thread(target=self.run, name="microticket-keys", daemon=True)
        t.start()
        return t


def _short(e):
    s = str(e).split("\n")[0]
    return s[:120] or type(e).__name__


def _say(line):
    # one write per line: the server's own "connection N:" lines come from another thread
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def load(url, now, **kw):
    """The ring of a server whose --keys is a redis:// URL: read (or, as the first leader, made) from Redis,
    then kept in step by a background thread. ``kw`` as for KeyRing (rng, max_state...)."""
    sync = KeySync(url)
    sync.start(now)
    ring = sync.make_ring(time.time(), **kw)
    sync.run_in_background()
    return ring


# --- `keys new|rotate|show redis://...` ------------------------------------------------------------------------

def main(action, url, o, now):
    """The keys command for a redis:// URL (microticket.cli.keys): ``o`` its options (profile, lifetime for
    new). new: the fleet's first key, unless Redis holds keys under the prefix already; rotate: a new key
    ``ahead`` seconds from now, by the leader when one runs (asked through PREFIXrotate), else here under
    the lock; show: the keys' names, times and roles, and the leader, never a secret. Exit status."""
    import redis  # cpython-only
    try:
        sync = KeySync(url)
    except ValueError as e:
        return _fail(e)
    try:
        sync.connect()
        r = sync.r
        raw = r.get(sync.k_keys)
        doc = check_doc(raw) if raw is not None else None
        if action == "new":
            if doc is not None:
                return _fail("%s: holds keys under %skeys already (keys rotate, or another prefix)" %
                             (sync.shown, sync.opts["prefix"]))
            opts = dict(sync.opts)
            opts["lifetime"] = o.get("lifetime", opts["lifetime"])
            doc = new_doc(now, opts, o.get("profile", "rfc5077"))
            if not _under_lock(sync, doc):
                return _fail("%s: a rotation leader holds %s: it made the keys" % (sync.shown, sync.k_lock))
        elif doc is None:
            return _fail("%s: no keys under %skeys (keys new)" % (sync.shown, sync.opts["prefix"]))
        elif action == "rotate":
            v = doc["version"]
            if not _under_lock(sync, doc, now):
                # a leader runs: it rotates at its next renewal (every third of its lock's TTL)
                r.set(sync.k_rotate, "1", px=int(sync.ttl * 3000))
                end = time.time() + 2 * sync.ttl
                while time.time() < end and doc["version"] == v:
                    time.sleep(0.05)
                    doc = check_doc(r.get(sync.k_keys))
                if doc["version"] == v:
                    return _fail("%s: the leader did not rotate within %.0f s" % (sync.shown, 2 * sync.ttl))
        leader = r.get(sync.k_lock)
    except (redis.RedisError, OSError) as e:
        return _fail("%s: %s" % (sync.shown, _short(e)))
    except DecodeError as e:
        return _fail("%s: %s" % (sync.shown, e))
    finally:
        sync.disconnect()
    _show(sync, doc, now, leader)
    return 0


def _under_lock(sync, doc, now=None):
    """Write ``doc`` (with ``now``: rotated first) holding the lock for the moment; False if a leader holds it."""
    r = sync.r
    if not r.set(sync.k_lock, sync.token, nx=True, px=int(sync.ttl * 1000)):
        return False
    sync.leader = True
    if now is None or leader_update(doc, now, True):
        r.eval(_WRITE, 3, sync.k_lock, sync.k_keys, sync.channel, sync.token, json.dumps(doc), str(doc["version"]))
    sync.release()
    return True


def _fail(reason):
    sys.stderr.write("error: %s\n" % reason)
    return 1


def _show(sync, doc, now, leader):
    print("fleet keys %s prefix \"%s\": profile %s, lifetime %d s, rotate %g s, ahead %g s, %d key(s), "
          "leader %s" % (sync.shown, sync.opts["prefix"], doc["profile"], doc["lifetime"], doc["rotate"],
                         doc["ahead"], len(doc["keys"]), "pid " + leader.decode().split(":")[0] if leader else "none"))
    opening = set(e["name"] for e, _ in ring_view(doc, now))
    sealing = ring_view(doc, now)[0][0]["name"]
    for e in doc["keys"]:
        if e["name"] == sealing:
            role = "seals+opens"
        elif e["from"] > now:
            role = "opens, seals in %.0f s" % (e["from"] - now)
        else:
            role = "opens" if e["name"] in opening else "expired"
        print("  %s  age %7d s  %s" % (e["name"], now - e["created"], role))
