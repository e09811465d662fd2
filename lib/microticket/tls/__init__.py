"""TLS 1.2 with RFC 5077 session tickets: one sans-IO engine per role and thin drivers.

    microticket.tls.client   Client                    every suite; reads the ticket cache
                                                       (microticket.tls.cache), emits ticket events
    microticket.tls.server   TlsServer, ServerConfig   stateless: tickets, no session cache
    microticket.tls.engine   what both roles run: the input and error paths, the state tables'
                             dispatch, transcript and key schedule, the client's hello/ticket codec
    microticket.tls.record   the record layer (AES-128-CBC + HMAC-SHA256, explicit IV, encrypt_then_mac)
    microticket.tls.kx_psk, kx_ecdhe_cert, ecdhe, auth_pin   the full handshakes' key exchanges and server
                             authentication, both roles, loaded only when a server does not resume
    microticket.tls.state    the StatePlaintext a server seals into its tickets
    microticket.tls.driver   blocking-socket drivers (asyncio: microticket.tls.aio; the server loops:
                             microticket.tls.serve)
    microticket.tls.const    every TLS number as a name (the engine modules inline what they use)

Import the submodule you use. This package module imports nothing and holds only to_hex (key log lines,
the ticket cache file: every engine needs it, and a def here costs no module of its own). Each path loads
only its own modules: a resuming client never loads the server, a key exchange, const, RSA, DER, X25519
or asyncio code. The commands (tls-server, tls-client) are in microticket.cli. docs/architecture.md
describes the engine and how to add a suite, a key exchange or a server authentication.
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
