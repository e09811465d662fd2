"""microticket: stateless session resumption for small machines.

RFC 5077 TLS session tickets (client and server) and RFC 5723 IKEv2 session resumption, in pure Python that
runs unchanged on MicroPython and on CPython (through ports/cpython). Import only the part you use:

    microticket.ticket   sealed tickets and key rings (RFC 5077 section 4)
    microticket.tls.state    the StatePlaintext codec
    microticket.tls      the TLS 1.2 engine
    microticket.ike      the IKEv2 engine
"""

__version__ = "0.1.0"
