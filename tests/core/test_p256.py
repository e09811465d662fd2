"""NIST P-256 (microticket.pk.p256): ECDH and ECDSA checked against RFC 6979's vectors, the ``cryptography``
package and openssl on CPython, and the same core checks under the real MicroPython interpreter (vectors made
here, outputs compared). The key loaders (microticket.pk.keys, der.spki_p256_public) with keys made by openssl.
"""

import hashlib
import json
import os
import random
import shutil
import subprocess

import pytest

from microticket.errors import DecodeError
from microticket.pk import der, keys, p256, rsa_sign

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa as crsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature
from cryptography.exceptions import InvalidSignature

H = bytes.fromhex
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = H("046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"
      "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5")

# RFC 6979 appendix A.2.5: P-256, key pair, and the SHA-256 signatures of "sample" and "test"
RFC_X = H("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
RFC_U = H("0460FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
          "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299")
RFC_SIGS = [
    (b"sample", 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
     0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8),
    (b"test", 0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
     0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083),
]
# ... and the SHA-384 one of "test" (its k comes from HMAC-SHA-384: only verifiable here, a 48-byte digest)
RFC_SHA384_TEST = (0x83910E8B48BB0C74244EBDF7F07A1C5413D61472BD941EF3920E623FBCCEBEB6,
                   0x8DDBEC54CF8CD5874883841D712142A56A8D0F218F5003CB0296B6B509619F2C)

ECDSA256 = ec.ECDSA(Prehashed(hashes.SHA256()))


def _point(ck):
    return ck.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _priv(ck):
    return ck.private_numbers().private_value.to_bytes(32, "big")


def _ckey(d):
    return ec.derive_private_key(d, ec.SECP256R1())


def _der_sig(r, s):
    return encode_dss_signature(r, s)


# --- RFC 6979 -------------------------------------------------------------------------------------------

def test_rfc6979_vectors():
    assert p256.public_key(RFC_X) == RFC_U
    for msg, r, s in RFC_SIGS:
        dg = hashlib.sha256(msg).digest()
        sig = p256.sign(RFC_X, dg)
        assert sig == _der_sig(r, s)
        assert p256.verify(RFC_U, dg, sig) is True
    # the "test" signature's s has a leading zero byte: the DER integer is 32 bytes, minimal
    assert len(p256.sign(RFC_X, hashlib.sha256(b"test").digest())) == 2 + 35 + 34
    # SHA-384: the digest is truncated to its leftmost 256 bits (SEC 1 section 4.1.3 step 5)
    assert p256.verify(RFC_U, hashlib.sha384(b"test").digest(), _der_sig(*RFC_SHA384_TEST)) is True
    assert p256.verify(RFC_U, hashlib.sha384(b"test").digest()[:32], _der_sig(*RFC_SHA384_TEST)) is True
    assert p256.verify(RFC_U, hashlib.sha256(b"test").digest(), _der_sig(*RFC_SHA384_TEST)) is False


def test_comb_table_of_g():
    # the precomputed rows: sum(2^(64j) G) over the bits j of i, from cryptography's own scalar multiplication
    assert len(p256._G_COMB) == 15 * 64
    for i in range(1, 16):
        k = sum(1 << (64 * j) for j in range(4) if i >> j & 1)
        assert p256._G_COMB[(i - 1) * 64:i * 64] == _point(_ckey(k))[1:], i


def test_hedged_signatures_differ_and_verify():
    dg = hashlib.sha256(b"sample").digest()
    plain = p256.sign(RFC_X, dg)
    a = p256.sign(RFC_X, dg, b"\x01" * 32)
    b = p256.sign(RFC_X, dg, b"\x02" * 32)
    assert len({plain, a, b}) == 3
    assert a == p256.sign(RFC_X, dg, b"\x01" * 32)  # deterministic in (key, digest, extra)
    ck = _ckey(int.from_bytes(RFC_X, "big"))
    for sig in (plain, a, b):
        ck.public_key().verify(sig, dg, ECDSA256)


# --- differential against cryptography ---------------------------------------------------------------------

def test_sign_verify_ecdh_against_cryptography():
    rnd = random.Random(256)
    for i in range(40):
        ck = ec.generate_private_key(ec.SECP256R1())
        d, pub = _priv(ck), _point(ck)
        assert p256.public_key(d) == pub
        dg = rnd.randbytes(32)
        # ours verify there (hedged and plain), theirs verify here
        for extra in (b"", rnd.randbytes(32)):
            ck.public_key().verify(p256.sign(d, dg, extra), dg, ECDSA256)
        theirs = ck.sign(dg, ECDSA256)
        assert p256.verify(pub, dg, theirs) is True
        assert p256.verify(pub, rnd.randbytes(32), theirs) is False
        # both s and n - s verify (no low-s rule), there and here
        r, s = decode_dss_signature(theirs)
        assert p256.verify(pub, dg, _der_sig(r, N - s)) is True
        # ECDH in both directions
        peer = ec.generate_private_key(ec.SECP256R1())
        z = ck.exchange(ec.ECDH(), peer.public_key())
        assert p256.shared(d, _point(peer)) == z
        assert p256.shared(_priv(peer), pub) == z
    # longer digests: SHA-384 signatures made by cryptography on P-256 verify with the 48-byte digest
    for _ in range(5):
        ck = ec.generate_private_key(ec.SECP256R1())
        dg = rnd.randbytes(48)
        sig = ck.sign(dg, ec.ECDSA(Prehashed(hashes.SHA384())))
        assert p256.verify(_point(ck), dg, sig) is True
        ck.public_key().verify(p256.sign(_priv(ck), dg), dg, ec.ECDSA(Prehashed(hashes.SHA384())))


def test_special_scalars():
    # small, even (k + n in the odd recoding), near n, powers of two: the public point is cryptography's
    for d in list(range(1, 40)) + [N - 1, N - 2, N - 3, N - 16, N - 17, 2**128, 2**255, 2**256 - 2**224, (N - 1) // 2]:
        dd = d.to_bytes(32, "big")
        assert p256.public_key(dd) == _point(_ckey(d)), d
        assert p256.shared(dd, G) == _point(_ckey(d))[1:33]
    for bad in (bytes(32), N.to_bytes(32, "big"), (N + 1).to_bytes(32, "big"), b"\xff" * 32, bytes(31), bytes(33)):
        with pytest.raises(ValueError):
            p256.public_key(bad)
        with pytest.raises(ValueError):
            p256.shared(bad, G)
        with pytest.raises(ValueError):
            p256.sign(bad, bytes(32))


def test_verify_exceptional_additions():
    """Q = G and e = +-r make u1 = +-u2: the joint chain adds a point to itself (the doubling case of the
    addition) or to its negative (infinity), which generic formulas get wrong."""
    rnd = random.Random(6979)
    for _ in range(8):
        k = rnd.randrange(1, N)
        r = int.from_bytes(_point(_ckey(k))[1:33], "big") % N
        s = pow(k, -1, N) * (r + r) % N  # d = 1, e = r
        sig = _der_sig(r, s)
        dg = r.to_bytes(32, "big")
        assert p256.verify(G, dg, sig) is True
        _ckey(1).public_key().verify(sig, dg, ECDSA256)
        # e = n - r: u1*G + u2*G is the point at infinity
        bad_dg = (N - r).to_bytes(32, "big")
        assert p256.verify(G, bad_dg, sig) is False
        with pytest.raises(InvalidSignature):
            _ckey(1).public_key().verify(sig, bad_dg, ECDSA256)


def test_keypair_draws_by_rejection():
    draws = [bytes(32), N.to_bytes(32, "big"), b"\xff" * 32, (N - 1).to_bytes(32, "big")]
    asked = []

    def rng(n):
        asked.append(n)
        return draws.pop(0)

    priv, pub = p256.keypair(rng)
    assert asked == [32] * 4 and priv == (N - 1).to_bytes(32, "big") and pub == _point(_ckey(N - 1))
    priv, pub = p256.keypair(os.urandom)
    assert len(priv) == 32 and pub == p256.public_key(priv) and pub[0] == 4 and len(pub) == 65
    assert p256.shared(priv, G) == pub[1:33]


# --- malformed input --------------------------------------------------------------------------------------

def _bad_sigs(sig, r, s):
    out = [b"", b"\x30\x00", sig[:-1], sig + b"\x00", sig[1:], b"\x31" + sig[1:], bytes(len(sig))]
    out += [sig[:i] for i in range(len(sig))]
    for bit in range(len(sig) * 8):
        b = bytearray(sig)
        b[bit // 8] ^= 1 << (bit % 8)
        out.append(bytes(b))

    def enc(rb, sb, outer=None):
        body = b"\x02" + bytes([len(rb)]) + rb + b"\x02" + bytes([len(sb)]) + sb
        return (outer or (b"\x30" + bytes([len(body)]))) + body
    rb, sb = r.to_bytes(32, "big").lstrip(b"\x00"), s.to_bytes(32, "big").lstrip(b"\x00")
    rb = b"\x00" + rb if rb[0] & 0x80 else rb
    sb = b"\x00" + sb if sb[0] & 0x80 else sb
    assert enc(rb, sb) == sig
    out += [
        enc(b"\x00" + rb, sb), enc(rb, b"\x00" + sb),  # non-minimal integers
        enc(rb, sb, b"\x30\x81" + bytes([len(sig) - 2])),  # long-form length
        enc(b"\x00", sb), enc(rb, b"\x00"), enc(b"", sb), enc(rb, b""),  # zero, empty
        enc(b"\xff" + rb, sb),  # negative
        enc(N.to_bytes(33, "big"), sb), enc(rb, N.to_bytes(33, "big")),  # = n
        enc((N + r).to_bytes(33, "big"), sb), enc(rb, (N + s).to_bytes(33, "big")),  # >= n, same residue
        enc(rb, sb)[:2] + b"\x03" + enc(rb, sb)[3:],  # wrong tag
        enc(rb, sb) + b"\x02\x01\x01",  # a third integer, outer length not covering it
    ]
    body = enc(rb, sb)[2:] + b"\x02\x01\x01"
    out.append(b"\x30" + bytes([len(body)]) + body)  # a third integer inside
    return out


def test_verify_refuses_bad_signatures():
    ck = ec.generate_private_key(ec.SECP256R1())
    pub = _point(ck)
    dg = hashlib.sha256(b"bad signatures").digest()
    sig = p256.sign(_priv(ck), dg)
    r, s = decode_dss_signature(sig)
    assert p256.verify(pub, dg, sig) is True
    assert p256.verify(pub, dg, bytearray(sig)) is True and p256.verify(pub, dg, memoryview(sig)) is True
    bads = _bad_sigs(sig, r, s)
    assert len(bads) > 600
    for bad in bads:
        if bad == sig:
            continue
        assert p256.verify(pub, dg, bad) is False, bad.hex()
    # r, s = 0, n or >= n written as minimal DER (cryptography's encoder)
    for rr, ss in ((0, s), (r, 0), (N, s), (r, N), (r + N, s), (r, s + N), (2**256 + r, s)):
        assert p256.verify(pub, dg, _der_sig(rr, ss)) is False
    # a bad public key is False too, never an exception
    for bad_pub in (b"", pub[:-1], pub + b"\x00", b"\x02" + pub[1:33], b"\x03" + pub[1:], b"\x04" + bytes(64),
                    pub[:33] + bytes(32), pub[:1] + P.to_bytes(32, "big") + pub[33:]):
        assert p256.verify(bad_pub, dg, sig) is False


def test_shared_refuses_invalid_points():
    d = p256.keypair(os.urandom)[0]
    x, y = int.from_bytes(G[1:33], "big"), int.from_bytes(G[33:], "big")
    bad = [
        b"", b"\x00", G[:33], G[:-1], G + b"\x00", b"\x02" + G[1:33], b"\x03" + G[1:33],
        b"\x06" + G[1:], b"\x07" + G[1:],  # hybrid forms
        b"\x04" + bytes(64),  # (0, 0): not on the curve
        b"\x04" + P.to_bytes(32, "big") + G[33:], b"\x04" + G[1:33] + P.to_bytes(32, "big"),  # coordinate = p
        b"\x04" + (x + 2**256 - P).to_bytes(32, "big") + G[33:],  # x + (2^256 - p): x's residue, but >= p
        b"\x04" + G[1:33] + ((y + 1) % P).to_bytes(32, "big"),  # off the curve
        b"\x04" + b"\xff" * 64,
    ]
    # (1, 1) lies on y^2 = x^3 - 3x + b' for another b' (the invalid-curve attack's kind of point)
    bad.append(b"\x04" + (1).to_bytes(32, "big") + (1).to_bytes(32, "big"))
    for pt in bad:
        with pytest.raises(ValueError):
            p256.shared(d, pt)
        assert p256.verify(pt, bytes(32), p256.sign(d, bytes(32))) is False
    # -G (y -> p - y) is valid
    assert p256.shared(d, b"\x04" + G[1:33] + (P - y).to_bytes(32, "big")) == p256.shared(d, G)


# --- key files ---------------------------------------------------------------------------------------------

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="no openssl")


def _openssl(*args, cwd=None):
    return subprocess.run([OPENSSL] + list(args), cwd=cwd, capture_output=True, check=True)


@pytest.fixture(scope="module")
def keyfiles(tmp_path_factory):
    """P-256 keys made by openssl: SEC 1 (ecparam -genkey, with its EC PARAMETERS block) and PKCS#8
    (genpkey); a P-384 key in both forms."""
    if OPENSSL is None:
        pytest.skip("no openssl")
    d = tmp_path_factory.mktemp("eckeys")
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-out", "sec1.pem", cwd=d)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "pkcs8.pem", cwd=d)
    _openssl("ecparam", "-name", "secp384r1", "-genkey", "-out", "p384.pem", cwd=d)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "p384_pkcs8.pem", cwd=d)
    return d


def _sec1_variants(ck):
    """SEC 1 DER of a cryptography key with and without its parameters and public key (openssl always
    writes both; RFC 5915 makes them optional)."""
    full = ck.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    d = _priv(ck)
    params = b"\xa0\x0a\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"
    pubf = b"\xa1\x44\x03\x42\x00" + _point(ck)

    def seq(*parts):
        body = b"\x02\x01\x01\x04\x20" + d + b"".join(parts)
        return b"\x30" + (bytes([len(body)]) if len(body) < 128 else b"\x81" + bytes([len(body)])) + body
    assert seq(params, pubf) == full
    return [full, seq(), seq(params), seq(pubf)]


def _pem(der_bytes, label):
    import base64
    b = base64.encodebytes(der_bytes).decode()
    return "-----BEGIN %s-----\n%s-----END %s-----\n" % (label, b, label)


@needs_openssl
@pytest.mark.parametrize("name", ["sec1.pem", "pkcs8.pem"])
def test_openssl_keys_load_and_sign(keyfiles, name, tmp_path):
    path = keyfiles / name
    text = path.read_bytes()
    assert (b"EC PARAMETERS" in text) == (name == "sec1.pem")
    key = keys.load_private_key(text)
    assert key.kind == "p256"
    assert keys.load_private_key(text.decode()).d == key.d
    buf = bytearray(text)
    assert keys.load_private_key(buf, True).d == key.d and buf != bytearray(text)  # decoded where it lay
    # the public key openssl derives, as SubjectPublicKeyInfo, is ours
    spki = _openssl("pkey", "-in", str(path), "-pubout", "-outform", "DER").stdout
    assert der.spki_p256_public(spki) == key.public_key()
    # what we sign, openssl verifies
    msg = b"ServerKeyExchange params " * 7
    (tmp_path / "msg").write_bytes(msg)
    (tmp_path / "sig").write_bytes(key.sign(hashlib.sha256(msg).digest(), os.urandom(32)))
    _openssl("pkey", "-in", str(path), "-pubout", "-out", str(tmp_path / "pub.pem"))
    out = _openssl("dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature", str(tmp_path / "sig"),
                   str(tmp_path / "msg")).stdout
    assert b"Verified OK" in out
    # and what openssl signs, we verify
    osig = _openssl("dgst", "-sha256", "-sign", str(path), str(tmp_path / "msg")).stdout
    assert p256.verify(key.public_key(), hashlib.sha256(msg).digest(), osig) is True


def test_sec1_and_pkcs8_forms():
    ck = ec.generate_private_key(ec.SECP256R1())
    for blob in _sec1_variants(ck):
        assert keys.private_key_fields(blob) == ("p256", _priv(ck))
        assert keys.load_private_key(_pem(blob, "EC PRIVATE KEY")).d == _priv(ck)
    p8 = ck.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert keys.private_key_fields(p8) == ("p256", _priv(ck))
    assert keys.private_key_fields(memoryview(p8)) == ("p256", _priv(ck))
    # every truncation and a trailing byte: DecodeError
    for blob in _sec1_variants(ck) + [p8]:
        for cut in range(len(blob)):
            with pytest.raises(DecodeError):
                keys.private_key_fields(blob[:cut])
        with pytest.raises(DecodeError):
            keys.private_key_fields(blob + b"\x00")
    # a scalar out of range: refused when the key is made
    for d in (bytes(32), N.to_bytes(32, "big")):
        blob = b"\x30\x25\x02\x01\x01\x04\x20" + d
        assert keys.private_key_fields(blob) == ("p256", d)
        with pytest.raises(DecodeError):
            keys.load_private_key(_pem(blob, "EC PRIVATE KEY"))
    # RSA keys come back as RSA keys, through the same loader
    rk = crsa.generate_private_key(public_exponent=65537, key_size=2048)
    for fmt in (serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8):
        text = rk.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        k = keys.load_private_key(text)
        assert k.kind == "rsa" and k.n == rk.private_numbers().public_numbers.n
        assert keys.load_private_key(bytearray(text), True).n == k.n
        with pytest.raises(DecodeError):  # and the RSA loader keeps refusing EC keys
            rsa_sign.load_private_key_pem(ck.private_bytes(serialization.Encoding.PEM, fmt,
                                                           serialization.NoEncryption()))
    enc = ck.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.BestAvailableEncryption(b"pw"))
    for bad in (enc, b"no key here", _pem(b"\x30\x03\x02\x01\x02", "EC PRIVATE KEY")):
        with pytest.raises(DecodeError):
            keys.load_private_key(bad)


