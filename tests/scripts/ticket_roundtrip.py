# The ticket round-trip scenario, small enough to be the whole program on a board with a 24 KB heap:
# generate a ring, seal and open, rotate, open an old ticket (renewal asked), renew, reject a forgery.
# Run as a module (compiled by mpy-cross in the memory tests): ticket_roundtrip.main().
import gc
from microticket.ticket import KeyRing
from microticket.errors import TicketRejected

NOW = 1700000000


def main():
    ring = KeyRing.generate(NOW)
    state = bytes(range(90))
    old = ring.seal(state, NOW)
    for i in range(20):
        if ring.open(ring.seal(state, NOW + i), NOW + i) != state:
            raise SystemExit("mismatch")
    ring.rotate(NOW + 100)
    ok = ring.open(old, NOW + 101) == state and ring.should_renew
    renewed = ring.seal(state, NOW + 101, created=ring.created)
    ok = ok and ring.open(renewed, NOW + 102) == state and not ring.should_renew
    forged = bytearray(renewed)
    forged[40] ^= 1
    try:
        ring.open(forged, NOW + 102)
        ok = False
    except TicketRejected as e:
        ok = ok and e.reason == "bad-mac"
    gc.collect()
    print("roundtrip", "ok" if ok else "FAIL", "mem_alloc", gc.mem_alloc(), "mem_free", gc.mem_free())


if __name__ == "__main__":
    main()
