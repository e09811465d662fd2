"""The one exception hierarchy of microticket.

Every piece of bad input ends in one of these, never in an IndexError, a crash or a hang:

    MicroticketError
      DecodeError        bytes that do not parse (overrun, bad length, bad value)
      BufferFull         output does not fit the fixed buffer it is written into (a local limit)
      TicketRejected     a ticket that is not accepted; ``reason`` says why
      TlsAlert           a TLS alert to send (or received); ``description`` is the alert code
      IkeNotifyError     an IKEv2 error notify to send (or received); ``notify_type`` is the type

Heap: a class costs ~320 bytes of heap (x86_64) when it is created, even when the .mpy runs from ROMFS. So
every class is created on first use (the module's ``__getattr__``, once each; afterwards it is a plain
module attribute): a TLS client never holds the IKE class nor an IKE initiator the TLS ones, and a
resumption that goes well holds none (the engines name them only where an error is raised or caught).
``from microticket.errors import TlsAlert`` and ``errors.TlsAlert`` work as always, and always give the
same class.
"""


def __getattr__(name):
    # the hierarchy, each class created on its first use and then kept in the module's globals
    c = globals().get(name)
    if c is not None:
        return c
    if name == "MicroticketError":
        class MicroticketError(Exception):
            pass
        c = MicroticketError
    elif name == "DecodeError":
        class DecodeError(__getattr__("MicroticketError")):
            pass
        c = DecodeError
    elif name == "IkeNotifyError":
        class IkeNotifyError(__getattr__("MicroticketError")):
            """An IKEv2 error notify (RFC 7296 section 3.10.1). ``received`` is True when the peer sent it."""

            def __init__(self, notify_type, message="", received=False):
                super().__init__(notify_type, message)
                self.notify_type = notify_type
                self.message = message
                self.received = received
        c = IkeNotifyError
    elif name == "BufferFull":
        class BufferFull(__getattr__("MicroticketError")):
            pass
        c = BufferFull
    elif name == "TicketRejected":
        class TicketRejected(__getattr__("MicroticketError")):
            def __init__(self, reason):
                super().__init__(reason)
                self.reason = reason
        c = TicketRejected
    elif name == "TlsAlert":
        class TlsAlert(__getattr__("MicroticketError")):
            """A fatal TLS alert (RFC 5246 section 7.2). ``received`` is True when the peer sent it."""

            def __init__(self, description, message="", received=False):
                super().__init__(description, message)
                self.description = description
                self.message = message
                self.received = received
        c = TlsAlert
    elif name == "REASONS":
        # Reasons a ticket is refused (RFC 5077 section 4 and 5); plain strings so logs and tests read them.
        # (split at run time: a constant tuple would be 7 string objects made when the module is loaded)
        c = tuple("unknown-key malformed bad-mac bad-padding expired future too-long".split())
    else:
        raise AttributeError(name)
    if name != "REASONS":
        try:
            c.__qualname__ = name  # CPython: "microticket.errors.TlsAlert" in tracebacks, not "...<locals>..."
        except (AttributeError, TypeError):
            pass
    globals()[name] = c
    return c
