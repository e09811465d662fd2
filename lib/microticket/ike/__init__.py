"""IKEv2 (RFC 7296, RFC 7815 minimal initiator profile) with RFC 5723 session resumption.

Import only what you use:
    microticket.ike.initiator    Initiator: sans-IO initiator (full exchange, IKE_SESSION_RESUME, tickets)
    microticket.ike.gateway      Gateway: sans-IO responder issuing/accepting tickets by value or reference
    microticket.ike.ticketstore  TicketStore: the initiator's persisted tickets (one-time, expiry, logout)
    microticket.ike.ticket       the gateway's ticket formats (RFC 5723 Appendix A.1 / A.2), invalid ticket list
    microticket.ike.message      header/payload codec;  microticket.ike.keys  key schedule, SK payload, AUTH
    microticket.ike.udp          blocking UDP drivers (the commands ike-gateway / ike-initiate: microticket.cli)
  what a resumption never loads (each on first use):
    microticket.ike.initiator_full  the initiator's IKE_SA_INIT, INFORMATIONAL exchanges and rekeying
    microticket.ike.payloads     SA/KE/ID/TS/Notify/Delete bodies, proposal selection
    microticket.ike.keys_full    SKEYSEED of the full exchange, PSK AUTH, NAT detection hash
    microticket.ike.rekey        IKE SA rekey pieces shared by initiator and gateway
    microticket.ike.dh           DH groups 31 (microticket.pk.x25519) and 14 (microticket.ike.modp)
    microticket.ike.keydump      the explicit debug key-dump
    microticket.ike.consts, .names  the IKEv2 numbers and their IANA names

Layers (each imports only those below it): initiator, gateway > initiator_full > rekey > payloads, keys_full,
dh > keys > message > core (microticket.crypto, .errors, .wire).
A resuming initiator loads only initiator, message, keys and udp (plus microticket.crypto and .errors).
"""
