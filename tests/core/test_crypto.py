"""Known answers for microticket.crypto and microticket.prf on CPython and MicroPython: RFC 4231 HMAC
vectors, the published TLS 1.2 PRF vector, CPython's hmac module and AES from `cryptography`. (IKEv2's
prf+ is checked against charon's key log: tests/ike/test_ike_keys.py.)"""

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import mpharness

RFC4231 = {
    "rfc4231-1": "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    "rfc4231-2": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    "rfc4231-3": "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    "rfc4231-4": "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    "rfc4231-6": "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    "rfc4231-7": "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
}
TLS12_PRF = ("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e"
             "14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a7"
             "2e5a5110fff70187347b66")


def expected():
    exp = dict(RFC4231)
    cases = {
        "rfc4231-1": (b"\x0b" * 20, b"Hi There"),
        "rfc4231-2": (b"Jefe", b"what do ya want for nothing?"),
        "rfc4231-3": (b"\xaa" * 20, b"\xdd" * 50),
        "rfc4231-4": (bytes.fromhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), b"\xcd" * 50),
        "rfc4231-6": (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"),
        "rfc4231-7": (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than block-size "
                                     b"data. The key needs to be hashed before being used by the HMAC algorithm."),
    }
    for name, (key, data) in cases.items():
        assert hmac.new(key, data, hashlib.sha256).hexdigest() == RFC4231[name]  # the vectors themselves
        exp[name + "-sha1"] = hmac.new(key, data, hashlib.sha1).hexdigest()
        exp[name + "-parts"] = RFC4231[name]
    exp["sha256-abc"] = hashlib.sha256(b"abc").hexdigest()
    exp["sha1-abc"] = hashlib.sha1(b"abc").hexdigest()
    exp["tls12-prf"] = TLS12_PRF
    key, iv, data = bytes(range(16)), bytes(range(16, 32)), bytes(range(64))
    ct = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor().update(data)
    exp["cbc-one"] = exp["cbc-split"] = ct.hex()
    exp["cbc-dec-into"] = exp["cbc-trick"] = data.hex()
    exp["ecb"] = Cipher(algorithms.AES(key), modes.ECB()).encryptor().update(data).hex()
    exp["ct-equal"] = "0100000100"
    return exp


def parse(out):
    return dict(line.split(" ", 1) for line in out.strip().splitlines())


def test_known_answers_cpython():
    got = parse(mpharness.run_cpython_script("crypto_kat.py"))
    assert got == expected()


def test_known_answers_micropython(mp):
    got = parse(mpharness.run_mp_script("crypto_kat.py"))
    assert got == expected()


