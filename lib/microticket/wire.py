"""Bounded reader and writer for TLS/IKE presentation-language structures (RFC 5246 section 4).

Reader walks a bytes/bytearray/memoryview between ``pos`` and ``end``; every read that would pass ``end``
raises DecodeError, so a length field can never make a parser read outside its structure. Writer fills a
caller-supplied bytearray and raises BufferFull instead of growing it.
"""

from microticket.errors import DecodeError, BufferFull

# Error messages are longer than 10 characters: MicroPython interns a shorter string constant (on a board,
# heap for good), not a longer one.


class Reader:
    def __init__(self, data, start=0, end=-1):
        if end < 0:
            end = len(data)
        if start < 0 or start > end or end > len(data):
            raise DecodeError("bounds outside the data")
        self.data = data
        self.pos = start
        self.end = end

    def remaining(self):
        return self.end - self.pos

    def need(self, n):
        if n < 0 or self.pos + n > self.end:
            raise DecodeError("truncated data")

    def u8(self):
        p = self.pos
        if p + 1 > self.end:
            raise DecodeError("truncated data")
        self.pos = p + 1
        return self.data[p]

    def u16(self):
        p = self.pos
        if p + 2 > self.end:
            raise DecodeError("truncated data")
        d = self.data
        self.pos = p + 2
        return (d[p] << 8) | d[p + 1]

    def u24(self):
        p = self.pos
        if p + 3 > self.end:
            raise DecodeError("truncated data")
        d = self.data
        self.pos = p + 3
        return (d[p] << 16) | (d[p + 1] << 8) | d[p + 2]

    def u32(self):
        p = self.pos
        if p + 4 > self.end:
            raise DecodeError("truncated data")
        d = self.data
        self.pos = p + 4
        return (d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]

    def skip(self, n):
        self.need(n)
        self.pos += n

    def take(self, n):
        """The next n bytes, as a slice of the underlying data (a memoryview if the data is one)."""
        self.need(n)
        p = self.pos
        self.pos = p + n
        return self.data[p:p + n]

    def _vec_len(self, width, lo, hi):
        if width == 1:
            n = self.u8()
        elif width == 2:
            n = self.u16()
        else:
            n = self.u24()
        if n < lo or n > hi:
            raise DecodeError("vector length out of range")
        self.need(n)
        return n

    def vec(self, width, lo=0, hi=0xFFFFFF):
        """A vector <lo..hi> with a ``width``-byte length prefix; returns its bytes."""
        return self.take(self._vec_len(width, lo, hi))

    def sub(self, width, lo=0, hi=0xFFFFFF):
        """A Reader bounded to the next length-prefixed vector; this reader moves past it."""
        n = self._vec_len(width, lo, hi)
        r = Reader(self.data, self.pos, self.pos + n)
        self.pos += n
        return r

    def sub_n(self, n):
        """A Reader bounded to the next n bytes; this reader moves past them."""
        self.need(n)
        r = Reader(self.data, self.pos, self.pos + n)
        self.pos += n
        return r

    def done(self):
        if self.pos != self.end:
            raise DecodeError("trailing bytes")


class Writer:
    def __init__(self, buf, start=0):
        self.buf = buf
        self.pos = start
        self.cap = len(buf)

    def _room(self, n):
        if self.pos + n > self.cap:
            raise BufferFull("output buffer full")

    def u8(self, v):
        self._room(1)
        self.buf[self.pos] = v & 0xFF
        self.pos += 1

    def u16(self, v):
        self._room(2)
        b = self.buf
        p = self.pos
        b[p] = (v >> 8) & 0xFF
        b[p + 1] = v & 0xFF
        self.pos = p + 2

    def u24(self, v):
        self._room(3)
        b = self.buf
        p = self.pos
        b[p] = (v >> 16) & 0xFF
        b[p + 1] = (v >> 8) & 0xFF
        b[p + 2] = v & 0xFF
        self.pos = p + 3

    def u32(self, v):
        self._room(4)
        b = self.buf
        p = self.pos
        b[p] = (v >> 24) & 0xFF
        b[p + 1] = (v >> 16) & 0xFF
        b[p + 2] = (v >> 8) & 0xFF
        b[p + 3] = v & 0xFF
        self.pos = p + 4

    def put(self, data):
        n = len(data)
        self._room(n)
        self.buf[self.pos:self.pos + n] = data
        self.pos += n

    def zeros(self, n):
        self._room(n)
        b = self.buf
        for i in range(self.pos, self.pos + n):
            b[i] = 0
        self.pos += n

    def vec(self, width, data):
        """Write ``data`` with a ``width``-byte length prefix."""
        n = len(data)
        if n >> (8 * width):
            raise BufferFull("vector too long for its length field")
        self._put_len(width, n)
        self.put(data)

    def _put_len(self, width, n):
        if width == 1:
            self.u8(n)
        elif width == 2:
            self.u16(n)
        else:
            self.u24(n)

    def begin(self, width):
        """Reserve a ``width``-byte length prefix; pass the returned mark to ``end``."""
        self._room(width)
        mark = self.pos
        self.pos += width
        return (mark << 2) | width

    def end(self, mark):
        width = mark & 3
        at = mark >> 2
        n = self.pos - at - width
        if n >> (8 * width):
            raise BufferFull("vector too long for its length field")
        save = self.pos
        self.pos = at
        self._put_len(width, n)
        self.pos = save

    def getvalue(self):
        return bytes(self.buf[:self.pos])
