"""IKE gateways sharing RFC 5723 state through a real Redis (microticket.fleet.redis_ike): tickets by reference
and the one-time-use list in Redis, the claim of a ticket one atomic step (SET NX / DEL), in process with the
sans-IO gateway and then as three CPython `ike-gateway` processes on one redis-server: a ticket issued at A
resumes at B (by value and by reference), the same ticket replayed at C gets TICKET_NACK; Redis stopped and
restarted without its data: resumption refused (TICKET_NACK, a full exchange), no ticket accepted twice; the
board initiator (MicroPython), its store keyed by --remote-id, resumes at another gateway than the issuer."""

import os
import shutil
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import ikepeers  # noqa: E402
from ikepeers import pump  # noqa: E402
from redispeers import start_redis  # noqa: E402 (the fixture rds: conftest.py)
from procs import PortInUse  # noqa: E402

redis = pytest.importorskip("redis")

from microticket.fleet import redis_ike as RI  # noqa: E402
from microticket.ike import gateway as G  # noqa: E402
from microticket.ike import initiator as I  # noqa: E402
from microticket.ike import ticket as T  # noqa: E402
from microticket.ike.ticketstore import TicketStore  # noqa: E402
from microticket.ticket import KeyRing  # noqa: E402

from consts import IKE_PSK as PSK  # noqa: E402

LIFE = 3600


def _url(port, prefix):
    return "redis://127.0.0.1:%d/0?prefix=%s&lock-ttl=1.5&poll=1" % (port, prefix)


def _client(rds):
    return redis.Redis(host="127.0.0.1", port=rds["peer"].port, socket_timeout=2)


def _shared(rds, prefix, lines=None):
    s = RI.Shared(_url(rds["peer"].port, prefix), LIFE, out=(lines.append if lines is not None else None))
    s.check()
    return s


# --- the stores, in process ---------------------------------------------------------------------------------

def test_claim_is_one_atomic_step_across_connections(rds):
    """Four connections (as four gateways) race to claim the same 40 tokens: each token claimed exactly once."""
    used = [RI.RedisUsed(_shared(rds, "u1:")) for _ in range(4)]
    tokens = [os.urandom(32) for _ in range(40)]
    wins = []
    go = threading.Event()

    def claim(u):
        go.wait()
        for t in tokens:
            if u.add(t, 0):
                wins.append(t)

    threads = [threading.Thread(target=claim, args=(u,)) for u in used]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    assert sorted(wins) == sorted(tokens)  # every token once, none twice
    assert all(t in u for t in tokens for u in used)
    ttl = _client(rds).pttl(("u1:ike:used:" + tokens[0].hex()).encode())
    assert (LIFE + 60) * 1000 - 5000 < ttl <= (LIFE + 60) * 1000  # kept until its ticket has expired


def test_references_shared_sealed_and_expiring_with_the_ticket(rds):
    ring = KeyRing.generate(int(time.time()))
    a, b = (RI.RedisRefs(_shared(rds, "r1:"), ring, LIFE) for _ in range(2))
    now = int(time.time())
    st = T.TicketState(b"\x02\x00\x00\x00c", b"\x02\x00\x00\x00g", b"i" * 8, b"r" * 8, b"s" * 40, b"K" * 32, 2,
                       now + 600, now)
    ref = os.urandom(16)
    a.put(ref, st)
    got = b.get(ref)
    assert got is not None and got.encode() == st.encode()  # put at one gateway, read at another
    raw = _client(rds).get(("r1:ike:ref:" + ref.hex()).encode())
    assert b"K" * 32 not in raw and len(raw) > len(st.encode())  # SK_d sealed, never plain in Redis
    ttl = _client(rds).pttl(("r1:ike:ref:" + ref.hex()).encode())
    assert 655_000 < ttl <= 660_000  # the ticket's remaining lifetime + 60 s
    assert b.remove(ref) is True and a.remove(ref) is False  # the claim: one DEL answers 1
    assert a.get(ref) is None


def _gateways(rds, prefix, mode, n=3, **kw):
    """n in-process gateways sharing one ring (as a fleet's keys) and the stores in Redis."""
    ring = KeyRing.generate(int(time.time()))
    out = []
    for _ in range(n):
        s = _shared(rds, prefix)
        out.append(G.Gateway(PSK, "gw.example", ring=ring, tickets=mode, lifetime=LIFE,
                             refs=RI.RedisRefs(s, ring, LIFE), used=RI.RedisUsed(s), **kw))
    return out


def _full(gw, now):
    ini = I.Initiator(PSK, "client.example", idr="gw.example")
    ev = pump(ini, gw, now)
    assert ev[0] == ("established", "full"), ev
    return ini.new_ticket


