"""IKEv2 (RFC 7296, RFC 7815 minimal initiator profile) with RFC 5723 session resumption.

Import only what you use:
    microticket.ike.initiator    Initiator: sans-IO initiator (full exchange, IKE_SESSION_RESUME, tickets)
    microticket.ike.gateway      Gateway: sans-IO responder issuing/accepting tickets by value or reference
    microticket.ike.ticketstore  TicketStore: the initiator's persisted tickets (one-time, expiry, logout)
    microticket.ike.ticket       the gateway's ticket formats (RFC 5723 Appendix A.1 / A.2), invalid ticket list
    microticket.ike.message      header/payload codec;  microticket.ike.keys  key schedule, SK payload, AUTH
    microticket.ike.udp          blocking UDP drivers (the commands ike-gateway / ike-initiate: microticket.cli)
    microticket.ike.dh           what a resumption never needs: DH, SA/KE/TS bodies, the initiator's full
                                 exchange and INFORMATIONAL exchanges (loaded on first use)

A resuming initiator loads only initiator, message, keys and udp (plus microticket.crypto and .errors).
"""
