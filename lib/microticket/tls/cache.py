"""Client ticket cache (RFC 5077 section 3.3 and 5.7), keyed by server identity ("host:port" or SNI name).

An entry holds the opaque ticket, the master secret and what a resumption must match (suite, extended
master secret flag). A ticket is stored only after the server Finished of its handshake verified and is
deleted when a handshake that offered it fails: the client engine says so with events, which the driver
applies (microticket.tls.driver.keep_tickets: ``put``, ``delete``); the engine only reads it (``get``).
``ticket_lifetime_hint`` is honoured from the time the ticket was received (RFC 5077 section 3.3); a hint
of 0 means "unspecified" and gets ``_DEFAULT_MAX_AGE``. A damaged file reads as empty and is rewritten with
the next ticket.

The file (JSON, hex strings) holds master secrets: it is written through microticket.store.write_private
(owner-only permissions where the OS has them) and its size is bounded on both write and read: a file
that would exceed ``max_file`` loses its oldest entries first (save() bounds the JSON's length from
above, so what is written is always read back). It is written with json.dump, piece by piece:
the file's text is never one string in the heap.
"""

from micropython import const

_O_REUSE = const(16)  # the client's reuse_tickets bit (microticket.tls.client _opt)
_MAX_ENTRIES = const(8)
_MAX_FILE = const(16384)
_MAX_TICKET = const(2048)
_DEFAULT_MAX_AGE = const(7 * 86400)


from microticket.tls import to_hex as _hex


# An entry is a list, not an object of a class (a class costs ~320 bytes of heap even from ROMFS, an
# instance a dict): the fields by these indexes (the client engine reads them too).
_E_TICKET = const(0)     # the opaque ticket
_E_MASTER = const(1)     # the session's master secret
_E_SUITE = const(2)      # what a resumption must match: the suite ...
_E_EMS = const(3)        # ... and the extended_master_secret flag
_E_RECEIVED = const(4)   # when the ticket arrived
_E_HINT = const(5)       # its ticket_lifetime_hint (0: unspecified)
_E_NAME = const(6)       # the SNI name it was made for
_E_IDENTITY = const(7)   # the PSK identity it was made with
_E_AGE_ADD = const(8)    # TLS 1.3: the ticket's ticket_age_add (its "master" is the ticket's PSK, 32 bytes)
# _E_EARLY = 9: a TLS 1.3 ticket that came with early_data has a 10th field, max_early_data_size (4 bytes) and
# the connection's ALPN (microticket.tls.client13; the file's "max_early_data", hex)
_FIELDS = const(("ticket", "master", "suite", "ems", "received", "hint", "server_name", "identity", "age_add",
                 "max_early_data"))


def entry(ticket, master, suite, ems, received, hint, server_name=b"", identity=b"", age_add=0):
    """A cache entry (see the field indexes above). A TLS 1.3 ticket is told by its suite (a TLS 1.3
    suite: microticket.tls.engine); it is offered only as a TLS 1.3 PSK, a TLS 1.2 one only in
    session_ticket."""
    return [bytes(ticket), bytes(master), suite, bool(ems), received, hint, bytes(server_name), bytes(identity),
            age_add]


