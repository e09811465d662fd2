"""IKEv2 numbers (RFC 7296 section 3, IANA "IKEv2 Parameters") and the RFC 5723 additions.

Only the values this engine uses; ``notify_name`` turns a notify number into its IANA name (the name
tables live in names.py, loaded only on that path, so a board does not keep them in RAM).
"""

from micropython import const

IKE_VERSION = const(0x20)  # major 2, minor 0
HDR_LEN = const(28)
NON_ESP_MARKER = b"\x00\x00\x00\x00"  # RFC 3948 section 2.2

# Exchange types (RFC 7296 section 3.1; RFC 5723 section 4.3.2)
IKE_SA_INIT = const(34)
IKE_AUTH = const(35)
CREATE_CHILD_SA = const(36)
INFORMATIONAL = const(37)
IKE_SESSION_RESUME = const(38)

# Header flags
FLAG_I = const(0x08)
FLAG_V = const(0x10)
FLAG_R = const(0x20)

# Payload types (RFC 7296 section 3.2)
PT_NONE = const(0)
PT_SA = const(33)
PT_KE = const(34)
PT_IDI = const(35)
PT_IDR = const(36)
PT_CERT = const(37)
PT_CERTREQ = const(38)
PT_AUTH = const(39)
PT_NONCE = const(40)
PT_NOTIFY = const(41)
PT_DELETE = const(42)
PT_VENDOR = const(43)
PT_TSI = const(44)
PT_TSR = const(45)
PT_SK = const(46)
PT_CP = const(47)
PT_EAP = const(48)
PT_SKF = const(53)

# payload types this codec knows (an unknown one with the critical bit set is refused)
KNOWN_PAYLOADS = (33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53)

# Protocol IDs
PROTO_IKE = const(1)
PROTO_AH = const(2)
PROTO_ESP = const(3)

# Transform types and IDs (RFC 7296 section 3.3.2)
TT_ENCR = const(1)
TT_PRF = const(2)
TT_INTEG = const(3)
TT_DH = const(4)
TT_ESN = const(5)
ENCR_AES_CBC = const(12)
PRF_HMAC_SHA2_256 = const(5)
AUTH_HMAC_SHA2_256_128 = const(12)
ATTR_KEY_LENGTH = const(14)
DH_MODP2048 = const(14)  # RFC 3526
DH_CURVE25519 = const(31)  # RFC 8031
ESN_NONE = const(0)
DH_KE_LEN = {14: 256, 31: 32}

# Identification types (RFC 7296 section 3.5)
ID_IPV4_ADDR = const(1)
ID_FQDN = const(2)
ID_RFC822_ADDR = const(3)
ID_KEY_ID = const(11)

# Authentication methods (RFC 7296 section 3.8)
AUTH_PSK = const(2)

# Traffic selector type
TS_IPV4_ADDR_RANGE = const(7)

# Notify types: errors (RFC 7296 section 3.10.1)
UNSUPPORTED_CRITICAL_PAYLOAD = const(1)
INVALID_IKE_SPI = const(4)
INVALID_MAJOR_VERSION = const(5)
INVALID_SYNTAX = const(7)
INVALID_MESSAGE_ID = const(9)
INVALID_SPI = const(11)
NO_PROPOSAL_CHOSEN = const(14)
INVALID_KE_PAYLOAD = const(17)
AUTHENTICATION_FAILED = const(24)
SINGLE_PAIR_REQUIRED = const(34)
NO_ADDITIONAL_SAS = const(35)
INTERNAL_ADDRESS_FAILURE = const(36)
FAILED_CP_REQUIRED = const(37)
TS_UNACCEPTABLE = const(38)
INVALID_SELECTORS = const(39)
TEMPORARY_FAILURE = const(43)
CHILD_SA_NOT_FOUND = const(44)
# Status types
INITIAL_CONTACT = const(16384)
NAT_DETECTION_SOURCE_IP = const(16388)
NAT_DETECTION_DESTINATION_IP = const(16389)
COOKIE = const(16390)
USE_TRANSPORT_MODE = const(16391)
REKEY_SA = const(16393)
# RFC 5723 section 7
TICKET_LT_OPAQUE = const(16409)
TICKET_REQUEST = const(16410)
TICKET_ACK = const(16411)
TICKET_NACK = const(16412)
TICKET_OPAQUE = const(16413)
CHILDLESS_IKEV2_SUPPORTED = const(16418)  # RFC 6023


# Errors about a Child SA: the IKE SA itself is still up (RFC 7296 section 1.2, RFC 7815 section 2)
CHILD_ERRORS = (NO_PROPOSAL_CHOSEN, SINGLE_PAIR_REQUIRED, INTERNAL_ADDRESS_FAILURE, FAILED_CP_REQUIRED,
                TS_UNACCEPTABLE, INVALID_SELECTORS, NO_ADDITIONAL_SAS)

# The one IKE suite of this profile (RFC 7815 section 2): AES-CBC-128, HMAC-SHA2-256(-128), PRF-HMAC-SHA2-256
KEY_LEN_E = const(16)
KEY_LEN_A = const(32)
KEY_LEN_PRF = const(32)
ICV_LEN = const(16)
BLOCK = const(16)


# Names of the initiator's states (initiator.py: _IDLE .. FAILED), for printing
STATE_NAMES = ("idle", "init-sent", "auth-sent", "resume-sent", "established", "info-sent", "closed", "failed")


def notify_name(t):
    """The IANA name of a notify type (the table is imported only when a name is needed)."""
    from microticket.ike import names
    return names.notify_name(t)
