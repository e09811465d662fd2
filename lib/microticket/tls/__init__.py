"""TLS 1.2 with RFC 5077 session tickets: sans-IO engines and thin drivers.

    microticket.tls.server   TlsServer, ServerConfig   (stateless: tickets, no session cache)
    microticket.tls.client   TlsClient                 (ticket cache in microticket.tls.cache)
    microticket.tls.record   the record layer (AES-128-CBC + HMAC-SHA256, explicit IV, encrypt_then_mac)
    microticket.tls.messages handshake message codec
    microticket.tls.driver   blocking-socket and asyncio drivers
    microticket.tls.cli      `python -m microticket tls-server | tls-client`

Import the submodule you use; this package module imports nothing.
"""
