"""Ticket open on MicroPython: what it allocates, that its hot steps really run under heap_lock, that the
heap does not grow, and that the round trip fits a 24 KB heap with .mpy modules.

Two measures, both on the real interpreter:
- micropython.mem_total() delta: every allocation request, including VM frames that are requested from
  the heap and freed on return (this build counts a request even when heap_lock makes it fall back to the
  C stack), so it is the stricter figure;
- gc.mem_alloc() delta with the GC disabled: heap actually consumed (16-byte blocks).
"""

import pytest

import mpharness


def kv(out):
    res = {}
    for line in out.strip().splitlines():
        parts = line.split()
        res[parts[0]] = parts[1:]
    return res


def test_open_allocates_only_the_hmac(mp):
    got = kv(mpharness.run_mp_script("ticket_memory.py", ["alloc"]))
    open_into, open_, hmac = int(got["open_into"][0]), int(got["open"][0]), int(got["hmac"][0])
    # everything except hashlib (two hash objects, two digests) is allocation-free
    assert open_into == hmac
    assert open_into <= 512
    # open() adds only the returned copy of the 90-byte state (bytes object + a memoryview header)
    assert open_ - open_into <= 90 + 80
    assert int(got["open_into_net"][0]) == int(got["hmac_net"][0])


def test_hot_path_runs_under_heap_lock(mp):
    got = kv(mpharness.run_mp_script("ticket_memory.py", ["lock"]))
    assert got["locks_ok"] == ["2", "2"]  # parse+lookup, then compare+decrypt+padding+lifetime
    assert got["locks_bad"] == ["2", "2", "bad-mac"]
    assert got["heap_usable"] == ["100"]


def test_heap_does_not_grow_over_10000_opens(mp):
    got = kv(mpharness.run_mp_script("ticket_memory.py", ["soak", "10000"]))
    assert got["soak"] == ["10000", "rejected", "1000", "growth", "0"]


# The whole program is `import ticket_roundtrip; ticket_roundtrip.main()` with every module an .mpy. Live heap
# at the end is about 20 KB, of which 13 KB are the imported modules (errors, crypto, ticket).
ROUNDTRIP_HEAP = "24k"


def run_roundtrip(mp, heap):
    return mp.run_mp_code("import ticket_roundtrip; ticket_roundtrip.main()", heapsize=heap, mpy=True)


def test_roundtrip_in_small_heap_with_mpy(mp):
    proc = run_roundtrip(mp, ROUNDTRIP_HEAP)
    assert proc.returncode == 0, proc.stderr
    assert kv(proc.stdout)["roundtrip"][0] == "ok"


def test_roundtrip_fails_cleanly_in_a_too_small_heap(mp):
    """The heap limit is real: well below the need, the interpreter runs out of memory."""
    proc = run_roundtrip(mp, "12k")
    assert proc.returncode != 0 and "MemoryError" in proc.stderr + proc.stdout
