# Runs unchanged on MicroPython and on CPython (+ ports/cpython): prints "name hex" lines.
# tests/core/test_crypto.py compares them with CPython's hmac/hashlib and with tlslite-ng.
from microticket import crypto, prf


def h(s):
    return bytes.fromhex(s)


def out(name, b):
    print(name, "".join("%02x" % x for x in b))


# RFC 4231 HMAC-SHA-256 test cases 1-4, 6, 7 (case 5 is truncated output)
CASES = [
    ("rfc4231-1", b"\x0b" * 20, b"Hi There"),
    ("rfc4231-2", b"Jefe", b"what do ya want for nothing?"),
    ("rfc4231-3", b"\xaa" * 20, b"\xdd" * 50),
    ("rfc4231-4", h("0102030405060708090a0b0c0d0e0f10111213141516171819"), b"\xcd" * 50),
    ("rfc4231-6", b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"),
    ("rfc4231-7", b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data."
                                b" The key needs to be hashed before being used by the HMAC algorithm."),
]
for name, key, data in CASES:
    out(name, crypto.Hmac(key, "sha256").mac(data))
    out(name + "-sha1", crypto.Hmac(key, "sha1").mac(data))
    out(name + "-parts", crypto.Hmac(key).mac(data[:3], data[3:5], data[5:7], data[7:]))

out("sha256-abc", crypto.sha256(b"abc"))
out("sha1-abc", crypto.sha1(b"abc"))

# TLS 1.2 PRF (SHA-256), the widely published vector
out("tls12-prf", prf.tls12_prf(h("9bbe436ba940f017b17652849a71db35"), b"test label",
                                  h("a0ba9f936cda311827a6f796ffd5198c"), 100))
# TLS 1.0 PRF with an odd-length secret (the halves overlap by one byte)
# IKEv2 prf+ with PRF_HMAC_SHA2_256

# AES-128-CBC: chaining carried across calls must equal one call over the whole input
key = bytes(range(16))
iv = bytes(range(16, 32))
data = bytes(range(64))
out("cbc-one", crypto.aes_cbc_encrypt(key, iv, data))
e = crypto.aes_cbc_encryptor(key, iv)
a = e.encrypt(data[:16])
b = e.encrypt(data[16:48])
c = e.encrypt(data[48:])
out("cbc-split", a + b + c)
d = crypto.aes_cbc_encryptor(key, iv)
buf = bytearray(64)
d.decrypt(crypto.aes_cbc_encrypt(key, iv, data), buf)
out("cbc-dec-into", buf)
# the long-lived decryptor trick: decrypt iv | ct and drop the first block, whatever the prior state
d2 = crypto.aes_cbc_encryptor(key)
d2.decrypt(bytes(32))  # disturb the chaining state
pt = d2.decrypt(iv + crypto.aes_cbc_encrypt(key, iv, data))
out("cbc-trick", pt[16:])
out("ecb", crypto.aes_ecb(key).encrypt(data))
out("ct-equal", bytes([crypto.ct_equal(b"abc", b"abc"), crypto.ct_equal(b"abc", b"abd"),
                       crypto.ct_equal(b"abc", b"ab"), crypto.ct_equal_at(b"bc", b"abcd", 1),
                       crypto.ct_equal_at(b"bc", b"abcd", 3)]))
