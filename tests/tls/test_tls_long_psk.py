"""Pre-shared keys of every length RFC 4279 section 2 allows (psk<0..2^16-1>), not only the 16 bytes
people test with: the premaster secret's two length fields take the key's length as a uint16 (a key of 256
bytes or more needs the high byte). One builder serves both roles (microticket.tls.kx_psk.premaster), so
a client/server pair would agree even on a wrong encoding: the encoding is checked against RFC 4279's
layout built here independently, on both runtimes, and the handshake against OpenSSL (which takes keys up
to 512 bytes, PSK_MAX_PSK_LEN) in both directions, our client on both runtimes."""

import struct
import sys

import pytest

from microticket.ticket import KeyRing
from microticket.tls.cache import TicketCache
from microticket.tls.client import Client
from microticket.tls.kx_psk import premaster
from microticket.tls.server import ServerConfig, TlsServer

import tlspeers as P
from tlspeers import pump

from consts import TLS_T0 as T0

ID = b"Client_identity"
LENGTHS = [1, 255, 256, 300, 1024]
OPENSSL_LENGTHS = [1, 255, 256, 300, 512]
PSK = 0x00AE
ECDHE_PSK = 0xC037


def key(n):
    return bytes((7 * i + 1) & 0xFF for i in range(n))


def rfc4279_premaster(other, psk):
    """struct { opaque other_secret<0..2^16-1>; opaque psk<0..2^16-1>; } (RFC 4279 section 2)."""
    return struct.pack(">H", len(other)) + other + struct.pack(">H", len(psk)) + psk


@pytest.mark.parametrize("n", LENGTHS + [65535])
def test_premaster_layout(n):
    k = key(n)
    assert bytes(premaster(bytes(n), k)) == rfc4279_premaster(bytes(n), k)          # plain PSK
    assert bytes(premaster(b"\x5a" * 32, k)) == rfc4279_premaster(b"\x5a" * 32, k)  # ECDHE_PSK


PREMASTER_SCRIPT = r"""
from microticket.tls.kx_psk import premaster
for n in (1, 255, 256, 300, 1024):
    k = bytes((7 * i + 1) & 0xFF for i in range(n))
    print(n, bytes(premaster(bytes(n), k)).hex(), bytes(premaster(b"\x5a" * 32, k)).hex())
"""


@pytest.mark.micropython
def test_premaster_layout_under_micropython(mp):
    """Where a bytearray silently keeps the low byte of a value over 255 (MicroPython), a missed high byte
    would not raise: the bytes are compared with RFC 4279's layout."""
    r = mp.run_mp_code(PREMASTER_SCRIPT)
    lines = r.stdout.split("\n")
    got = dict((int(l.split()[0]), l.split()[1:]) for l in lines if l.strip())
    for n in (1, 255, 256, 300, 1024):
        k = key(n)
        assert got[n] == [rfc4279_premaster(bytes(n), k).hex(), rfc4279_premaster(b"\x5a" * 32, k).hex()], n


@pytest.mark.parametrize("suite", [PSK, ECDHE_PSK], ids=["PSK", "ECDHE_PSK"])
@pytest.mark.parametrize("n", LENGTHS)
def test_pair_full_then_resumed(n, suite):
    ring = KeyRing.generate(T0)
    cfg = ServerConfig(ring, psk={ID: key(n)})
    cache = TicketCache()
    c, s = pump(Client("srv", ID, key(n), cache=cache, suites=[suite]), TlsServer(cfg), T0)
    assert c.handshake_done and s.handshake_done and not c.resumed and c.suite == suite, c.error_message
    c2, s2 = pump(Client("srv", ID, key(n), cache=cache, suites=[suite]), TlsServer(cfg), T0 + 1)
    assert c2.resumed and s2.resumed and c2.master == c.master


def _openssl_server(n):
    return P.start_openssl_psk_server(cipher=P.OSSL_PSK + ":" + P.OSSL_ECDHE_PSK, psk_hex=key(n).hex())


@pytest.mark.interop
@pytest.mark.skipif(not P.have("openssl"), reason="openssl missing")
@pytest.mark.parametrize("runtime", ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)])
@pytest.mark.parametrize("n", OPENSSL_LENGTHS)
def test_our_client_against_openssl_server(n, runtime, tmp_path):
    """Our client (the command line, both runtimes) with a key of ``n`` bytes: full handshake, then
    resumed from the ticket, against openssl s_server -psk (no session cache). On MicroPython the key
    comes from --psk-file: its command line takes no argument over 255 characters."""
    if runtime == "micropython" and n not in (255, 256, 300):
        pytest.skip("MicroPython runs the lengths around the uint16 high byte (the slow runtime)")
    srv = _openssl_server(n)
    cache = str(tmp_path / "cache.json")
    keyfile = tmp_path / "psk.hex"
    keyfile.write_text(key(n).hex() + "\n")
    credential = ["--psk-file", str(keyfile)] if runtime == "micropython" else ["--psk", key(n).hex()]
    args = ["--psk-identity", P.PSK_ID, "--cache", cache, "--send", "hello\n"] + credential
    P.client_full_then_resumed(srv, args, runtime, reply="olleh")


@pytest.mark.interop
@pytest.mark.skipif(not P.have("openssl"), reason="openssl missing")
@pytest.mark.parametrize("cipher", [P.OSSL_PSK, P.OSSL_ECDHE_PSK])
@pytest.mark.parametrize("runtime", ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)])
@pytest.mark.parametrize("n", [256, 300, 512])
def test_openssl_client_against_our_server(n, cipher, runtime, tmp_path):
    """openssl s_client -psk with a key of ``n`` bytes completes a handshake with our server (its key from
    --psk-file; on MicroPython the 300-byte key only)."""
    if runtime == "micropython" and n != 300:
        pytest.skip("MicroPython runs one length over 255 bytes (the slow runtime)")
    keyfile = tmp_path / "psk.hex"
    keyfile.write_text(key(n).hex())
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk-file", str(keyfile)], runtime)
    try:
        r = P.run_openssl_psk_client(srv.port, cipher=cipher, psk_hex=key(n).hex(), data=b"ping\n")
    finally:
        log = srv.stop()
    out = r.stdout.decode(errors="replace")
    assert ("Cipher is " + cipher) in out, out + r.stderr.decode(errors="replace") + log
