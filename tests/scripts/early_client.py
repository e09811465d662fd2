# TLS 1.3 0-RTT from our client, on both runtimes: argv HOST PORT PIN_HEX CACHE DATA [KEYLOG]. One connection,
# early data offered when the cached ticket allows it; waits (at most 3 s) for a ticket, closes with
# close_notify (a peer keeps the session for the next run) and prints "resumed early accepted".
import socket
import sys

from microticket.tls import driver
from microticket.tls.cache import TicketCache
from microticket.tls.client import Client

host, port, pin, path, data = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3]), sys.argv[4], sys.argv[5]
log = None
if len(sys.argv) > 6:
    f = open(sys.argv[6], "a")

    def log(line):
        f.write(line + "\n")
c = Client("%s:%d" % (host, port), pin_sha256=pin, cache=TicketCache(path), keylog=log)
c.early_data = data.encode()
s = socket.socket()
s.settimeout(3)
s.connect(socket.getaddrinfo(host, port)[0][-1])
c.start(driver.wall_clock())
ok = driver.run_handshake(s, c)
while ok and not c.ticket_received and not c.closed:
    driver.pump_once(s, c, driver.wall_clock)
acc = getattr(c, "early_accepted", None)
if ok and not acc:  # not offered or refused: the data after the handshake
    driver.write_app(s, c, data.encode())
print(ok, c.resumed, "none" if acc is None else acc)
driver.close(s, c)
if log is not None:
    f.close()
