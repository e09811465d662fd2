"""Property-based: random bytes into every decoder of the core give a result or a microticket error, never
another exception. (The TLS and IKE message decoders have their own fuzz tests beside their engines.)"""

from hypothesis import given, settings, strategies as st, HealthCheck

from microticket import keyfile
from microticket.pk import der
from microticket.errors import MicroticketError, DecodeError, TicketRejected
from microticket.tls.state import StatePlaintext, AUTH_PSK
from microticket.ticket import KeyRing
from microticket.wire import Reader

from consts import CORE_T0 as NOW
RING = KeyRing.generate(NOW)
GOOD = RING.seal(StatePlaintext(0x0303, 0xAE, bytes(48), AUTH_PSK, identity=b"x").encode(), NOW)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.binary(max_size=400))
def test_ticket_open_random_bytes(data):
    try:
        RING.open(data, NOW)
    except TicketRejected as e:
        assert e.reason in ("unknown-key", "malformed", "bad-mac", "bad-padding", "expired", "future", "too-long")


@SETTINGS
@given(st.integers(0, len(GOOD) - 1), st.binary(min_size=1, max_size=8))
def test_ticket_open_spliced(pos, junk):
    t = GOOD[:pos] + junk + GOOD[pos + len(junk):]
    try:
        RING.open(t[:RING.max_ticket], NOW)
    except TicketRejected:
        pass


@SETTINGS
@given(st.binary(max_size=300))
def test_state_decode_random_bytes(data):
    try:
        StatePlaintext.decode(data)
    except DecodeError:
        pass


@SETTINGS
@given(st.binary(max_size=200), st.lists(st.sampled_from(["u8", "u16", "u24", "u32", "v1", "v2", "v3", "s2"]),
                                         max_size=20))
def test_reader_random_program(data, ops):
    r = Reader(data)
    try:
        for op in ops:
            if op[0] == "u":
                getattr(r, op)()
            elif op[0] == "v":
                r.vec(int(op[1]))
            else:
                r.sub(2).done()
    except DecodeError:
        pass


@SETTINGS
@given(st.binary(max_size=600))
def test_der_cert_random_bytes(data):
    try:
        der.cert_spki(data)
    except DecodeError:
        pass


@SETTINGS
@given(st.text(max_size=300))
def test_keyfile_random_text(text):
    try:
        keyfile.loads(KeyRing, text)
    except MicroticketError:
        pass
