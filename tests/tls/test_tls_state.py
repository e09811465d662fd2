"""StatePlaintext (RFC 5077 section 4) plus microticket's versioned tail, on both runtimes."""

import pytest

import mpharness
from microticket.errors import DecodeError
from microticket.tls.state import StatePlaintext, AUTH_PSK, AUTH_CERT

MS = bytes(range(48))


def test_rfc5077_prefix_is_byte_exact():
    st = StatePlaintext(0x0303, 0x00AE, MS, AUTH_PSK, identity=b"id", timestamp=0x01020304, ems=True,
                        created=0x0A0B0C0D, server_name=b"h")
    enc = st.encode()
    rfc = bytes.fromhex("0303" "00ae" "00") + MS + bytes.fromhex("02" "0002") + b"id" + bytes.fromhex("01020304")
    assert enc[:len(rfc)] == rfc
    assert enc[len(rfc):] == bytes.fromhex("01" "01" "0a0b0c0d" "01") + b"h"


def test_plain_rfc5077_state_decodes_as_layout0():
    rfc = bytes.fromhex("0303" "00ae" "00") + MS + bytes.fromhex("00") + bytes.fromhex("00000010")
    st = StatePlaintext.decode(rfc)
    assert st.layout == 0 and st.created == 16 and not st.ems


def test_both_runtimes_agree(mp):
    cpy, upy = mpharness.both("state_codec.py")
    assert cpy == upy
    lines = upy.splitlines()
    assert len(lines) == 3 and all(line.endswith("True") for line in lines)


@pytest.mark.parametrize("bad", [
    b"",
    bytes.fromhex("0303 00ae 01") + MS + b"\x00" + bytes(4),                # compression not null
    bytes.fromhex("0303 00ae 00") + MS + b"\x07" + bytes(4),                # unknown auth type
    bytes.fromhex("0303 00ae 00") + MS + b"\x02\x00\x05ab" + bytes(4),      # psk identity overruns
    bytes.fromhex("0303 00ae 00") + MS + b"\x01\x00\x00\x05\x00\x00\x09" + bytes(4),  # cert overruns
    bytes.fromhex("0303 00ae 00") + MS + b"\x00" + bytes(4) + b"\x02",      # unknown layout
    bytes.fromhex("0303 00ae 00") + MS + b"\x00" + bytes(4) + b"\x01\x80" + bytes(4) + b"\x00",  # unknown flag
    bytes.fromhex("0303 00ae 00") + MS + b"\x00" + bytes(4) + b"\x01\x00" + bytes(4) + b"\x00\x00",  # trailing
])
def test_bad_states_raise_decode_error(bad):
    with pytest.raises(DecodeError):
        StatePlaintext.decode(bad)


def test_every_truncation_is_a_decode_error():
    enc = StatePlaintext(0x0303, 0xC027, MS, AUTH_CERT, cert_list=[b"abc"], server_name=b"x").encode()
    prefix = len(enc) - (1 + 1 + 4 + 1 + 1)  # the tail: layout, flags, created, server_name<1>
    decoded = []
    for n in range(len(enc)):
        try:
            StatePlaintext.decode(enc[:n])
            decoded.append(n)
        except DecodeError:
            pass
    assert decoded == [prefix]  # only the bare RFC 5077 part (layout 0) is itself a valid state


def test_repr_hides_master_secret():
    assert MS.hex() not in repr(StatePlaintext(0x0303, 0xAE, MS))


# --- the codec by index arithmetic against the Reader/Writer one it replaced (microticket.wire) -------------

def _ref_encode(st):
    from microticket.wire import Writer
    out = bytearray(st.encoded_len())
    w = Writer(out)
    w.u16(st.version)
    w.u16(st.cipher_suite)
    w.u8(st.compression)
    w.put(st.master_secret)
    w.u8(st.auth_type)
    if st.auth_type == AUTH_CERT:
        m = w.begin(3)
        for c in st.cert_list:
            w.vec(3, c)
        w.end(m)
    elif st.auth_type == AUTH_PSK:
        w.vec(2, st.identity)
    w.u32(st.timestamp)
    w.u8(st.layout)
    w.u8(1 if st.ems else 0)
    w.u32(st.created)
    w.vec(1, st.server_name)
    if st.layout == 2:
        w.u32(st.age_add)
    return bytes(out)


