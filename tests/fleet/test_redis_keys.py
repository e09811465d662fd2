"""Ticket keys shared through a real Redis (microticket.fleet.redis_keys): the rotation windows computed from the
fleet's document, the ring updated in place, and three CPython `tls-server` processes on one redis-server
(started for this module on a free loopback port with a private config, no persistence, stopped by PID): a
client resumes on a process other than the one that issued its ticket; rotations by the leader while a
client keeps resuming fail no resumption; a killed leader is replaced within the lock's TTL; Redis stopped
and restarted mid-run fails no handshake."""

import os
import re
import signal
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from tlspeers import Peer, PortInUse, start_our_server, run_our_client, parse_client_output  # noqa: E402
from procs import on_free_port  # noqa: E402 (tools/, on the path through tlspeers)

redis = pytest.importorskip("redis")

from microticket.fleet import redis_keys as RK  # noqa: E402
from microticket.ticket import KeyRing  # noqa: E402
from microticket.errors import TicketRejected  # noqa: E402

from redispeers import redis_cmd as _redis_cmd, start_redis as _start_redis  # noqa: E402 (the fixture rds: conftest.py)

PSK = "00112233445566778899aabbccddeeff"
TTL = 1.5  # the lock's TTL in these tests (seconds)


def _client(rds):
    return redis.Redis(host="127.0.0.1", port=rds["peer"].port, socket_timeout=2)


def _url(rds, prefix, **kw):
    q = {"prefix": prefix, "rotate": 60, "ahead": 1, "lifetime": 60, "lock-ttl": TTL, "poll": 1}
    q.update(kw)
    return "redis://127.0.0.1:%d/0?%s" % (rds["peer"].port, "&".join("%s=%s" % kv for kv in q.items()))


def _servers(url, n=3):
    out = []
    try:
        for _ in range(n):
            out.append(start_our_server(["--psk", PSK, "--keys", url]))
    except Exception:
        for s in out:
            s.stop()
        raise
    return out


def _resume(port, cache, version="1.3"):
    r = run_our_client(port, ["--psk", PSK, "--cache", cache, "--server-name", "fleet", "--send", "hi",
                              "--max-version", version, "--timeout", "5"])
    o = parse_client_output(r.stdout)
    return o, r


def _leader_pid(rds, prefix):
    v = _client(rds).get(prefix + "leader")
    return int(v.split(b":")[0]) if v else None


# --- the windows, without Redis ---------------------------------------------------------------------------

def _doc(froms, lifetime=100):
    keys = [RK.new_entry(0, f, "rfc5077") for f in froms]
    keys.sort(key=lambda e: -e["from"])
    return {"format": RK.FORMAT, "profile": "rfc5077", "lifetime": lifetime, "rotate": 50, "ahead": 5,
            "version": 1, "keys": keys}


def _ring(doc, now):
    s = RK.KeySync("redis://127.0.0.1:1/0")
    s.doc = doc
    return s, s.make_ring(now)


def test_ring_view_windows():
    doc = _doc([1000, 1050, 1105])  # the newest is pre-distributed until 1105
    names = [e["name"] for e in doc["keys"]]  # newest first
    view = RK.ring_view(doc, 1100)
    assert [e["name"] for e, _ in view] == [names[1], names[0], names[2]]  # sealing, pending, older
    assert view[0][1] == RK._NEVER  # the pending key's window stays open
    assert view[1][1] == 1050 and view[2][1] == 1000  # when the key after it stopped sealing
    # at 1105 the pending key seals; the oldest stopped at 1050 and closes at 1150
    assert [e["name"] for e, _ in RK.ring_view(doc, 1105)] == names
    assert [e["name"] for e, _ in RK.ring_view(doc, 1151)] == names[:2]
    assert [e["name"] for e, _ in RK.ring_view(doc, 1206)] == names[:1]  # the sealing key is never dropped