@pytest.mark.parametrize("mode", ["value", "reference"])
def test_in_process_issued_at_a_resumes_at_b_replayed_at_c_refused(rds, mode):
    a, b, c = _gateways(rds, "g1%s:" % mode[0], mode)
    now = int(time.time())
    t = _full(a, now)
    ini = I.Initiator(PSK, "client.example", ticket=dict(t))
    assert pump(ini, b, now + 1)[0] == ("established", "resumed")
    ini = I.Initiator(PSK, "client.example", ticket=dict(t))
    ev = pump(ini, c, now + 2)
    assert ev[:2] == [("resume_failed", "TICKET_NACK"), ("established", "full")], ev
    assert ("ticket_rejected", "reused" if mode == "value" else "unknown-reference") in c.events()


@pytest.mark.parametrize("mode", ["value", "reference"])
def test_a_ticket_raced_at_two_gateways_resumes_at_one(rds, mode):
    """Both gateways answer IKE_SESSION_RESUME (the ticket is unused), then both IKE_AUTHs arrive: the claim,
    made when the AUTH has checked, is one atomic step, so one resumes and the other answers
    AUTHENTICATION_FAILED (its initiator runs a full exchange). With a list per process (the default), both
    would resume: shown for tickets by value."""
    now = int(time.time())

    def race(a, b):
        t = _full(a, now)
        inis = [I.Initiator(PSK, "client.example", ticket=dict(t)) for _ in range(2)]
        for ini, gw in zip(inis, (a, b)):  # IKE_SESSION_RESUME at each gateway, answered
            ini.start(now)
            for d in ini.datagrams():
                for r in gw.handle(d, now, b"x"):
                    ini.receive(r, now)
        return [pump(ini, gw, now, start=False) for ini, gw in zip(inis, (a, b))]

    ev = race(*_gateways(rds, "g2%s:" % mode[0], mode, 2))
    firsts = sorted(e[0] for e in ev)
    assert firsts == [("established", "resumed"), ("resume_failed", "AUTHENTICATION_FAILED")], ev
    assert ("established", "full") in [e for e in ev if e[0] == ("resume_failed", "AUTHENTICATION_FAILED")][0]
    if mode == "value":
        ring = KeyRing.generate(now)
        alone = [G.Gateway(PSK, "gw.example", ring=ring, lifetime=LIFE) for _ in range(2)]
        assert [e[0] for e in race(*alone)] == [("established", "resumed")] * 2


def test_redis_down_fails_closed_and_revocations_are_replayed(tmp_path):
    """In process: Redis stopped -> a check refuses (store-unavailable), a claim answers False, a ticket by
    reference is not stored, the outage said once; a revocation made meanwhile reaches Redis once it is back."""
    d = str(tmp_path)
    peer = start_redis(d)
    port = peer.port
    lines = []
    try:
        s = RI.Shared(_url(port, "d1:"), LIFE, out=lines.append)
        s.check()
        s.run_in_background()
        used, refs = RI.RedisUsed(s), RI.RedisRefs(s, KeyRing.generate(int(time.time())), LIFE)
        peer.stop()
        tok = os.urandom(32)
        assert used.add(tok, 0) is False  # not claimed (and kept to replay: the revocation of a deleted SA)
        for probe in (lambda: tok in used, lambda: refs.get(b"r" * 16)):
            with pytest.raises(T.TicketRejected) as e:
                probe()
            assert str(e.value) == "store-unavailable"
        assert refs.remove(b"r" * 16) is False
        assert len(lines) == 1 and "unreachable" in lines[0] and "resumption refused" in lines[0], lines
        peer = start_redis(d, port)  # back, empty: the thread reconnects, sees the list lost, replays
        deadline = time.time() + 10
        while s.down and time.time() < deadline:
            time.sleep(0.05)
        assert not s.down and lines[-1].endswith("reachable again"), lines
        c = redis.Redis(host="127.0.0.1", port=port)
        assert c.exists("d1:ike:used:" + tok.hex()) and 0 < c.pttl("d1:ike:used:" + tok.hex()) <= (LIFE + 60) * 1000
        assert any("lost its one-time-use list" in x for x in lines), lines
        with pytest.raises(T.TicketRejected) as e:  # Redis's list is new: nothing by value until old tickets expire
            os.urandom(32) in used
        assert str(e.value) == "store-lost"
        s.stopped = True
    finally:
        peer.stop()


# --- three ike-gateway processes on one Redis ------------------------------------------------------------

def _start(url, mode="value", n=3):
    out = []
    try:
        for _ in range(n):
            out.append(ikepeers.GatewayProcess(["--psk", PSK.hex(), "--id", "gw.example", "--tickets", mode,
                                                "--keys", url]).start())
    except Exception:
        for g in out:
            g.stop()
        raise
    return out


