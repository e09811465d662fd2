# Memory behaviour of ticket open on MicroPython (tests/core/test_memory.py reads the "key value" lines).
import sys
import gc
import micropython as _real


class CountingLock:
    """Stands in for the micropython module inside microticket.ticket: counts heap_lock() calls and
    forwards them to the real one, so the lock is both real and observed."""

    def __init__(self):
        self.locks = 0
        self.unlocks = 0
        self.const = _real.const

    def heap_lock(self):
        self.locks += 1
        _real.heap_lock()

    def heap_unlock(self):
        self.unlocks += 1
        _real.heap_unlock()


NOW = 1700000000


def main(mode, count=0):
    if mode == "lock":
        spy = CountingLock()
        sys.modules["micropython"] = spy
    from microticket.ticket import KeyRing
    from microticket.errors import TicketRejected

    ring = KeyRing.generate(NOW)
    state = bytes(range(90))
    t = ring.seal(state, NOW)
    bad = bytearray(t)
    bad[50] ^= 1
    bad = bytes(bad)
    if mode == "lock":
        ring.open_into(t, NOW)
        print("locks_ok", spy.locks, spy.unlocks)
        spy.locks = spy.unlocks = 0
        try:
            ring.open_into(bad, NOW)
        except TicketRejected as e:
            print("locks_bad", spy.locks, spy.unlocks, e.reason)
        x = bytearray(100)  # the heap is usable again after a rejection
        print("heap_usable", len(x))
    elif mode == "alloc":
        key = ring.keys[0]
        view = ring._views((len(t) - 34 - 32) // 16)[0]
        for _ in range(3):
            ring.open_into(t, NOW)
            ring.open(t, NOW)
            key.hmac.mac(view)
        a = _real.mem_total()
        ring.open_into(t, NOW)
        print("open_into", _real.mem_total() - a)
        a = _real.mem_total()
        ring.open(t, NOW)
        print("open", _real.mem_total() - a)
        a = _real.mem_total()
        key.hmac.mac(view)
        print("hmac", _real.mem_total() - a)
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        ring.open_into(t, NOW)
        print("open_into_net", gc.mem_alloc() - a)
        a = gc.mem_alloc()
        key.hmac.mac(view)
        print("hmac_net", gc.mem_alloc() - a)
        gc.enable()
    elif mode == "soak":
        n = count
        for _ in range(50):  # warm up both paths (first uses create lasting objects, e.g. size windows)
            ring.open(t, NOW)
            try:
                ring.open(bad, NOW)
            except TicketRejected:
                pass
        gc.collect()
        before = gc.mem_alloc()
        rejected = 0
        for i in range(n):
            if i % 10 == 9:
                try:
                    ring.open(bad, NOW)
                except TicketRejected:
                    rejected += 1
            else:
                ring.open(t, NOW)
        gc.collect()
        print("soak", n, "rejected", rejected, "growth", gc.mem_alloc() - before)
    elif mode == "roundtrip":
        # the ticket round-trip scenario: generate, seal, open, rotate, renew, reject
        for i in range(20):
            tt = ring.seal(state, NOW + i)
            if ring.open(tt, NOW + i) != state:
                raise SystemExit("mismatch")
        ring.rotate(NOW + 100)
        ring.open(t, NOW + 101)
        renewed = ring.seal(state, NOW + 101, created=ring.created)
        ok = ring.open(renewed, NOW + 102) == state and not ring.should_renew
        try:
            ring.open(bad, NOW)
            ok = False
        except TicketRejected:
            pass
        gc.collect()
        print("roundtrip", "ok" if ok else "FAIL", "mem_alloc", gc.mem_alloc(), "mem_free", gc.mem_free())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "alloc", int(sys.argv[2]) if len(sys.argv) > 2 else 0)
