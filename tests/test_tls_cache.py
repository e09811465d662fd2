"""The client ticket cache file (microticket.tls.cache): bounded on write and read, written piece by piece,
the oldest entries dropped first when the file would exceed its bound."""

import json
import os

from hypothesis import given, settings, strategies as st

from microticket.tls.cache import CacheEntry, TicketCache

from consts import TLS_T0 as T0


def entry(n, received, ticket_len=200, name=b"", identity=b"id"):
    return CacheEntry(bytes([n % 256]) * ticket_len, bytes([n % 256]) * 48, 0xAE, True, received, 3600, name,
                      identity)


@settings(max_examples=200, deadline=None)
@given(key=st.text(min_size=1, max_size=40), ticket=st.binary(min_size=1, max_size=300),
       name=st.binary(max_size=40), identity=st.binary(max_size=40), received=st.integers(0, 2**63),
       hint=st.integers(0, 2**32 - 1), suite=st.integers(0, 0xFFFF))
def test_file_bound_is_an_upper_bound_of_the_json(key, ticket, name, identity, received, hint, suite):
    """What save() promises load(): the entry's JSON is never longer than file_bound (in bytes, as the
    file is read back: any key characters, the largest numbers)."""
    e = CacheEntry(ticket, bytes(48), suite, True, received, hint, name, identity)
    text = json.dumps({key: e.to_obj()})
    assert len(text.encode()) <= 2 + e.file_bound(key)
    # CPython's json.dumps escapes the key to ASCII; MicroPython's writes UTF-8: bound both
    assert len(text.encode()) - len(json.dumps(key).encode()) + len(json.dumps(key, ensure_ascii=False).encode()) \
        <= 2 + e.file_bound(key)
    o = json.loads(text)[key]   # valid JSON that reads back to the same entry
    back = CacheEntry.from_obj(o) if 0 < len(ticket) <= 2048 else None
    assert back is not None and (back.ticket, back.master, back.suite, back.ems, back.received, back.hint,
                                 back.server_name, back.identity) == (ticket, bytes(48), suite, True, received,
                                                                      hint, name, identity)


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
    assert again.get("srv7", T0 + 7).ticket == bytes([7]) * 1000
    # what the writer holds after dropping is what the file reads back: the same keys, each entry field by field
    assert {k: e.to_obj() for k, e in again.entries.items()} == {k: e.to_obj() for k, e in cache.entries.items()}


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