@needs_openssl
def test_other_curves_refused(keyfiles):
    for name in ("p384.pem", "p384_pkcs8.pem"):
        with pytest.raises(ValueError) as e:
            keys.load_private_key((keyfiles / name).read_bytes())
        assert "P-256 only" in str(e.value) and not isinstance(e.value, DecodeError)
    # SEC 1 without parameters: a 48-byte private key is another curve
    c384 = ec.generate_private_key(ec.SECP384R1())
    blob = b"\x30\x35\x02\x01\x01\x04\x30" + c384.private_numbers().private_value.to_bytes(48, "big")
    with pytest.raises(ValueError):
        keys.private_key_fields(blob)
    spki = c384.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError):
        der.spki_p256_public(spki)


def test_spki_p256_public():
    ck = ec.generate_private_key(ec.SECP256R1())
    spki = ck.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert der.spki_p256_public(spki) == _point(ck)
    assert der.spki_p256_public(memoryview(spki)) == _point(ck)
    comp_pt = ck.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    body = spki[2:23] + b"\x03\x22\x00" + comp_pt  # the same AlgorithmIdentifier, a 33-byte point
    compressed = b"\x30" + bytes([len(body)]) + body
    rk = crsa.generate_private_key(public_exponent=65537, key_size=2048)
    rspki = rk.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for bad in [compressed, rspki, spki + b"\x00", spki[:-1]] + [spki[:i] for i in range(len(spki))]:
        with pytest.raises(DecodeError):
            der.spki_p256_public(bad)
    with pytest.raises(DecodeError):  # and the RSA reader refuses an EC key
        der.spki_rsa_public(spki)


