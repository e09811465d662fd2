"""The client ticket cache file (microticket.tls.cache): bounded on write and read, written piece by piece,
the oldest entries dropped first when the file would exceed its bound."""

import json
import os

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
       hint=st.integers(0, 2**32 - 1), suite=st.integers(0, 0xFFFF), max_file=st.integers(100, 3000))
def test_what_save_writes_is_read_back(tmp_path_factory, key, ticket, name, identity, received, hint, suite,
                                       max_file):
    """save() bounds the JSON from above (any key characters, the largest numbers) and drops entries until
    the bound fits ``max_file``: the file never exceeds it, so load() never refuses it, and what it keeps
    reads back field for field."""
    e = C.entry(ticket, bytes(48), suite, True, received, hint, name, identity)
    path = str(tmp_path_factory.mktemp("c") / "c.json")
    cache = TicketCache(path, max_file=max_file)
    cache.put(key, e)
    assert os.path.getsize(path) <= max_file
    back = TicketCache(path, max_file=max_file)
    assert back.entries == cache.entries
    assert back.entries in ({}, {key: [ticket, bytes(48), suite, True, received, hint, name, identity]})
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