def _ref_decode(data):
    from microticket.wire import Reader
    r = Reader(data)
    version = r.u16()
    suite = r.u16()
    if r.u8() != 0:
        raise DecodeError("compression")
    ms = bytes(r.take(32 if version == 0x0304 else 48))
    auth = r.u8()
    identity = b""
    certs = []
    if auth == AUTH_CERT:
        lst = r.sub(3)
        while lst.remaining():
            certs.append(bytes(lst.vec(3, 1)))
    elif auth == AUTH_PSK:
        identity = bytes(r.vec(2))
    elif auth != 0:
        raise DecodeError("auth")
    st = StatePlaintext(version, suite, ms, auth, identity, certs, r.u32())
    if r.remaining() == 0 and st.layout == 1:
        st.layout = 0
        st.created = st.timestamp
        return st
    if r.u8() != st.layout:
        raise DecodeError("layout")
    flags = r.u8()
    if flags & ~1:
        raise DecodeError("flags")
    st.ems = bool(flags & 1)
    st.created = r.u32()
    st.server_name = bytes(r.vec(1))
    if st.layout == 2:
        st.age_add = r.u32()
    else:
        r.done()
    return st


def _fields(st):
    return (st.version, st.cipher_suite, st.compression, st.master_secret, st.auth_type, st.identity,
            st.cert_list, st.timestamp, st.layout, st.ems, st.created, st.server_name, getattr(st, "age_add", None))


def _outcome(f, data):
    try:
        return _fields(f(data))
    except DecodeError:
        return "DecodeError"


def test_codec_matches_the_reader_writer_codec_on_random_states_and_bytes():
    """encode and decode give what the Reader/Writer codec gave (the wire module a server no longer loads):
    random states of both versions and every client authentication, their encodings decoded from bytes and
    from a memoryview, then each encoding truncated, with a byte changed and with bytes appended, and
    random bytes: the same fields or a DecodeError from both."""
    import random
    from microticket.tls.state import AUTH_ANONYMOUS
    rnd = random.Random(515)
    for i in range(600):
        v13 = rnd.random() < 0.3
        auth = rnd.choice((AUTH_ANONYMOUS, AUTH_CERT, AUTH_PSK))
        st = StatePlaintext(0x0304 if v13 else 0x0303, rnd.randrange(1 << 16), rnd.randbytes(32 if v13 else 48),
                            auth, identity=rnd.randbytes(rnd.choice((0, 1, 7, 300))),
                            cert_list=[rnd.randbytes(rnd.randint(1, 40)) for _ in range(rnd.randint(0, 3))],
                            timestamp=rnd.randrange(1 << 32), ems=rnd.random() < 0.5, created=rnd.randrange(1 << 32),
                            server_name=rnd.randbytes(rnd.choice((0, 1, 12, 255))), age_add=rnd.randrange(1 << 32))
        enc = st.encode()
        assert enc == _ref_encode(st)
        buf = bytearray(len(enc) + 9)
        assert st.encode(buf) == len(enc) and buf[:len(enc)] == enc
        for data in (enc, memoryview(bytearray(enc))):
            assert _outcome(StatePlaintext.decode, data) == _outcome(_ref_decode, data) != "DecodeError"
        cut = enc[:rnd.randrange(len(enc))]
        j = rnd.randrange(len(enc))
        bent = enc[:j] + bytes((enc[j] ^ (1 << rnd.randrange(8)),)) + enc[j + 1:]
        for data in (cut, bent, enc + rnd.randbytes(rnd.randint(1, 6)), rnd.randbytes(rnd.randint(0, 140)),
                     enc[:5] + rnd.randbytes(rnd.randint(0, 120))):
            assert _outcome(StatePlaintext.decode, data) == _outcome(_ref_decode, data)
    with pytest.raises(ValueError):
        StatePlaintext(0x0303, 1, MS, server_name=bytes(256)).encode()
    from microticket.errors import MicroticketError
    with pytest.raises(MicroticketError):  # BufferFull: an identity longer than its length field
        StatePlaintext(0x0303, 1, MS, AUTH_PSK, identity=bytes(1 << 16)).encode()
    with pytest.raises(MicroticketError):  # BufferFull: a buffer too small
        StatePlaintext(0x0303, 1, MS).encode(bytearray(10))
