"""Server authentication by a pinned key: the SHA-256 of the server's DER certificate or of its
SubjectPublicKeyInfo. No X.509 path validation (chains, names, dates) is done: a pin names one key.

The contract of an authentication module: ``server_key(client, leaf, chain)`` returns the public key that
must have signed the ServerKeyExchange (an RSA public key for the ECDHE_RSA suites, the 65-byte P-256 point
for ECDHE_ECDSA), or raises the alert (bad_certificate) that refuses it. ``leaf`` is the first
certificate's DER where it lies in the handshake buffer; ``chain`` the Certificate body.
"""

from micropython import const

from microticket import crypto
from microticket import errors  # TlsAlert: created on the first error (microticket.errors)

_BAD_CERTIFICATE = const(42)
_KX_ECDHE_ECDSA = const(4)  # microticket.tls.engine.KX_ECDHE_ECDSA
_KX_TLS13 = const(5)


def server_key(c, leaf, chain):
    from microticket.pk import der
    from microticket.tls.engine import suite_info
    pin = c.pin_sha256  # the leaf is read where it lies in the handshake buffer: no copy of it
    try:
        spki = der.cert_spki(leaf)
        ok = crypto.ct_equal(crypto.sha256(leaf), pin) or crypto.ct_equal(crypto.sha256(spki), pin)
        key = None
        if ok:
            # the suite's key exchange says which key the certificate must hold (another: unparsable); a
            # TLS 1.3 suite takes either, the CertificateVerify's scheme must fit it
            k = suite_info(c.suite) & 7
            if k == _KX_TLS13:
                try:
                    key = der.spki_p256_public(spki)
                except (errors.DecodeError, ValueError):
                    pass
            if k == _KX_ECDHE_ECDSA:
                key = der.spki_p256_public(spki)
            elif key is None:
                from microticket.pk import rsa
                key = rsa.public_key_from_spki_der(spki)
    except (errors.DecodeError, ValueError):
        raise errors.TlsAlert(_BAD_CERTIFICATE, "unparsable certificate")
    if not ok:
        raise errors.TlsAlert(_BAD_CERTIFICATE, "certificate does not match the pin")
    return key