def _ini(gw, store, runtime="cpython"):
    r = ikepeers.run_initiator(["127.0.0.1", str(gw.port), "--psk", PSK.hex(), "--id", "client.example",
                                "--remote-id", "gw.example", "--store", store], runtime=runtime, timeout=60)
    return [x for x in r.stdout.splitlines() if not x.startswith("key: ")], r


def _copy(store, to):
    shutil.copyfile(store, to)
    return to


@pytest.mark.parametrize("mode", ["value", "reference"])
def test_three_gateways_issued_at_a_resumes_at_b_replayed_at_c_nack(rds, tmp_path, mode):
    a, b, c = gws = _start(_url(rds["peer"].port, "p1%s:" % mode[0]), mode)
    try:
        store = str(tmp_path / "s.json")
        lines, r = _ini(a, store)
        assert lines == ["established: full", "ticket: lifetime 3600"], r.stdout + r.stderr
        saved = _copy(store, str(tmp_path / "saved.json"))
        assert list(TicketStore(store)._load()) == ["gw.example"]  # keyed by --remote-id, not A's port
        lines, r = _ini(b, store)
        assert lines == ["established: resumed", "ticket: lifetime 3600"], r.stdout + r.stderr
        _copy(saved, store)  # a misbehaving (or cloned) client presents the used ticket again, at C
        lines, r = _ini(c, store)
        assert lines == ["established: full (resume failed: TICKET_NACK)", "ticket: lifetime 3600"], r.stdout
    finally:
        logs = [g.stop() for g in gws]
    assert any(x.startswith("ike-gateway: listening on %d (tickets=%s, shared in Redis)" % (a.port, mode))
               for x in logs[0]), logs[0]
    assert any(x.endswith("established resumed client.example message") for x in logs[1]), logs[1]
    assert "event: ticket_rejected " + ("reused" if mode == "value" else "unknown-reference") in logs[2], logs[2]


def test_redis_stopped_and_restarted_empty_fails_closed(tmp_path):
    """Redis stopped: resumption refused (TICKET_NACK, a full exchange issues a new ticket), said once per
    gateway; restarted without its data: a ticket used before is still refused (the list's loss is seen)."""
    d = str(tmp_path / "redis")
    os.mkdir(d)
    peer = start_redis(d)
    port = peer.port
    gws = []
    try:
        gws = a, b, c = _start(_url(port, "p2:"))
        store = str(tmp_path / "s.json")
        assert _ini(a, store)[0][0] == "established: full"
        s1 = _copy(store, str(tmp_path / "s1.json"))
        assert _ini(b, store)[0][0] == "established: resumed"  # s1's ticket used at B
        peer.stop()  # by PID
        lines, r = _ini(c, store)  # the valid ticket: refused while Redis is away, a full exchange instead
        assert lines == ["established: full (resume failed: TICKET_NACK)", "ticket: lifetime 3600"], r.stdout
        _copy(s1, store)
        lines, r = _ini(a, store)  # the used one, at the gateway that issued it: refused too
        assert lines[0] == "established: full (resume failed: TICKET_NACK)", r.stdout
        for _ in range(20):  # the same port again (another process may take it meanwhile: then give up)
            try:
                peer = start_redis(d, port)
                break
            except PortInUse:
                time.sleep(0.2)
        deadline = time.time() + 15  # their backoff doubles up to 5 s
        while time.time() < deadline and not all("reachable again" in x for g in (a, c) for x in [g.peer.output()]):
            time.sleep(0.2)
        for g in gws:  # Redis came back empty: the used ticket s1 must not resume anywhere
            _copy(s1, store)
            lines, r = _ini(g, store)
            assert lines[0] == "established: full (resume failed: TICKET_NACK)", (g.port, r.stdout)
    finally:
        logs = [g.stop() for g in gws]
        peer.stop()
    text = ["\n".join(x) for x in logs]
    for x in (text[0], text[2]):
        assert x.count("ike: redis://127.0.0.1:%d/0 unreachable" % port) == 1, x  # said once
        assert "reachable again" in x
    assert all("lost its one-time-use list" in x for x in text), text
    assert not any("established resumed" in x for x in text[0].split("ike: redis")[1:]), text[0]
    for x in text:
        assert "ticket_rejected store-unavailable" in x or "ticket_rejected store-lost" in x, x
    assert sum(x.count("established resumed") for x in text) == 1  # only s1's one resumption, at B


