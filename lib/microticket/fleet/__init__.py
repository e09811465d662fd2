"""CPython-side parts for a fleet of servers: no board part installs this package and nothing a board loads
imports it (the commands import it on CPython only: for a redis:// --keys, and tls-server for its loop). microticket.fleet.redis_keys: the ticket
keys shared through Redis, with a rotation leader; microticket.fleet.serve: tls-server's loop on CPython (asyncio
protocols, no streams; SO_REUSEPORT for several processes on one port)."""
