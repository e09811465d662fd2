"""RFC 5077 section 4 tickets: layout, key ring, key file, and every kind of bad input, on both runtimes."""

import json
import os
import stat

import pytest

import mpharness
from microticket import crypto
from microticket.errors import TicketRejected, DecodeError
from microticket.ticket import KeyRing
from microticket import keyfile

from consts import CORE_T0 as NOW


def expected_bad_input(profile):
    mac = 32 if profile == "rfc5077" else 20
    n = 34 + 96 + mac  # 90 bytes of state + 4 (created) -> 96 with padding
    max_ticket = 34 + 272 + mac  # max_state 256 -> 272 encrypted bytes
    extend_malformed = max_ticket - n
    return [
        "len %d mac %d max %d" % (n, mac, max_ticket),
        "roundtrip accepted",
        # key_name bits -> unknown-key (no crypto), length bits -> malformed, everything else -> bad-mac
        "flip bad-mac=%d malformed=16 unknown-key=128" % ((n - 34) * 8 + 16 * 8),
        "truncate malformed=%d" % n,
        "extend malformed=%d too-long=2" % extend_malformed,
        "oversize too-long=2",
        "unknown-key unknown-key=1",
        "garbage malformed=20",
        "not-bytes malformed=2",
        "expired accepted=1 expired=1",
        "future accepted=1 future=1",
        "bad-padding bad-padding=1",
        "pad-zero bad-padding=1",
        "after-rotate accepted renew True created 0",
        "renewed accepted renew False created 0",
        "keys-after-prune 2 unknown-key",
    ]


@pytest.mark.parametrize("profile", ["rfc5077", "draft07"])
def test_bad_input_cpython(profile):
    out = mpharness.run_cpython_script("ticket_bad_input.py", [profile])
    assert out.splitlines() == expected_bad_input(profile)


@pytest.mark.parametrize("profile", ["rfc5077", "draft07"])
def test_bad_input_micropython(mp, profile):
    out = mpharness.run_mp_script("ticket_bad_input.py", [profile])
    assert out.splitlines() == expected_bad_input(profile)


def test_layout_is_rfc5077_section4():
    """key_name | iv | len | encrypted_state | HMAC-SHA-256 over everything before it; AES-128-CBC inside."""
    import hmac, hashlib
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    ring = KeyRing.generate(NOW)
    key = ring.keys[0]
    t = ring.seal(b"state!", NOW)
    assert t[:16] == key.name
    iv, n = t[16:32], int.from_bytes(t[32:34], "big")
    assert len(t) == 34 + n + 32 and n % 16 == 0
    assert hmac.compare_digest(t[-32:], hmac.new(key.hmac_key, t[:-32], hashlib.sha256).digest())
    pt = Cipher(algorithms.AES(key.aes_key), modes.CBC(iv)).decryptor().update(t[34:34 + n])
    pad = pt[-1]
    assert pt[-pad:] == bytes([pad]) * pad
    assert int.from_bytes(pt[:4], "big") == NOW and pt[4:-pad] == b"state!"


def test_draft07_profile_uses_hmac_sha1():
    import hmac, hashlib
    ring = KeyRing.generate(NOW, profile="draft07")
    t = ring.seal(b"x" * 20, NOW)
    key = ring.keys[0]
    assert len(key.hmac_key) == 20
    assert t[-20:] == hmac.new(key.hmac_key, t[:-20], hashlib.sha1).digest()
    assert ring.open(t, NOW) == b"x" * 20


def test_ivs_are_fresh_and_tickets_unlinkable():
    ring = KeyRing.generate(NOW)
    a, b = ring.seal(b"same", NOW), ring.seal(b"same", NOW)
    assert a[16:32] != b[16:32] and a[34:] != b[34:]


def test_key_file_format_and_permissions(tmp_path):
    ring = KeyRing.generate(NOW, lifetime=7200)
    ring.rotate(NOW + 10)
    path = str(tmp_path / "keys.json")
    ring.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.load(open(path))
    assert doc["format"] == "microticket-keys/1" and doc["profile"] == "rfc5077" and doc["lifetime"] == 7200
    assert [k["created"] for k in doc["keys"]] == [NOW + 10, NOW]  # newest first
    for k in doc["keys"]:
        assert len(k["name"]) == 32 and len(k["aes"]) == 32 and len(k["hmac"]) == 64
    again = KeyRing.load(path)
    t = ring.seal(b"fleet", NOW + 11)
    assert again.open(t, NOW + 12) == b"fleet" and not again.should_renew


