"""The one exception hierarchy of microticket.

Every piece of bad input ends in one of these, never in an IndexError, a crash or a hang:

    MicroticketError
      DecodeError        bytes that do not parse (overrun, bad length, bad value)
      BufferFull         output does not fit the fixed buffer it is written into (a local limit)
      TicketRejected     a ticket that is not accepted; ``reason`` says why
      TlsAlert           a TLS alert to send (or received); ``description`` is the alert code
      IkeNotifyError     an IKEv2 error notify to send (or received); ``notify_type`` is the type
"""


class MicroticketError(Exception):
    pass


class DecodeError(MicroticketError):
    pass


class BufferFull(MicroticketError):
    pass


# Reasons a ticket is refused (RFC 5077 section 4 and 5); plain strings so logs and tests read them.
REASONS = ("unknown-key", "malformed", "bad-mac", "bad-padding", "expired", "future", "too-long")


class TicketRejected(MicroticketError):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class TlsAlert(MicroticketError):
    """A fatal TLS alert (RFC 5246 section 7.2). ``received`` is True when the peer sent it."""

    def __init__(self, description, message="", received=False):
        super().__init__(description, message)
        self.description = description
        self.message = message
        self.received = received


class IkeNotifyError(MicroticketError):
    """An IKEv2 error notify (RFC 7296 section 3.10.1). ``received`` is True when the peer sent it."""

    def __init__(self, notify_type, message="", received=False):
        super().__init__(notify_type, message)
        self.notify_type = notify_type
        self.message = message
        self.received = received
