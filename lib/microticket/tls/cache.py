"""Client ticket cache (RFC 5077 section 3.3 and 5.7), keyed by server identity ("host:port" or SNI name).

An entry holds the opaque ticket, the master secret and what a resumption must match (suite, extended
master secret flag). A ticket is stored only after the server Finished of its handshake verified and is
deleted when a handshake that offered it fails. ``ticket_lifetime_hint`` is honoured from the time the
ticket was received (RFC 5077 section 3.3); a hint of 0 means "unspecified" and gets ``default_max_age``.

The file (JSON, hex strings) holds master secrets: it is written through microticket.store.write_private
(owner-only permissions where the OS has them) and its size is bounded on both write and read: a file
that would exceed ``max_file`` loses its oldest entries first (``file_bound`` is an upper bound of the
JSON's length, so what is written is always read back). It is written with json.dump, piece by piece:
the file's text is never one string in the heap.
"""

from micropython import const

_MAX_ENTRIES = const(8)
_MAX_FILE = const(16384)
_MAX_TICKET = const(2048)
DEFAULT_MAX_AGE = const(7 * 86400)


from microticket.tls import to_hex as _hex


class CacheEntry:
    def __init__(self, ticket, master, suite, ems, received, hint, server_name=b"", identity=b""):
        self.ticket = bytes(ticket)
        self.master = bytes(master)
        self.suite = suite
        self.ems = bool(ems)
        self.received = received
        self.hint = hint
        self.server_name = bytes(server_name)
        self.identity = bytes(identity)

    def file_bound(self, key):
        """Upper bound of the JSON bytes this entry takes in the file under ``key``: hex fields, the key
        escaped at worst 12 bytes per character (a surrogate pair), field names, digits, punctuation."""
        return 12 * len(key) + 2 * (len(self.ticket) + len(self.master) + len(self.server_name) +
                                   len(self.identity)) + 200

    def expires(self):
        return self.received + (self.hint if self.hint else DEFAULT_MAX_AGE)

    def to_obj(self):
        return {"ticket": _hex(self.ticket), "master": _hex(self.master), "suite": self.suite,
                "ems": 1 if self.ems else 0, "received": self.received, "hint": self.hint,
                "server_name": _hex(self.server_name), "identity": _hex(self.identity)}

    @classmethod
    def from_obj(cls, data):
        """The entry of a JSON object written by to_obj (``data``: the dict)."""
        e = cls(bytes.fromhex(data["ticket"]), bytes.fromhex(data["master"]), int(data["suite"]), data["ems"],
                int(data["received"]), int(data["hint"]), bytes.fromhex(data.get("server_name", "")),
                bytes.fromhex(data.get("identity", "")))
        if len(e.master) != 48 or not 0 < len(e.ticket) <= _MAX_TICKET:
            raise ValueError("bad cache entry")
        return e


class TicketCache:
    def __init__(self, path=None, max_entries=_MAX_ENTRIES, max_file=_MAX_FILE):
        self.path = path
        self.max_entries = max_entries
        self.max_file = max_file
        self.entries = {}
        if path:
            self.load()
            # the writer now, with the cache, not at the end of a handshake when the heap is fullest
            from microticket.store import write_private  # noqa: F401

    def get(self, server_id, now):
        e = self.entries.get(server_id)
        if e is None:
            return None
        if now >= e.expires() or now + 300 < e.received:
            self.delete(server_id)
            return None
        return e

    def put(self, server_id, value):
        """Store the CacheEntry ``value`` for ``server_id`` and write the file."""
        if len(value.ticket) > _MAX_TICKET:
            return
        self.entries[server_id] = value
        while len(self.entries) > self.max_entries:
            self._drop_oldest()
        self.save()

    def _drop_oldest(self):
        oldest = None
        for k in self.entries:
            if oldest is None or self.entries[k].received < self.entries[oldest].received:
                oldest = k
        del self.entries[oldest]

    def delete(self, server_id):
        if server_id in self.entries:
            del self.entries[server_id]
            self.save()

    def load(self):
        self.entries = {}
        try:
            f = open(self.path)
        except OSError:
            return
        try:
            f.seek(0, 2)
            size = f.tell()
            if size > self.max_file:
                return  # refuse an oversized file rather than parse it
            f.seek(0)
            text = f.read()
        finally:
            f.close()
        import json
        try:
            obj = json.loads(text)
            for k in obj:
                if len(self.entries) >= self.max_entries:
                    break
                self.entries[k] = CacheEntry.from_obj(obj[k])
        except (ValueError, KeyError, TypeError):
            self.entries = {}

    def save(self):
        if not self.path:
            return
        entries = self.entries
        while True:
            size = 2
            for k in entries:
                size += entries[k].file_bound(k)
            if size <= self.max_file:
                break
            self._drop_oldest()
        obj = {}
        for k in entries:
            obj[k] = entries[k].to_obj()
        import json
        from microticket.store import write_private
        write_private(self.path, obj, json.dump)


# --- the clients' side of the rules (methods of TlsClient and PskClient, taken as class attributes) -------

def store_ticket(self):
    """RFC 5077 section 3.3: the ticket is valid only now that the server Finished verified. Called by a
    client (``self``) whose handshake completed: the new ticket stored, or the offered one dropped when the
    server did not take it (or ``reuse_tickets`` is off). The handshake stays complete whatever happens to
    the cache: one that cannot be written (full file system, no memory) only costs the next resumption."""
    nt = self.new_ticket
    self.ticket_received = nt is not None
    cache = self.cache
    if cache is None:
        return
    try:
        if nt is not None:
            cache.put(self.server_id, CacheEntry(nt[1], self.master, self.suite, self.ems, self.now, nt[0],
                                                 self.server_name, self.psk_identity))
        elif self.offered is not None and (not self.resumed or not self.reuse_tickets):
            cache.delete(self.server_id)
    except Exception as e:
        self.cache_error = e


def drop_offered(self):
    """The client's handshake failed: a ticket it offered is deleted. Called while an alert is being
    raised, so a cache that cannot be written must not turn the alert into an exception."""
    if self.offered is not None and not self.handshake_done and self.cache is not None:
        try:
            self.cache.delete(self.server_id)
        except Exception as e:
            self.cache_error = e
