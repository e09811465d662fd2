"""The initiator's ticket store (RFC 5723 sections 4.2, 4.3.1, 6.2), persisted as JSON.

One record per peer (the gateway's identity, --remote-id, else "host:port"), as made by Initiator (every "from the ticket" item of section 5 plus
the opaque ticket and its absolute expiry). Rules enforced here:
- ``take(peer, now)`` removes the record before returning it, and writes the file, so a ticket is never
  presented twice, even across a crash (4.3.1 "MUST NOT reuse");
- an expired record is dropped, never returned (4.3.1);
- ``delete(peer)`` on SA delete / rekey (6.2), ``logout()`` drops every ticket and the file (6.2, 9.7).
The file is written through microticket.store.write_private (owner-only mode where the OS has one). A
damaged file (not JSON, not an object, a record that is not an object with a numeric expiry) is read as
what was sound in it and rewritten at once, so a board never fails on it twice.
"""

import json
from micropython import const
from microticket import store as _fs

_MAX_RECORDS = const(16)


class TicketStore:
    def __init__(self, path=None):
        self.path = path
        self._d = None

    def _load(self):
        if self._d is None:
            self._d = {}
            if self.path:
                damaged = False
                _fs.recover(self.path)
                try:
                    with open(self.path, "rb") as f:  # parsed from the stream: no copy of the file in the heap
                        doc = json.load(f)
                except OSError:
                    doc = {}  # no file yet
                except ValueError:  # not JSON (garbage, non-UTF-8 bytes, a torn write)
                    doc = None
                if not isinstance(doc, dict):
                    doc = {}
                    damaged = True
                for peer in doc:
                    # a record is an object with a numeric expiry; the initiator checks the rest of it
                    r = doc[peer]
                    if isinstance(r, dict) and type(r.get("expires")) in (int, float):
                        self._d[peer] = r
                    else:
                        damaged = True
                if damaged:
                    self._save()  # a damaged file is rewritten with what was sound in it (maybe nothing)
        return self._d

    def _save(self):
        if self.path:
            _fs.write_private(self.path, self._d, json.dump)  # streamed: the JSON text is never one string

    def put(self, peer, record):
        d = self._load()
        if peer not in d and len(d) >= _MAX_RECORDS:
            # drop the record that expires first
            first = None
            for k in d:
                if first is None or d[k].get("expires", 0) < d[first].get("expires", 0):
                    first = k
            d.pop(first)
        d[peer] = record
        self._save()

    def peek(self, peer, now=None):
        r = self._load().get(peer)
        if r is not None and now is not None and now >= r.get("expires", 0):
            return None
        return r

    def take(self, peer, now):
        d = self._load()
        r = d.pop(peer, None)
        if r is not None:
            self._save()
            if now >= r.get("expires", 0):
                return None
        return r

    def delete(self, peer):
        d = self._load()
        if d.pop(peer, None) is not None:
            self._save()
            return True
        return False

    def logout(self):
        """Forget every ticket (the user's credentials are gone: RFC 5723 section 6.2)."""
        self._d = {}
        if self.path:
            _fs.remove(self.path)
            _fs.remove(self.path + ".tmp")

    def __len__(self):
        return len(self._load())
