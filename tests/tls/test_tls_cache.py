"""The client ticket cache file (microticket.tls.cache): bounded on write and read, written piece by piece,
the oldest entries dropped first when the file would exceed its bound."""

import json
import os

import pytest

from hypothesis import given, settings, strategies as st

from microticket.tls import cache as C
from microticket.tls.cache import TicketCache
from tlspeers import E_TICKET

from consts import TLS_T0 as T0


def entry(n, received, ticket_len=200, name=b"", identity=b"id"):
    return C.entry(bytes([n % 256]) * ticket_len, bytes([n % 256]) * 48, 0xAE, True, received, 3600, name,
                   identity)


@settings(max_examples=200, deadline=None)
@given(key=st.text(min_size=1, max_size=40), ticket=st.binary(min_size=1, max_size=300),
       name=st.binary(max_size=40), identity=st.binary(max_size=40), received=st.integers(0, 2**63),
       hint=st.integers(0, 2**32 - 1), suite=st.integers(0, 0xFFFF), max_file=st.integers(100, 3000),
       age_add=st.integers(0, 2**32 - 1), master_len=st.sampled_from([32, 48]))
def test_what_save_writes_is_read_back(tmp_path_factory, key, ticket, name, identity, received, hint, suite,
                                       max_file, age_add, master_len):
    """save() bounds the JSON from above (any key characters, the largest numbers) and drops entries until
    the bound fits ``max_file``: the file never exceeds it, so load() never refuses it, and what it keeps
    reads back field for field."""
    e = C.entry(ticket, bytes(master_len), suite, True, received, hint, name, identity, age_add)
    path = str(tmp_path_factory.mktemp("c") / "c.json")
    cache = TicketCache(path, max_file=max_file)
    cache.put(key, e)
    assert os.path.getsize(path) <= max_file
    back = TicketCache(path, max_file=max_file)
    assert back.entries == cache.entries
    assert back.entries in ({}, {key: [ticket, bytes(master_len), suite, True, received, hint, name, identity,
                                       age_add]})
    # with room for it, the entry is kept (the bound is not so loose that nothing fits)
    roomy = TicketCache(str(tmp_path_factory.mktemp("r") / "c.json"), max_file=20000)
    roomy.put(key, e)
    assert TicketCache(roomy.path, max_file=20000).entries == {key: e}


def test_oversized_cache_drops_the_oldest_entries_and_reads_back(tmp_path):
    path = str(tmp_path / "c.json")
    cache = TicketCache(path, max_entries=8, max_file=6000)
    for i in range(8):
        cache.put("srv%d" % i, entry(i, T0 + i, ticket_len=1000))
    size = os.path.getsize(path)
    assert size <= 6000
    again = TicketCache(path, max_entries=8, max_file=6000)
    # each entry needs ~2.3 KB of JSON: two fit, and they are the two newest
    assert sorted(again.entries) == ["srv6", "srv7"]
    assert again.get("srv7", T0 + 7)[E_TICKET] == bytes([7]) * 1000
    # what the writer holds after dropping is what the file reads back: the same keys, each entry field by field
    assert again.entries == cache.entries


def test_cache_file_is_valid_json_and_owner_only(tmp_path):
    path = str(tmp_path / "c.json")
    cache = TicketCache(path)
    cache.put("a:443", entry(1, T0, name=b"a", identity=b"Client_identity"))
    cache.put("b:443", entry(2, T0 + 1))
    with open(path) as f:
        obj = json.load(f)
    assert set(obj) == {"a:443", "b:443"} and obj["a:443"]["server_name"] == b"a".hex()
    if os.name == "posix":
        assert os.stat(path).st_mode & 0o077 == 0
    assert not os.path.exists(path + ".tmp")


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage", b"[1, 2]", b'{"srv:443": [1, 2]}',
                                     b'{"srv:443": {"ticket": "zz"}}', b"", b"{"])
def test_a_damaged_cache_file_reads_as_empty_and_is_rewritten(tmp_path, content):
    """A board must not fail on its cache file on every boot: non-UTF-8 bytes, the wrong types, a torn
    write read as an empty cache, and the file is rewritten at once (valid, owner-only)."""
    path = str(tmp_path / "c.json")
    with open(path, "wb") as f:
        f.write(content)
    cache = TicketCache(path)
    assert cache.entries == {}
    with open(path) as f:
        assert json.load(f) == {}
    if os.name == "posix":
        assert os.stat(path).st_mode & 0o077 == 0
    cache.put("srv:443", entry(1, T0))
    assert TicketCache(path).get("srv:443", T0)[E_TICKET] == bytes([1]) * 200


DAMAGED = r"""
import sys
from microticket.tls.cache import TicketCache
from microticket.ike.ticketstore import TicketStore
c = TicketCache(sys.argv[1])
s = TicketStore(sys.argv[2])
print("CACHE", len(c.entries), "STORE", len(s), s.peek("a", 5))
"""


@pytest.mark.micropython
def test_damaged_files_on_micropython(mp, tmp_path):
    """The same on the board's runtime, for the TLS ticket cache and the IKE ticket store: non-UTF-8
    garbage, a record of the wrong type, an expiry that is not a number."""
    for cache_bytes, store_bytes in ((b"\xff\xfe{garbage", b"\xff\xfe{garbage"),
                                     (b'{"srv": [1]}', b'{"a": {"expires": "x"}, "b": [1, 2]}')):
        c = tmp_path / "c.json"
        s = tmp_path / "s.json"
        c.write_bytes(cache_bytes)
        s.write_bytes(store_bytes)
        r = mp.run_mp(DAMAGED, [str(c), str(s)])
        assert r.stdout.split() == ["CACHE", "0", "STORE", "0", "None"], r.stdout + r.stderr
        assert json.loads(c.read_text()) == {} and json.loads(s.read_text()) == {}


def test_damaged_ike_store_on_cpython(tmp_path):
    from microticket.ike.ticketstore import TicketStore
    p = tmp_path / "s.json"
    p.write_bytes(b'{"a": {"expires": "x"}, "b": [1, 2], "c": {"expires": 99}}')
    s = TicketStore(str(p))
    assert len(s) == 1 and s.peek("a", 5) is None and s.peek("c", 5) == {"expires": 99}
    assert json.loads(p.read_text()) == {"c": {"expires": 99}}  # rewritten with what was sound


def test_a_file_written_before_tls13_reads(tmp_path):
    """A cache file of eight fields (before TLS 1.3's ticket_age_add) reads: age_add 0."""
    path = str(tmp_path / "c.json")
    with open(path, "w") as f:
        json.dump({"srv:443": {"ticket": "aa" * 8, "master": "bb" * 48, "suite": 0xAE, "ems": 1, "received": 5,
                               "hint": 60, "server_name": "", "identity": "6964"}}, f)
    assert TicketCache(path).entries == {"srv:443": [b"\xaa" * 8, b"\xbb" * 48, 0xAE, True, 5, 60, b"", b"id", 0]}
