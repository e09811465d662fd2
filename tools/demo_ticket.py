# The ticket demo, run on the MicroPython interpreter by tools/demo.py (works on CPython + ports/cpython too).
# A server seals a TLS session state into an RFC 5077 ticket, a client would carry it, the server opens it
# again without any per-client memory; then key rotation, renewal and forged tickets.
import sys
from microticket.ticket import KeyRing
from microticket.tls.state import StatePlaintext, AUTH_PSK
from microticket.errors import TicketRejected

KEYFILE = sys.argv[1] if len(sys.argv) > 1 else "/tmp/microticket-demo-keys.json"
NOW = 1700000000


def hx(b):
    return "".join("%02x" % x for x in b)


ring = KeyRing.generate(NOW, lifetime=3600)
ring.save(KEYFILE)
print("key file        ", KEYFILE, "(owner-only; the newest key seals, every key in its window opens)")
state = StatePlaintext(0x0303, 0x00AE, bytes(range(48)), AUTH_PSK, identity=b"board-7", timestamp=NOW,
                       ems=True, created=NOW, server_name=b"gw.local")
plain = state.encode()
t = ring.seal(plain, NOW)
print("session state   ", len(plain), "bytes (TLS 1.2, TLS_PSK_WITH_AES_128_CBC_SHA256, EMS)")
print("ticket          ", len(t), "bytes = key_name 16 | iv 16 | len 2 | encrypted_state",
      len(t) - 66, "| mac 32")
print("  key_name      ", hx(t[:16]))
print("  iv            ", hx(t[16:32]))
print("  mac           ", hx(t[-32:]))

ring2 = KeyRing.load(KEYFILE)  # a second server of the fleet, or the same one after a reboot
back = StatePlaintext.decode(ring2.open(t, NOW + 60))
print("opened          ", back, "by a server that shares only the key file")

ring2.rotate(NOW + 600)
back = ring2.open(t, NOW + 601)
print("after rotation  ", "old ticket opens, renew =", ring2.should_renew)
t2 = ring2.seal(back, NOW + 601, created=ring2.created)
ring2.open(t2, NOW + 602)
print("renewed         ", "new key, renew =", ring2.should_renew, "- creation time kept:", ring2.created == NOW)

forged = bytearray(t)
forged[40] ^= 1
for name, ticket, when in (("one bit flipped", bytes(forged), NOW + 60), ("truncated", t[:-1], NOW + 60),
                           ("unknown key", KeyRing.generate(NOW).seal(plain, NOW), NOW + 60),
                           ("expired", t, NOW + 3601)):
    try:
        ring2.open(ticket, when)
        print("ACCEPTED?!      ", name)
    except TicketRejected as e:
        print("rejected        ", "%-16s -> %s" % (name, e.reason))