# --- MicroPython ----------------------------------------------------------------------------------------

MP_SCRIPT = r"""
import json
from microticket.pk import p256, keys, der
f = open("in.json")
v = json.load(f)
f.close()
H = bytes.fromhex
out = {"pub": [], "sign": [], "verify": [], "shared": [], "bad_points": 0, "keys": []}
for d, dg, extra in v["sign"]:
    out["pub"].append(p256.public_key(H(d)).hex())
    out["sign"].append(p256.sign(H(d), H(dg), H(extra)).hex())
for pub, dg, sig in v["verify"]:
    out["verify"].append(p256.verify(H(pub), H(dg), H(sig)))
for d, peer in v["shared"]:
    out["shared"].append(p256.shared(H(d), H(peer)).hex())
for pt in v["bad_points"]:
    try:
        p256.shared(H(v["shared"][0][0]), H(pt))
    except ValueError:
        out["bad_points"] += 1
calls = []
def rng(n):
    calls.append(n)
    return H(v["draws"][len(calls) - 1])
out["keypair"] = [x.hex() for x in p256.keypair(rng)] + [len(calls)]
for name in v["keyfiles"]:
    f = open(name, "rb")
    text = f.read()
    f.close()
    try:
        k = keys.load_private_key(bytearray(text), True)
        out["keys"].append([k.kind, k.sign(H(v["sign"][0][1]), b"").hex()])
    except ValueError as e:
        out["keys"].append(["ValueError", str(e)])
out["spki"] = der.spki_p256_public(H(v["spki"])).hex()
print(json.dumps(out))
"""