def test_pending_key_opens_before_it_seals_and_the_ring_keeps_its_buffers():
    doc = _doc([1000, 1105])
    sync, ring = _ring(doc, 1100)
    work, plain = ring._work, ring._plain
    old = ring.seal(b"s" * 40, 1100)
    # a ticket sealed by a server that already promoted the pending key (its clock ahead) opens here
    e = doc["keys"][0]
    early = KeyRing([(bytes.fromhex(e["name"]), bytes.fromhex(e["aes"]), bytes.fromhex(e["hmac"]), 1105)],
                    lifetime=100)
    t = early.seal(b"p" * 40, 1101)
    assert ring.open(t, 1101) == b"p" * 40 and ring.should_renew  # opened, not by the sealing key
    sync.apply(1105)  # promoted: the new key seals, the old one opens until 1205
    assert ring.keys[0].name == bytes.fromhex(e["name"]) and ring._work is work and ring._plain is plain
    assert ring.open(old, 1106) == b"s" * 40 and ring.should_renew
    assert ring.open(ring.seal(b"n", 1106), 1106) == b"n" and not ring.should_renew
    sync.apply(1206)  # its window closed: gone from the ring
    assert len(ring.keys) == 1
    with pytest.raises(TicketRejected) as e:
        ring.open(old, 1206)
    assert str(e.value) == "unknown-key"


def test_leader_adds_ahead_and_retires():
    doc = _doc([1000], lifetime=100)
    assert not RK.leader_update(doc, 1040)  # rotate 50, ahead 5: nothing before 1045
    assert RK.leader_update(doc, 1046)
    assert len(doc["keys"]) == 2 and doc["keys"][0]["from"] == 1051 and doc["version"] == 2
    assert not RK.leader_update(doc, 1050)  # one key ahead at a time
    RK.leader_update(doc, 1096)  # the next one, from 1101
    assert [e["from"] for e in doc["keys"]] == [1101, 1051, 1000]
    RK.leader_update(doc, 1146)  # the third, from 1151
    assert [e["from"] for e in doc["keys"]] == [1151, 1101, 1051, 1000]
    RK.leader_update(doc, 1152)  # 1000 stopped at 1051: closed at 1151
    assert [e["from"] for e in doc["keys"]] == [1151, 1101, 1051]
    # a leader late (it took over after the time to add): still "ahead" seconds before the key seals
    RK.leader_update(doc, 1210)
    assert [e["from"] for e in doc["keys"]] == [1215, 1151, 1101]


def test_url_options_and_errors():
    url, opts, shown = RK.parse_url("redis://u:secret@127.0.0.1:6390/2?prefix=a:&rotate=10&ahead=2&db_x=1")
    assert opts["prefix"] == "a:" and opts["rotate"] == 10 and opts["ahead"] == 2
    assert "secret" not in shown and shown == "redis://127.0.0.1:6390/2" and "db_x=1" in url
    for bad in ("redis://h:1/0?rotate=0", "redis://h:1/0?ahead=10&rotate=5", "http://h/0", "redis:///0"):
        with pytest.raises(ValueError):
            RK.parse_url(bad)


# --- three servers on one Redis -------------------------------------------------------------------------------

def test_resumes_on_another_process(rds, tmp_path):
    servers = _servers(_url(rds, "t1:"))
    try:
        cache = str(tmp_path / "c.json")
        o, r = _resume(servers[0].port, cache)
        assert o.get("resumed") == "no" and o.get("ticket") == "yes", r.stdout + r.stderr
        for s in servers[1:] + servers[:1]:  # the ticket of one process resumes at every other
            o, r = _resume(s.port, cache)
            assert o.get("resumed") == "yes", r.stdout + r.stderr
        cache12 = str(tmp_path / "c12.json")
        assert _resume(servers[2].port, cache12, "1.2")[0].get("resumed") == "no"
        assert _resume(servers[1].port, cache12, "1.2")[0].get("resumed") == "yes"
        assert len(set(_leader_pid(rds, "t1:") for _ in range(2))) == 1
    finally:
        logs = [s.stop() for s in servers]
    assert "resumed: from a ticket" in logs[1] and "resumed: from a ticket" in logs[2]
    assert sum("rotation leader" in x for x in logs) == 1, logs


def _resume_loop(servers, caches, seconds, failures, log):
    """Round robin over ``servers`` for ``seconds``, each client cache in turn; every handshake after a cache's
    first must resume."""
    end = time.time() + seconds
    i = 0
    while time.time() < end:
        for name, (cache, version) in caches.items():
            port = servers[i % len(servers)].port
            i += 1
            o, r = _resume(port, cache, version)
            first = not log.get(name)
            log.setdefault(name, []).append(o.get("resumed"))
            if o.get("resumed") != ("no" if first else "yes"):
                failures.append("%s at %d: %s%s" % (name, port, r.stdout, r.stderr))