def test_gateway_refusals_at_start(tmp_path):
    """Redis unreachable when the gateway starts: one error line naming the URL without its password, exit 1
    (it has no keys to serve with); --rotate with a redis:// URL is a usage error (the leader rotates)."""
    import socket
    import subprocess
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]  # bound, never listening: connections refused
    try:
        cmd, env = ikepeers._cmd_env("cpython")
        base = cmd + [ikepeers.cli_script("ike_gateway"), "--port", "0", "--psk", PSK.hex(), "--id", "gw"]
        url = "redis://u:pw-secret@127.0.0.1:%d/0?lock-ttl=1" % port
        r = subprocess.run(base + ["--keys", url], capture_output=True, text=True, timeout=30, env=env)
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith("error: redis://127.0.0.1:%d/0: " % port) and "pw-secret" not in r.stderr
        r = subprocess.run(base + ["--keys", url, "--rotate"], capture_output=True, text=True, timeout=30, env=env)
        assert r.returncode == 2 and r.stderr.startswith("error: --rotate is for a key file"), r.stderr
    finally:
        s.close()


@pytest.mark.micropython
def test_board_keyed_by_remote_id_resumes_at_another_gateway(rds, tmp_path, mp):
    gws = _start(_url(rds["peer"].port, "p3:"), n=2)
    try:
        store = str(tmp_path / "s.json")
        lines, r = _ini(gws[0], store, "micropython")
        assert lines == ["established: full", "ticket: lifetime 3600"], r.stdout + r.stderr
        assert TicketStore(store).peek("gw.example") is not None
        for g in (gws[1], gws[0], gws[1]):  # wherever the board lands next
            lines, r = _ini(g, store, "micropython")
            assert lines == ["established: resumed", "ticket: lifetime 3600"], (g.port, r.stdout + r.stderr)
    finally:
        for g in gws:
            g.stop()


# --- an ACL user, and TLS to Redis (issue 15 step 1) ------------------------------------------------------

def _tls_files(d):
    import subprocess
    cert, key = os.path.join(d, "redis.pem"), os.path.join(d, "redis.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    return cert, key


@pytest.mark.parametrize("how", ["acl", "tls"])
def test_acl_user_and_tls_to_redis(tmp_path, how):
    """A fleet on a Redis whose only user is an ACL user limited to the fleet's prefix (keys and channel),
    or reached over TLS only (rediss://, the test's own CA): a TLS server and two IKE gateways share keys,
    tickets resume across them, and no password is ever printed."""
    from tlspeers import start_our_server, run_our_client, parse_client_output
    d = str(tmp_path)
    if how == "acl":
        conf = os.path.join(d, "redis.conf")
        with open(conf, "w") as f:  # no default user: only "fleet", on the fleet's keys and channel only
            f.write("user default off\nuser fleet on >s3cret-acl ~fleet:* &fleet:* +@all\n")
        peer = start_redis(d, conf=conf)
        url = "redis://fleet:s3cret-acl@127.0.0.1:%d/0?prefix=fleet:&lock-ttl=1.5" % peer.port
    else:
        cert, key = _tls_files(d)
        try:
            peer = start_redis(d, tls=(cert, key))
        except RuntimeError as e:  # Debian builds it with TLS; another build may lack it
            pytest.skip("this redis-server has no TLS support: %s" % str(e)[-200:])
        url = "rediss://127.0.0.1:%d/0?prefix=fleet:&lock-ttl=1.5&ssl_ca_certs=%s" % (peer.port, cert)
    procs_ = []
    try:
        tls = start_our_server(["--psk", PSK.hex(), "--keys", url])
        procs_.append(tls)
        gws = _start(url, n=2)
        procs_.extend(g.peer for g in gws)
        cache = str(tmp_path / "c.json")
        for want in ("no", "yes"):
            r = run_our_client(tls.port, ["--psk", PSK.hex(), "--cache", cache, "--send", "hi", "--timeout", "5"])
            assert parse_client_output(r.stdout).get("resumed") == want, r.stdout + r.stderr
        store = str(tmp_path / "s.json")
        lines, r = _ini(gws[0], store)
        assert lines == ["established: full", "ticket: lifetime 3600"], r.stdout + r.stderr
        lines, r = _ini(gws[1], store)
        assert lines == ["established: resumed", "ticket: lifetime 3600"], r.stdout + r.stderr
        if how == "acl":
            c = redis.Redis(host="127.0.0.1", port=peer.port, username="fleet", password="s3cret-acl")
            assert c.get("fleet:keys") and c.keys("fleet:ike:*")  # the IKE state under the fleet's prefix
            with pytest.raises(redis.exceptions.NoPermissionError):
                c.get("other:keys")  # the user reaches nothing else
    finally:
        logs = [p.stop() for p in procs_]
        peer.stop()
    assert sum("rotation leader" in x for x in logs) == 1, logs
    assert not any("s3cret" in x for x in logs)
