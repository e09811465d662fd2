"""CPython-side parts for a fleet of servers: no board part installs this package and nothing a board loads
imports it (the commands import it on CPython only: for a redis:// --keys, and tls-server for its loop).
microticket.fleet.redis_keys: the ticket keys shared through Redis, with a rotation leader;
microticket.fleet.redis_ike: the IKE gateways' tickets by reference and one-time-use list shared through
Redis; microticket.fleet.serve: tls-server's loop on CPython (one epoll loop; SO_REUSEPORT for several
processes on one port)."""
