"""Alert names for messages (RFC 5246 section 7.2 and the extension RFCs): a module of its own, so a
command line that prints an alert name does not load microticket.tls.const. The alerts a peer of ours may
send, not every one: the servers hold this table for their lifetime (each name is a heap object on a board).
(A name of 10 characters or fewer is made from bytes: as a str constant it would be an interned string for
good.)"""

ALERT_NAMES = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
               40: "handshake_failure", 42: "bad_certificate", 47: "illegal_parameter", 48: b"unknown_ca".decode(),
               50: "decode_error", 51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
               80: "internal_error", 100: "no_renegotiation", 110: "unsupported_extension",
               115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol"}
