"""P-384 ECDSA verification (microticket.pk.p384: certificates of Let's Encrypt's ECDSA chains), against the
``cryptography`` package on CPython and under the MicroPython interpreter."""

import hashlib
import os

import pytest

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from microticket.pk import p384

import mpharness as mp


def _vectors(count):
    out = []
    for i in range(count):
        k = ec.generate_private_key(ec.SECP384R1())
        pub = k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        msg = os.urandom(1 + i)
        sig = k.sign(msg, ec.ECDSA(hashes.SHA384()))
        out.append((pub, hashlib.sha384(msg).digest(), sig))
    return out


def test_verifies_what_cryptography_signs_and_nothing_else():
    for pub, d, sig in _vectors(12):
        assert p384.verify(pub, d, sig)
        assert not p384.verify(pub, hashlib.sha384(d).digest(), sig)            # another digest
        assert not p384.verify(pub, d, sig[:-1] + bytes([sig[-1] ^ 1]))         # s changed
        assert not p384.verify(pub, d, sig + b"\x00")                          # trailing byte
        bad = bytearray(pub)
        bad[-1] ^= 1
        assert not p384.verify(bytes(bad), d, sig)                              # not on the curve
        assert not p384.verify(pub[:65], d, sig) and not p384.verify(b"\x02" + pub[1:], d, sig)
    pub, d, sig = _vectors(1)[0]
    k = ec.generate_private_key(ec.SECP384R1())
    other = k.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert not p384.verify(other, d, sig)


def test_under_micropython():
    if mp.micropython_bin() is None:
        pytest.skip("micropython missing")
    vec = _vectors(4)
    script = "from microticket.pk import p384\n" + "".join(
        "print(p384.verify(bytes.fromhex(%r), bytes.fromhex(%r), bytes.fromhex(%r)), "
        "p384.verify(bytes.fromhex(%r), bytes.fromhex(%r), bytes.fromhex(%r)))\n"
        % (p.hex(), d.hex(), s.hex(), p.hex(), hashlib.sha384(d).digest().hex(), s.hex()) for p, d, s in vec)
    r = mp.run_mp(script)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["True", "False"] * 4
