"""Public-key mathematics, shared by TLS and IKE and loaded only by full handshakes (a resumption needs none):

    microticket.pk.x25519   X25519 (RFC 7748): TLS ECDHE (microticket.tls.ecdhe) and IKEv2 group 31
    microticket.pk.p256     NIST P-256: ECDH (secp256r1 ECDHE) and ECDSA with SHA-256 (sign, verify)
    microticket.pk.rsa      RSA PKCS#1 v1.5 and PSS signature verification with SHA-256 (RFC 8017): a client's
    microticket.pk.rsa_sign the private key: CRT signing, fault-checked, and its loaders: a server's
    microticket.pk.der      a bounded DER reader (X.690) and the certificate fields a client reads
    microticket.pk.pem      PEM (RFC 7468), base64, the RSA private key fields: a server's start
    microticket.pk.keys     a server's private key of either kind (RSA, P-256) from PEM, and the P-256 key object
    microticket.pk.x509     X.509 path validation and server name matching: a client that trusts a CA file
"""


def unload(names):
    """Modules a handshake is done with, out of sys.modules and of their package, so that their function
    objects and constants (heap even when the .mpy runs from ROMFS) go with the next collection instead of
    staying for the process's lifetime; the next handshake that needs one imports it again. ``names``:
    bytes, space-separated, relative to microticket ("pk.p256 tls.ecdhe"). MicroPython only: on CPython a
    module is not worth its import time again (and a test's patch of one would be lost)."""
    import sys
    if sys.implementation.name != "micropython":
        return
    for n in names.split():
        p, m = n.decode().split(".")
        sys.modules.pop("microticket." + p + "." + m, None)
        p = sys.modules.get("microticket." + p)
        if p is not None and m in p.__dict__:
            delattr(p, m)