def test_rotation_by_the_leader_while_clients_resume(rds, tmp_path):
    servers = _servers(_url(rds, "t2:", rotate=2, ahead=0.8, lifetime=30))
    try:
        failures, log = [], {}
        caches = {"tls13": (str(tmp_path / "a.json"), "1.3"), "tls12": (str(tmp_path / "b.json"), "1.2")}
        _resume_loop(servers, caches, 7.0, failures, log)
    finally:
        logs = [s.stop() for s in servers]
    assert not failures, failures
    assert len(log["tls13"]) >= 10, log
    print("%d handshakes, %d resumed, none failed" % (sum(map(len, log.values())),
                                                      sum(x.count("yes") for x in log.values())))
    for x in logs:  # every server promoted at least 3 keys in the run
        assert len(set(re.findall(r"sealing with (\w+)", x))) >= 3, x


def test_leader_killed_another_takes_over_within_the_lock_ttl(rds, tmp_path):
    servers = _servers(_url(rds, "t3:", rotate=2, ahead=0.8, lifetime=30))
    try:
        pid = _leader_pid(rds, "t3:")
        leader = [s for s in servers if s.pid == pid]
        assert len(leader) == 1, (pid, [s.pid for s in servers])
        os.kill(pid, signal.SIGKILL)
        killed = time.time()
        leader[0].proc.wait(5)
        new = None
        while time.time() < killed + 3 * TTL:
            new = _leader_pid(rds, "t3:")
            if new not in (None, pid):
                break
            time.sleep(0.02)
        took = time.time() - killed
        rest = [s for s in servers if s.pid != pid]
        assert new in [s.pid for s in rest], new
        # the lock expires at most TTL after the leader's last renewal (before the kill); a follower tries it
        # every TTL/6
        assert took <= TTL + TTL / 6 + 0.3, took
        # the new leader rotates: a key added after the takeover, and clients keep resuming at the survivors
        before = _client(rds).get("t3:keys")
        failures, log = [], {}
        _resume_loop(rest, {"c": (str(tmp_path / "k.json"), "1.3")}, 3.0, failures, log)
        assert not failures, failures
        assert _client(rds).get("t3:keys") != before
    finally:
        logs = [s.stop() for s in servers]
    print("takeover after %.2f s" % took)
    assert any("rotation leader" in logs[i] for i in range(3) if servers[i].pid != pid)


def test_redis_stopped_and_restarted_no_failed_handshake(rds, tmp_path):
    prefix = "t4:"
    servers = _servers(_url(rds, prefix, rotate=2, ahead=0.8, lifetime=30))
    try:
        failures, log = [], {}
        caches = {"tls13": (str(tmp_path / "a.json"), "1.3"), "tls12": (str(tmp_path / "b.json"), "1.2")}
        _resume_loop(servers, caches, 1.5, failures, log)
        names = set(e["name"] for e in RK.check_doc(_client(rds).get(prefix + "keys"))["keys"])
        port = rds["peer"].port
        rds["peer"].stop()  # by PID
        _resume_loop(servers, caches, 3.0, failures, log)  # a promotion falls in here, Redis away
        for _ in range(20):  # the same port again (another process may take it meanwhile: then give up)
            try:
                rds["peer"] = _start_redis(rds["dir"], port)
                break
            except PortInUse:
                time.sleep(0.2)
        _resume_loop(servers, caches, 3.0, failures, log)
        # given back by the leader from memory once it reconnects (its backoff doubles up to 5 s: a loaded
        # machine may take that long; bounded wait)
        deadline = time.time() + 15
        raw = _client(rds).get(prefix + "keys")
        while raw is None and time.time() < deadline:
            time.sleep(0.2)
            raw = _client(rds).get(prefix + "keys")
        doc = RK.check_doc(raw)
        while time.time() < deadline and not all("reachable again" in x.output() for x in servers):
            time.sleep(0.2)  # every server back (each on its own backoff)
    finally:
        logs = [s.stop() for s in servers]
    assert not failures, failures
    assert names & set(e["name"] for e in doc["keys"]), "the keys held went back into the empty Redis"
    for x in logs:
        assert x.count("unreachable") == 1, x  # said once
        assert "reachable again" in x, x