def test_draft07_key_file(tmp_path):
    ring = KeyRing.generate(NOW, profile="draft07")
    path = str(tmp_path / "k.json")
    ring.save(path)
    doc = json.load(open(path))
    assert doc["profile"] == "draft07" and len(doc["keys"][0]["hmac"]) == 40
    doc["keys"][0]["hmac"] = doc["keys"][0]["hmac"][:32]  # draft-07's own 128-bit HMAC key is accepted too
    ring2 = keyfile.loads(KeyRing, json.dumps(doc))
    assert ring2.open(ring2.seal(b"abc", NOW), NOW) == b"abc"


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(format="other/1"),
    lambda d: d.update(profile="rfc9999"),
    lambda d: d.update(lifetime=0),
    lambda d: d.update(keys=[]),
    lambda d: d["keys"][0].update(name="zz" * 16),
    lambda d: d["keys"][0].update(aes="00" * 15),
    lambda d: d["keys"][0].update(hmac="00" * 20),
    lambda d: d["keys"][0].update(created=-1),
    lambda d: d["keys"][0].update(created=True),  # an int on CPython, not on MicroPython: refused on both
    lambda d: d["keys"].append("not an object"),
])
def test_key_file_rejects_bad_documents(mutate):
    doc = json.loads(keyfile.dumps(KeyRing.generate(NOW)))
    mutate(doc)
    with pytest.raises(DecodeError):
        keyfile.loads(KeyRing, json.dumps(doc))


def test_key_file_with_more_keys_than_a_ring_keeps_or_a_key_from_the_future():
    """A file no ring wrote (five keys: a ring keeps four) is refused; given now, so is a key created
    further ahead than the clock skew (60 s): its window would outlast the one it was given."""
    doc = json.loads(keyfile.dumps(KeyRing.generate(NOW)))
    doc["keys"] = doc["keys"] * 5
    with pytest.raises(DecodeError):
        keyfile.loads(KeyRing, json.dumps(doc))
    doc = json.loads(keyfile.dumps(KeyRing.generate(NOW + 3600)))
    assert keyfile.loads(KeyRing, json.dumps(doc)).keys  # without now: not checked
    assert keyfile.loads(KeyRing, json.dumps(doc), NOW + 3600 - 60).keys  # within the skew
    with pytest.raises(DecodeError):
        keyfile.loads(KeyRing, json.dumps(doc), NOW)


def test_key_file_not_json():
    with pytest.raises(DecodeError):
        keyfile.loads(KeyRing, "{not json")


def test_describe_shows_no_secret():
    ring = KeyRing.generate(NOW)
    text = json.dumps(keyfile.describe(ring, NOW))
    key = ring.keys[0]
    assert key.name.hex() in text
    assert key.aes_key.hex() not in text and key.hmac_key.hex() not in text


def test_renewal_keeps_creation_time_so_sessions_end():
    ring = KeyRing.generate(NOW, lifetime=1000)
    t = ring.seal(b"s", NOW)
    for step in range(1, 10):
        ring.open(t, NOW + step * 100)
        t = ring.seal(b"s", NOW + step * 100, created=ring.created)
    with pytest.raises(TicketRejected) as e:
        ring.open(t, NOW + 1001)
    assert e.value.reason == "expired"


def test_max_keys_bounds_the_ring():
    ring = KeyRing.generate(NOW, lifetime=10 ** 6, max_keys=3)
    for i in range(10):
        ring.rotate(NOW + i)
    assert len(ring.keys) == 3


def test_oversize_state_refused():
    ring = KeyRing.generate(NOW, max_state=64)
    with pytest.raises(ValueError):
        ring.seal(bytes(65), NOW)
    assert ring.open(ring.seal(bytes(64), NOW), NOW) == bytes(64)


def test_keys_come_from_urandom(monkeypatch):
    calls = []
    real = os.urandom
    monkeypatch.setattr(os, "urandom", lambda n: calls.append(n) or real(n))
    ring = KeyRing.generate(NOW)
    assert sorted(calls) == [16, 16, 16, 32]  # key_name, AES key, the encryptor's first IV, HMAC key
    ring.seal(b"x", NOW)
    assert sorted(calls) == [16, 16, 16, 16, 32]  # + the ticket's random first block



def _counter_rng(seed):
    """A deterministic rng(n): SHA-256 of seed | counter, as many blocks as asked for."""
    count = [0]

    def rng(n):
        out = b""
        while len(out) < n:
            count[0] += 1
            out += crypto.sha256(seed + count[0].to_bytes(4, "big"))
        return out[:n]
    return rng


def test_injected_rng_makes_keys_and_tickets_deterministic(monkeypatch, tmp_path):
    """KeyRing draws from the rng it is given (like the engines), never from the OS: the same rng gives the
    same keys, the same tickets and the same rotated keys; a different one gives other keys."""
    monkeypatch.setattr(os, "urandom", lambda n: pytest.fail("KeyRing read os.urandom"))
    runs = []
    for _ in range(2):
        ring = KeyRing.generate(NOW, rng=_counter_rng(b"a"))
        t1 = ring.seal(b"state", NOW)
        ring.rotate(NOW + 10)
        t2 = ring.seal(b"state", NOW + 10)
        runs.append(([(k.name, k.aes_key, k.hmac_key) for k in ring.keys], t1, t2))
        assert ring.open(t1, NOW + 20) == b"state" and ring.should_renew
        assert ring.open(t2, NOW + 20) == b"state" and not ring.should_renew
    assert runs[0] == runs[1]
    assert runs[0][1] != runs[0][2]  # one rng, fresh values each time: two tickets differ
    other = KeyRing.generate(NOW, rng=_counter_rng(b"b"))
    assert other.keys[0].name != runs[0][0][1][0]
    # a ring loaded from a key file takes its rng too (its tickets: the same bytes from the same rng)
    path = str(tmp_path / "keys.json")
    KeyRing.generate(NOW, rng=_counter_rng(b"c")).save(path)
    a = KeyRing.load(path, rng=_counter_rng(b"d")).seal(b"x", NOW)
    assert a == KeyRing.load(path, rng=_counter_rng(b"d")).seal(b"x", NOW)


