# StatePlaintext encode/decode on both runtimes: prints the hex of three encodings and their decoded fields.
from microticket.tls.state import StatePlaintext, AUTH_ANONYMOUS, AUTH_CERT, AUTH_PSK


def hx(b):
    return "".join("%02x" % x for x in b)


ms = bytes(range(48))
cases = [
    StatePlaintext(0x0303, 0x00AE, ms, AUTH_PSK, identity=b"board-7", timestamp=1700000000, ems=True,
                   created=1699990000, server_name=b"gw.example"),
    StatePlaintext(0x0303, 0xC027, ms, AUTH_ANONYMOUS, timestamp=5),
    StatePlaintext(0x0303, 0xC027, ms, AUTH_CERT, cert_list=[b"\x30\x03\x02\x01\x01", b"\x30\x00"], timestamp=7),
]
for st in cases:
    enc = st.encode()
    back = StatePlaintext.decode(enc)
    print(hx(enc), back.version, back.cipher_suite, back.auth_type, hx(back.identity), len(back.cert_list),
          back.timestamp, back.ems, back.created, back.server_name.decode(), back == st)
