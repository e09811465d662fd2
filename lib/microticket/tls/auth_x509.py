"""Server authentication by X.509 path validation (microticket.pk.x509): the server's chain must lead to a
root of the client's CA file (``Client(trust=OPENER)``: a function of the caller's that returns the PEM
file as a readable object; the engine opens no file itself), name its ``server_name`` (a DNS name or an IP
literal) and be valid at the client's ``now`` (``time_unknown=True``: a board whose clock is not set; see
microticket.pk.x509 for the rule).

The contract of an authentication module (as microticket.tls.auth_pin): ``server_key(client, leaf, chain)``
returns the public key that must have signed the ServerKeyExchange (an RSA public key for the ECDHE_RSA
suites, the 65-byte P-256 point for ECDHE_ECDSA), or raises the alert that refuses the chain, its reason
as the message. ``chain`` is the Certificate body where it lies in the handshake buffer (the leaf first);
nothing of it is copied.
"""

from micropython import const

from microticket import errors

_UNSUPPORTED_CERTIFICATE = const(43)
_KX_ECDHE_ECDSA = const(4)  # microticket.tls.engine.KX_ECDHE_ECDSA
_KX_TLS13 = const(5)  # a TLS 1.3 suite: either key (the CertificateVerify's scheme must fit it)
_O_TIME_UNKNOWN = const(128)  # microticket.tls.client: Client(time_unknown=True)


def server_key(c, leaf, chain):
    from microticket.pk import x509
    from microticket.tls.engine import suite_info
    f = c.trust()  # the caller's opener (the engine opens no file itself); an OSError is ours: internal_error
    try:
        key = x509.validate(chain, f, c.server_name, c.now, c._opt & _O_TIME_UNKNOWN)
    finally:
        f.close()
    # the suite's key exchange says which key the certificate must hold
    # (a P-384 leaf, 97 bytes, validates as a path but signs nothing this client verifies: P-256 or RSA)
    ec = isinstance(key, bytes)
    k = suite_info(c.suite) & 7
    if (ec != (k == _KX_ECDHE_ECDSA) and k != _KX_TLS13) or (ec and len(key) == 97):
        raise errors.TlsAlert(_UNSUPPORTED_CERTIFICATE, "unsupported algorithm")
    return key
