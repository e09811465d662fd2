"""TLS numbers (RFC 5246, RFC 8446 and the extension RFCs), as const() so a board's compiler folds them."""

from micropython import const

VERSION_TLS12 = const(0x0303)
VERSION_TLS13 = const(0x0304)  # RFC 8446 (supported_versions; the record layer still says 0x0303)

# ContentType (RFC 5246 section 6.2.1)
CT_CHANGE_CIPHER_SPEC = const(20)
CT_ALERT = const(21)
CT_HANDSHAKE = const(22)
CT_APPLICATION_DATA = const(23)

# HandshakeType (RFC 5246 section 7.4; NewSessionTicket RFC 5077 section 3.3)
HT_HELLO_REQUEST = const(0)
HT_CLIENT_HELLO = const(1)
HT_SERVER_HELLO = const(2)
HT_NEW_SESSION_TICKET = const(4)
HT_CERTIFICATE = const(11)
HT_SERVER_KEY_EXCHANGE = const(12)
HT_CERTIFICATE_REQUEST = const(13)
HT_SERVER_HELLO_DONE = const(14)
HT_CERTIFICATE_VERIFY = const(15)
HT_CLIENT_KEY_EXCHANGE = const(16)
HT_FINISHED = const(20)
# a pseudo message type for the transition tables: ChangeCipherSpec is a record, not a handshake message
HT_CCS = const(0x100)

# AlertLevel / AlertDescription (RFC 5246 section 7.2; 4279 section 2; 5746 section 3.6)
LEVEL_WARNING = const(1)
LEVEL_FATAL = const(2)
CLOSE_NOTIFY = const(0)
UNEXPECTED_MESSAGE = const(10)
BAD_RECORD_MAC = const(20)
RECORD_OVERFLOW = const(22)
HANDSHAKE_FAILURE = const(40)
BAD_CERTIFICATE = const(42)
ILLEGAL_PARAMETER = const(47)
DECODE_ERROR = const(50)
DECRYPT_ERROR = const(51)
PROTOCOL_VERSION = const(70)
INSUFFICIENT_SECURITY = const(71)
INTERNAL_ERROR = const(80)
NO_RENEGOTIATION = const(100)
UNSUPPORTED_EXTENSION = const(110)
UNKNOWN_PSK_IDENTITY = const(115)

from microticket.tls.alerts import ALERT_NAMES  # noqa: E402 (a module of its own: the CLIs load only it)

# ExtensionType
EXT_SERVER_NAME = const(0)             # RFC 6066 section 3
EXT_MAX_FRAGMENT_LENGTH = const(1)     # RFC 6066 section 4
EXT_SUPPORTED_GROUPS = const(10)       # RFC 8422 section 5.1.1
EXT_EC_POINT_FORMATS = const(11)       # RFC 8422 section 5.1.2
EXT_SIGNATURE_ALGORITHMS = const(13)   # RFC 5246 section 7.4.1.4.1
EXT_ENCRYPT_THEN_MAC = const(22)       # RFC 7366
EXT_EXTENDED_MASTER_SECRET = const(23)  # RFC 7627
EXT_SESSION_TICKET = const(35)         # RFC 5077 section 3.2
EXT_RENEGOTIATION_INFO = const(0xFF01)  # RFC 5746 section 3.2

SCSV_RENEGOTIATION = const(0x00FF)     # TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 section 3.3)

# Cipher suites, all with the SHA-256 PRF (microticket.tls.engine's table; microticket.tls.alerts.suite_name)
PSK_WITH_AES_128_CBC_SHA256 = const(0x00AE)               # RFC 5487 section 3.1
PSK_WITH_AES_128_GCM_SHA256 = const(0x00A8)               # RFC 5487 section 3.1
PSK_WITH_CHACHA20_POLY1305_SHA256 = const(0xCCAB)         # RFC 7905 section 2
PSK_WITH_AES_128_CCM = const(0xC0A4)                      # RFC 6655 section 4
PSK_WITH_AES_128_CCM_8 = const(0xC0A8)                    # RFC 6655 section 4
ECDHE_PSK_WITH_AES_128_CBC_SHA256 = const(0xC037)         # RFC 5489 section 3
ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 = const(0xCCAC)   # RFC 7905 section 2
ECDHE_RSA_WITH_AES_128_CBC_SHA256 = const(0xC027)         # RFC 5289 section 3.2
ECDHE_RSA_WITH_AES_128_CBC_SHA = const(0xC013)            # RFC 8422 section 6
ECDHE_RSA_WITH_AES_128_GCM_SHA256 = const(0xC02F)         # RFC 5289 section 3.2
ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = const(0xCCA8)   # RFC 7905 section 2
ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 = const(0xC023)       # RFC 5289 section 3.1
ECDHE_ECDSA_WITH_AES_128_CBC_SHA = const(0xC009)          # RFC 8422 section 6
ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = const(0xC02B)       # RFC 5289 section 3.2
ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = const(0xCCA9)  # RFC 7905 section 2
AES_128_GCM_SHA256 = const(0x1301)                        # TLS 1.3: RFC 8446 appendix B.4
CHACHA20_POLY1305_SHA256 = const(0x1303)                  # RFC 8446 appendix B.4
AES_128_CCM_SHA256 = const(0x1304)                        # RFC 8446 appendix B.4

GROUP_SECP256R1 = const(23)            # RFC 8422 section 5.1.1
GROUP_X25519 = const(29)               # RFC 8422 section 5.1.1
SIG_RSA_PKCS1_SHA256 = const(0x0401)   # RFC 5246 section 7.4.1.4.1 (hash 4 = sha256, signature 1 = rsa)
SIG_ECDSA_SECP256R1_SHA256 = const(0x0403)  # RFC 8422 section 5.1.3 / RFC 8446 section 4.2.3
SIG_RSA_PSS_RSAE_SHA256 = const(0x0804)     # RFC 8446 section 4.2.3 (used by TLS 1.2 too)
CURVE_NAMED = const(3)                 # ECCurveType named_curve (RFC 8422 section 5.4)

# max_fragment_length codes (RFC 6066 section 4) -> bytes
MFL_SIZES = {1: 512, 2: 1024, 3: 2048, 4: 4096}

MAX_PLAINTEXT = const(16384)           # 2^14 (RFC 5246 section 6.2.1)