def test_micropython_core(mp, tmp_path, keyfiles):
    rnd = random.Random(1)
    cks = [ec.generate_private_key(ec.SECP256R1()) for _ in range(6)]
    sign_in = [(RFC_X.hex(), hashlib.sha256(m).digest().hex(), "") for m, _, _ in RFC_SIGS]
    sign_in += [(_priv(ck).hex(), rnd.randbytes(32).hex(), rnd.randbytes(32).hex()) for ck in cks]
    sign_in.append((_priv(cks[0]).hex(), rnd.randbytes(48).hex(), ""))
    sign_in.append(((2).to_bytes(32, "big").hex(), rnd.randbytes(32).hex(), ""))
    verify_in, verify_want = [], []
    for ck in cks:
        dg = rnd.randbytes(32)
        sig = ck.sign(dg, ECDSA256)
        r, s = decode_dss_signature(sig)
        for dgx, sigx, want in ((dg, sig, True), (dg, _der_sig(r, N - s), True), (rnd.randbytes(32), sig, False),
                                (dg, sig + b"\x00", False), (dg, _der_sig(r, 0), False), (dg, sig[:-1], False)):
            verify_in.append((_point(ck).hex(), dgx.hex(), sigx.hex()))
            verify_want.append(want)
    shared_in = [(_priv(a).hex(), _point(b).hex()) for a, b in zip(cks, cks[1:])]
    bad_points = [b"\x04" + bytes(64), G[:-1], b"\x03" + G[1:33], G[:33] + b"\xff" * 32,
                  b"\x04" + P.to_bytes(32, "big") + G[33:]]
    for name in ("sec1.pem", "pkcs8.pem", "p384.pem"):
        shutil.copy(keyfiles / name, tmp_path / name)
    spki = cks[0].public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    draws = [bytes(32), b"\xff" * 32, _priv(cks[1])]
    (tmp_path / "in.json").write_text(json.dumps({
        "sign": sign_in, "verify": verify_in, "shared": shared_in, "bad_points": [b.hex() for b in bad_points],
        "keyfiles": ["sec1.pem", "pkcs8.pem", "p384.pem"], "spki": spki.hex(), "draws": [d.hex() for d in draws]}))
    res = mp.run_mp(MP_SCRIPT, cwd=str(tmp_path), timeout=300)
    assert res.returncode == 0, res.stderr + res.stdout
    out = json.loads(res.stdout)
    # the same bytes as CPython: public keys, (deterministic) signatures, verdicts, shared secrets
    assert out["pub"] == [p256.public_key(H(d)).hex() for d, _, _ in sign_in]
    assert out["sign"] == [p256.sign(H(d), H(dg), H(x)).hex() for d, dg, x in sign_in]
    assert out["sign"][:2] == [_der_sig(r, s).hex() for _, r, s in RFC_SIGS]
    for (d, dg, _), sig in zip(sign_in, out["sign"]):
        _ckey(int(d, 16)).public_key().verify(H(sig), H(dg), ec.ECDSA(Prehashed(
            hashes.SHA384() if len(dg) == 96 else hashes.SHA256())))
    assert out["verify"] == verify_want
    assert out["shared"] == [a.exchange(ec.ECDH(), b.public_key()).hex() for a, b in zip(cks, cks[1:])]
    assert out["bad_points"] == len(bad_points)
    assert out["keypair"] == [_priv(cks[1]).hex(), _point(cks[1]).hex(), 3]
    dg0 = H(sign_in[0][1])
    for (kind, sig), name in zip(out["keys"][:2], ("sec1.pem", "pkcs8.pem")):
        key = keys.load_private_key((keyfiles / name).read_bytes())
        assert kind == "p256" and sig == key.sign(dg0).hex()
    assert out["keys"][2][0] == "ValueError" and "P-256 only" in out["keys"][2][1]
    assert out["spki"] == _point(cks[0]).hex()
