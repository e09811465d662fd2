"""TLS 1.2 with RFC 5077 session tickets: sans-IO engines and thin drivers.

    microticket.tls.server   TlsServer, ServerConfig   (stateless: tickets, no session cache)
    microticket.tls.client   TlsClient                 (ticket cache in microticket.tls.cache); its
                             full-handshake half is microticket.tls.client_full, loaded only when needed
    microticket.tls.psk_client  PskClient              the compact board client for the PSK suites
    microticket.tls.record   the record layer (AES-128-CBC + HMAC-SHA256, explicit IV, encrypt_then_mac)
    microticket.tls.messages handshake message codec (what a resumption needs; the full-handshake
                             messages are in microticket.tls.msg_full)
    microticket.tls.driver   blocking-socket drivers (asyncio: microticket.tls.aio)
    microticket.tls.const    every TLS number as a name (the engine modules inline what they use)

Import the submodule you use. This package module imports nothing and holds only to_hex (key log lines,
the ticket cache file: every engine needs it, and a def here costs no module of its own). Each path loads
only its own modules: a resuming client never loads server, msg_full, client_full, const, RSA, DER,
X25519 or asyncio code. The commands (tls-server, tls-client) are in microticket.cli.
"""


_HEX = b"0123456789abcdef"


def to_hex(b):
    """Lower-case hex of ``b`` in one buffer (no per-byte strings)."""
    out = bytearray(2 * len(b))
    i = 0
    for x in b:
        out[i] = _HEX[x >> 4]
        out[i + 1] = _HEX[x & 15]
        i += 2
    return out.decode()
