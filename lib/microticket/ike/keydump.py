"""The explicit debug key-dump (Initiator(debug_keys=True), ike-initiate --debug-keys): hex of SKEYSEED and
the SK_* keys (RFC 7296 section 2.14), AUTH and the SPIs, for comparing with a peer's log. Secrets: never
loaded or called unless asked for.
"""

KEY_NAMES = ("SKEYSEED", "SK_d", "SK_ai", "SK_ar", "SK_ei", "SK_er", "SK_pi", "SK_pr", "AUTH_i", "AUTH_r", "SPIi",
             "SPIr")


def dump_keys(k, auth_i=None, auth_r=None, spi_i=None, spi_r=None):
    """Hex of every key of ``k`` (a keys.IkeSaKeys), with AUTH and SPIs when given."""
    vals = (k.skeyseed, k.sk_d, k.sk_ai, k.sk_ar, k.sk_ei, k.sk_er, k.sk_pi, k.sk_pr, auth_i, auth_r, spi_i, spi_r)
    d = {}
    for i in range(12):
        if vals[i] is not None:
            d[KEY_NAMES[i]] = vals[i].hex()
    return d
