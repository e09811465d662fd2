# Every single-bit flip, truncation and extension of a ticket, unknown keys, expired/future tickets, bad
# padding under a valid MAC, oversize tickets: each must be refused with the right reason and nothing else.
# Runs unchanged on MicroPython and CPython; prints one line per check, compared by tests/core/test_ticket.py.
import sys
from microticket import crypto
from microticket.ticket import KeyRing
from microticket.errors import TicketRejected

profile = sys.argv[1] if len(sys.argv) > 1 else "rfc5077"
NOW = 1700000000
ring = KeyRing.generate(NOW, profile=profile, lifetime=3600)
state = bytes(range(90))
t = ring.seal(state, NOW)


def reason_of(ticket, now=NOW, r=ring):
    try:
        got = r.open(ticket, now)
    except TicketRejected as e:
        return e.reason
    except Exception as e:  # anything else is a bug: show it
        return "CRASH:" + type(e).__name__
    return "accepted" if got == state else "WRONG-STATE"


def tally(name, reasons):
    counts = {}
    for x in reasons:
        counts[x] = counts.get(x, 0) + 1
    print(name, " ".join("%s=%d" % (k, counts[k]) for k in sorted(counts)))


print("len", len(t), "mac", ring.mac_len, "max", ring.max_ticket)
print("roundtrip", reason_of(t))

flips = []
for i in range(len(t)):
    for bit in range(8):
        b = bytearray(t)
        b[i] ^= 1 << bit
        flips.append(reason_of(bytes(b)))
tally("flip", flips)
tally("truncate", [reason_of(t[:n]) for n in range(len(t))])
tally("extend", [reason_of(t + bytes(n)) for n in range(1, ring.max_ticket - len(t) + 3)])
tally("oversize", [reason_of(bytes(ring.max_ticket + 1)), reason_of(bytes(60000))])
tally("unknown-key", [reason_of(KeyRing.generate(NOW, profile=profile).seal(state, NOW))])
tally("garbage", [reason_of(crypto.urandom(len(t))) for _ in range(20)])
tally("not-bytes", [reason_of("x" * len(t)), reason_of(None)])
tally("expired", [reason_of(t, NOW + 3601), reason_of(t, NOW + 3600)])
tally("future", [reason_of(ring.seal(state, NOW, created=NOW + 1000)), reason_of(ring.seal(state, NOW, NOW + 30))])

# bad padding behind a valid MAC: build the ticket by hand with the ring's own key
key = ring.keys[0]
iv = bytes(16)
body = bytearray(b"\x00\x00\x00\x00" + bytes(11) + b"\x05")  # last byte says 5 pad bytes, the others are 0
enc = crypto.aes_cbc_encrypt(key.aes_key, iv, body)
head = key.name + iv + bytes([len(enc) >> 8, len(enc) & 0xFF]) + enc
forged = head + key.hmac.mac(head)
tally("bad-padding", [reason_of(forged)])
body[15] = 0  # pad length 0 is never valid PKCS#7
enc = crypto.aes_cbc_encrypt(key.aes_key, iv, body)
head = key.name + iv + bytes([len(enc) >> 8, len(enc) & 0xFF]) + enc
tally("pad-zero", [reason_of(head + key.hmac.mac(head))])

# rotation: old tickets still open (and ask for renewal) inside the window, not after it
ring.rotate(NOW + 100)
ok = reason_of(t, NOW + 101)
print("after-rotate", ok, "renew", ring.should_renew, "created", ring.created - NOW)
t2 = ring.seal(state, NOW + 101, created=ring.created)
print("renewed", reason_of(t2, NOW + 102), "renew", ring.should_renew, "created", ring.created - NOW)
ring.rotate(NOW + 200)
ring.prune(NOW + 100 + 3601)
print("keys-after-prune", len(ring.keys), reason_of(t, NOW + 100 + 3601))
