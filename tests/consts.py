"""Constants shared by the test modules, defined once here (import them; don't define them again).

Clocks: the engines take the time as an argument, so each layer's tests run on a fixed clock of their own.
"""

# --- clocks (seconds) -------------------------------------------------------------------------------
CORE_T0 = 1_700_000_000   # key rings, tickets and key files (tests of the core modules)
TLS_T0 = 1_000_000        # the in-process TLS client/server pairs
IKE_T0 = 1_800_000_000    # the in-process IKE initiator/gateway pairs

# --- TLS pre-shared key (RFC 4279): the one every TLS test, our CLI and the real peers use ---------------
PSK_IDENTITY = b"Client_identity"
PSK_ID = PSK_IDENTITY.decode()
PSK_HEX = "0123456789abcdef0123456789abcdef"
PSK = bytes.fromhex(PSK_HEX)

# --- IKE pre-shared key (RFC 7296 section 2.15) of the in-process pairs and our gateway processes ------
IKE_PSK = b"0123456789abcdef"
IKE_PSK_HEX = IKE_PSK.hex()
# the peer address our gateway sees on loopback: 127.0.0.1, port 500
LOOPBACK_PEER = b"\x7f\x00\x00\x01\x01\xf4"
