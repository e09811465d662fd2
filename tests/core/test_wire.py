"""microticket.wire: every overrun is a DecodeError, every overflow a BufferFull; same on MicroPython."""

import pytest

from microticket.errors import DecodeError, BufferFull
from microticket.wire import Reader, Writer


def test_reader_integers_and_vectors():
    r = Reader(bytes.fromhex("01 0203 040506 0708090a 03616263 0002 0102"))
    assert (r.u8(), r.u16(), r.u24(), r.u32()) == (1, 0x0203, 0x040506, 0x0708090A)
    assert bytes(r.vec(1)) == b"abc"
    sub = r.sub(2)
    assert (sub.u8(), sub.u8()) == (1, 2)
    sub.done()
    r.done()


@pytest.mark.parametrize("op", ["u8", "u16", "u24", "u32"])
def test_reader_overrun(op):
    with pytest.raises(DecodeError):
        getattr(Reader(b""), op)()


def test_vector_bounds_and_overrun():
    with pytest.raises(DecodeError):
        Reader(b"\x05ab").vec(1)  # length beyond the data
    with pytest.raises(DecodeError):
        Reader(b"\x02ab").vec(1, 3, 10)  # below the minimum
    with pytest.raises(DecodeError):
        Reader(b"\x00\x03abc").vec(2, 0, 2)  # above the maximum
    r = Reader(b"\x01\x02\x03", 0, 2)  # the bound is the structure, not the buffer
    r.u16()
    with pytest.raises(DecodeError):
        r.u8()
    with pytest.raises(DecodeError):
        Reader(b"abc", 2, 1)
    with pytest.raises(DecodeError):
        Reader(b"ab").skip(3)
    with pytest.raises(DecodeError):
        Reader(b"ab").done()


def test_writer_fills_caller_buffer_and_refuses_to_grow():
    buf = bytearray(8)
    w = Writer(buf)
    m = w.begin(2)
    w.u8(7)
    w.put(b"xy")
    w.end(m)
    w.u16(0xBEEF)
    assert w.getvalue() == bytes.fromhex("0003 07 7879 beef")
    with pytest.raises(BufferFull):
        w.u32(1)
    assert len(buf) == 8
    with pytest.raises(BufferFull):
        Writer(bytearray(300)).vec(1, bytes(256))


def test_wire_on_micropython(mp):
    script = """
from microticket.wire import Reader, Writer
from microticket.errors import DecodeError, BufferFull
r = Reader(bytes([1, 0, 2, 9, 9]))
print(r.u8(), bytes(r.vec(2)) == bytes([9, 9]))
try:
    r.u8()
except DecodeError:
    print("overrun")
w = Writer(bytearray(3))
try:
    w.u32(1)
except BufferFull:
    print("full")
"""
    assert mp.run_mp(script, check=True).stdout.split() == ["1", "True", "overrun", "full"]