def expires(e):
    """When the entry ``e`` stops being offered: ticket_lifetime_hint after it arrived (RFC 5077 section
    3.3), or _DEFAULT_MAX_AGE for a hint of 0 ("unspecified")."""
    return e[_E_RECEIVED] + (e[_E_HINT] if e[_E_HINT] else _DEFAULT_MAX_AGE)


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
        """The entry for ``server_id`` if it is usable ``now`` (not expired, not received in the future),
        else None. Changes nothing (the client engine calls it): entries that expired leave the file when
        it is next written."""
        e = self.entries.get(server_id)
        if e is None or now >= expires(e) or now + 300 < e[_E_RECEIVED]:
            return None
        return e

    def put(self, server_id, value):
        """Store the entry ``value`` for ``server_id`` and write the file."""
        if len(value[_E_TICKET]) > _MAX_TICKET:
            return
        entries = self.entries
        for k in list(entries):  # what expired before this ticket arrived
            if expires(entries[k]) <= value[_E_RECEIVED]:
                del entries[k]
        entries[server_id] = value
        while len(self.entries) > self.max_entries:
            self._drop_oldest()
        self.save()

    def _drop_oldest(self):
        oldest = None
        for k in self.entries:
            if oldest is None or self.entries[k][_E_RECEIVED] < self.entries[oldest][_E_RECEIVED]:
                oldest = k
        del self.entries[oldest]

    def delete(self, server_id):
        if server_id in self.entries:
            del self.entries[server_id]
            self.save()

    def load(self):
        """The entries of the file; a damaged one (not JSON, non-UTF-8 bytes, wrong types, a bad entry)
        reads as empty and is rewritten at once, so a board never fails on it twice."""
        self.entries = {}
        from microticket.store import recover
        recover(self.path)
        try:
            f = open(self.path, "rb")
        except OSError:
            return
        try:
            f.seek(0, 2)
            size = f.tell()
            f.seek(0)
            data = f.read() if size <= self.max_file else None  # an oversized file is not parsed
        finally:
            f.close()
        import json
        try:
            obj = json.loads(data)
            for k in obj:
                if len(self.entries) >= self.max_entries:
                    break
                d = obj[k]
                e = [d[f] for f in _FIELDS[:8]] + [d.get("age_add", 0)]  # (files before TLS 1.3)
                if _FIELDS[9] in d:  # (a TLS 1.3 ticket with early data)
                    e.append(bytes.fromhex(d[_FIELDS[9]]))
                for i in (_E_TICKET, _E_MASTER, _E_NAME, _E_IDENTITY):
                    e[i] = bytes.fromhex(e[i])
                e[_E_EMS] = bool(e[_E_EMS])
                for i in (_E_SUITE, _E_RECEIVED, _E_HINT, _E_AGE_ADD):
                    if type(e[i]) is not int:
                        raise ValueError
                if len(e[_E_MASTER]) not in (32, 48) or not 0 < len(e[_E_TICKET]) <= _MAX_TICKET:
                    raise ValueError
                self.entries[k] = e
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            self.entries = {}
            self.save()  # the damaged file rewritten (empty): the next ticket fills it

    def save(self):
        if not self.path:
            return
        entries = self.entries
        while True:
            size = 2
            for k in entries:
                # an upper bound of the JSON bytes an entry takes: hex fields, the key escaped at worst 12
                # bytes per character (a surrogate pair), field names, digits, punctuation
                e = entries[k]
                size += 12 * len(k) + 2 * (len(e[_E_TICKET]) + len(e[_E_MASTER]) + len(e[_E_NAME]) +
                                           len(e[_E_IDENTITY])) + 230 + (2 * len(e[9]) + 24 if len(e) > 9 else 0)
            if size <= self.max_file:
                break
            self._drop_oldest()
        from microticket.store import write_private
        write_private(self.path, entries, _write_json)


def _write_json(entries, f):
    """The entries as JSON into the stream ``f``, piece by piece: neither the text nor an object tree of
    hex strings is ever whole in the heap (the file is written right after a handshake, at the client's
    heap peak). A key is escaped by json.dumps; everything else is hex, digits and field names."""
    import json
    # the punctuation as slices of one text: a str constant of 10 characters or fewer would be an interned
    # string for good, and the resuming clients sit at the edge of a qstr pool (3.7 KB)
    t = '{: {"": }, {} - JSON punctuation'
    sep = t[0:1]  # {
    for k in entries:
        f.write(sep)
        f.write(json.dumps(k))
        sep = t[1:4]  # ": {"
        e = entries[k]
        for i in range(len(e)):
            f.write(sep)
            f.write(t[4:5])  # "
            f.write(_FIELDS[i])
            f.write(t[5:8])  # ": (with the space)
            v = e[i]
            if isinstance(v, bytes):
                f.write(t[4:5])
                for j in range(0, len(v), 64):
                    f.write(_hex(v[j:j + 64]))
                f.write(t[4:5])
            else:
                f.write(str(int(v)))  # suite, received, hint, age_add; ems as 1 or 0
            sep = t[9:11]  # ", "
        f.write(t[8:9])  # }
        sep = t[9:11]
    f.write(t[8:9] if sep == t[9:11] else t[11:13])  # } or {}


# --- the client engine's side of the rules (methods of microticket.tls.client.Client) ---------------------

def store_ticket(self):
    """RFC 5077 section 3.3: the ticket is valid only now that the server Finished verified. Called by the
    client (``self``) whose handshake completed: a ("ticket", server_id, entry) event for the new
    ticket, or ("ticket_drop", server_id) for the offered one when the server did not replace it after a
    full handshake (or ``reuse_tickets`` is off)."""
    nt = self.new_ticket
    self.ticket_received = nt is not None
    if nt is not None:
        self.events.append(("ticket", self.server_id,
                            entry(nt[1], self.master, self.suite, self.ems, self.now, nt[0], self.server_name,
                                  self.psk_identity)))
    elif self.offered is not None and (not self.resumed or not self._opt & _O_REUSE):
        self.events.append(("ticket_drop", self.server_id))


def drop_offered(self):
    """The client's handshake failed: ("ticket_drop", server_id) for a ticket it offered."""
    if self.offered is not None and not self.handshake_done:
        self.events.append(("ticket_drop", self.server_id))