# --- keys new|rotate|show on a redis:// URL ---------------------------------------------------------------------

def _keys(*args):
    from tlspeers import our_cmd, our_env
    import subprocess
    return subprocess.run(our_cmd("cpython", "keys", list(args)), capture_output=True, text=True, timeout=30,
                          env=our_env("cpython"))


def test_keys_command_new_rotate_show(rds):
    url = _url(rds, "k1:", ahead=30)
    r = _keys("show", url)
    assert r.returncode == 1 and "no keys under k1:keys" in r.stderr
    r = _keys("new", url, "--lifetime", "600")
    assert r.returncode == 0, r.stderr
    assert "lifetime 600 s" in r.stdout and "1 key(s), leader none" in r.stdout and "seals+opens" in r.stdout
    assert _keys("new", url).returncode == 1  # never over a fleet's keys
    r = _keys("rotate", url)  # no leader runs: done here, under the lock
    assert r.returncode == 0, r.stderr
    assert "2 key(s)" in r.stdout and re.search(r"opens, seals in (29|30) s", r.stdout), r.stdout
    assert _client(rds).get("k1:leader") is None  # released
    doc = RK.check_doc(_client(rds).get("k1:keys"))
    assert all(len(e["aes"]) == 32 for e in doc["keys"]) and doc["keys"][0]["aes"] not in r.stdout  # no secret shown


def test_keys_rotate_asks_the_running_leader(rds):
    url = _url(rds, "k2:")
    srv = start_our_server(["--psk", PSK, "--keys", url])
    try:
        before = RK.check_doc(_client(rds).get("k2:keys"))
        r = _keys("rotate", url)
        assert r.returncode == 0, r.stderr
        assert "leader pid %d" % srv.pid in r.stdout and "opens, seals in" in r.stdout, r.stdout
        after = RK.check_doc(_client(rds).get("k2:keys"))
        assert len(after["keys"]) == len(before["keys"]) + 1
    finally:
        log = srv.stop()
    assert "key %s added" % after["keys"][0]["name"][:8] in log


def test_redis_password_and_refusals(tmp_path):
    """AUTH through the URL (redis://:PASS@ or USER:PASS@), a wrong password and an unreachable Redis: one
    error line at start, exit 1, the password never printed."""
    d = str(tmp_path)
    peer = on_free_port(lambda p: Peer(_redis_cmd(p, d) + ["--requirepass", "s3cret-pw"], port=p))
    try:
        good = "redis://:s3cret-pw@127.0.0.1:%d/1?prefix=a:&lock-ttl=1" % peer.port
        srv = start_our_server(["--psk", PSK, "--keys", good])
        try:
            o, r = _resume(srv.port, str(tmp_path / "c.json"))
            assert o.get("resumed") == "no" and o.get("ticket") == "yes", r.stdout + r.stderr
        finally:
            log = srv.stop()
        assert "rotation leader" in log and "s3cret" not in log
        from tlspeers import our_cmd, our_env
        import subprocess
        for url in ("redis://:wrong-pw@127.0.0.1:%d/1?lock-ttl=1" % peer.port,
                    "redis://u:wrong-pw@127.0.0.1:%d/1?lock-ttl=1" % peer.port):
            r = subprocess.run(our_cmd("cpython", "tls-server", ["--port", "0", "--psk", PSK, "--keys", url]),
                               capture_output=True, text=True, timeout=30, env=our_env("cpython"))
            assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
            assert r.stderr.startswith("error: redis://127"), r.stderr
            assert "wrong-pw" not in r.stderr
    finally:
        peer.stop()
    r = subprocess.run(our_cmd("cpython", "tls-server", ["--port", "0", "--psk", PSK, "--keys", good]),
                       capture_output=True, text=True, timeout=30, env=our_env("cpython"))
    assert r.returncode == 1 and r.stderr.startswith("error: redis://127.0.0.1") and "s3cret" not in r.stderr