def test_find_key_applies_the_decrypt_window():
    ring = KeyRing.generate(NOW, lifetime=1000)
    old = ring.sealing_key()
    ring.rotate(NOW + 100)
    assert ring.sealing_key() is ring.keys[0] is not old
    assert ring.find_key(old.name, NOW + 1100) is old
    assert ring.find_key(old.name[:8], NOW + 1100) is old  # a prefix (the IKE key_id)
    assert ring.find_key(old.name[:8], NOW + 1101) is None  # window closed, key still in the ring
    assert old in ring.keys
    assert ring.find_key(bytes(16), NOW) is None
    assert ring.find_key(ring.keys[0].name, NOW + 10 ** 6) is ring.keys[0]  # the newest always opens

def test_cross_runtime_fleet(mp, tmp_path):
    """A key file shared by a CPython server and a MicroPython board: each opens the other's tickets."""
    ring = KeyRing.generate(NOW)
    path = str(tmp_path / "fleet.json")
    ring.save(path)
    from_cpython = ring.seal(b"sealed on CPython", NOW)
    script = """
from microticket.ticket import KeyRing
from microticket import keyfile
ring = KeyRing.load(%r)
print(ring.open(bytes.fromhex(%r), %d).decode())
print("".join("%%02x" %% b for b in ring.seal(b"sealed on MicroPython", %d)))
""" % (path, from_cpython.hex(), NOW + 5, NOW + 5)
    out = mp.run_mp(script, check=True).stdout.split()
    assert out[:4] == ["sealed", "on", "CPython"] or out[0] == "sealed"
    assert ring.open(bytes.fromhex(out[-1]), NOW + 6) == b"sealed on MicroPython"


def test_secret_files_owner_only_whatever_the_path_and_recovered_from_a_torn_rename(tmp_path, monkeypatch):
    """store.write_private: a path with a quote, a space or a leading dash is restricted to its owner like
    any other (through the shell where the runtime has no chmod, as MicroPython's unix port); where a
    filesystem cannot rename over a file, the old one is the backup until the new one is in place, and
    recover() brings it back after a power cut between the two renames."""
    from microticket import store
    for name in ("it's.json", "-dash.json", "a b.json"):
        p = str(tmp_path / name)
        store.write_private(p, "secret")
        assert oct(os.stat(p).st_mode & 0o777) == oct(0o600) and open(p).read() == "secret"
    # the MicroPython unix port's way: no os.chmod, a shell
    monkeypatch.delattr(os, "chmod")
    p = str(tmp_path / "it's here.json")
    store.write_private(p, "secret")
    assert oct(os.stat(p).st_mode & 0o777) == oct(0o600)
    monkeypatch.undo()
    # FAT: rename over an existing file refused; a power cut after the old file became the backup
    p = str(tmp_path / "keys.json")
    store.write_private(p, "old")
    real = os.rename
    calls = []

    def fat_rename(a, b):
        calls.append((a, b))
        if os.path.exists(b):
            raise OSError("exists")
        if a.endswith(".tmp"):
            raise KeyboardInterrupt("power cut")  # after old -> .bak, before .tmp -> the file
        return real(a, b)
    monkeypatch.setattr(os, "rename", fat_rename)
    with pytest.raises(KeyboardInterrupt):
        store.write_private(p, "new")
    monkeypatch.undo()
    assert not os.path.exists(p) and open(p + ".bak").read() == "old"
    store.recover(p)
    assert open(p).read() == "old"
    # and without the cut: the new file, no backup left
    monkeypatch.setattr(os, "rename", lambda a, b: (_ for _ in ()).throw(OSError("exists"))
                        if os.path.exists(b) else real(a, b))
    store.write_private(p, "new")
    monkeypatch.undo()
    assert open(p).read() == "new" and not os.path.exists(p + ".bak")


@pytest.mark.micropython
def test_secret_file_with_a_quote_is_owner_only_on_micropython(mp, tmp_path):
    """The MicroPython unix port has no chmod: the mode is set through the shell, the path quoted (a path
    with a quote used to be written world-readable, silently)."""
    p = str(tmp_path / "board's cache.json")
    r = mp.run_mp_code("from microticket import store\nstore.write_private(%r, 'master secrets')\nprint('ok')\n" % p)
    assert "ok" in r.stdout, r.stdout + r.stderr
    assert oct(os.stat(p).st_mode & 0o777) == oct(0o600) and open(p).read() == "master secrets"
