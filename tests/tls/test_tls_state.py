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
