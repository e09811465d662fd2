"""Public-key math: X25519 (RFC 7748), RSA PKCS#1 v1.5 SHA-256 (RFC 8017), the DER/PEM reader and MODP
group 14 (RFC 3526), checked against the ``cryptography`` package on CPython and, through a subprocess,
under the real MicroPython interpreter.
"""

import datetime
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/
LIB = os.path.join(ROOT, "lib")
for _p in (os.path.join(ROOT, "ports", "cpython"), LIB):
    if _p not in sys.path:
        sys.path.insert(0, _p)
try:
    import micropython  # noqa: F401  (ports/cpython shim, when present)
except ImportError:  # stand-in until ports/cpython provides one; const() is all these modules use
    _shim = types.ModuleType("micropython")
    _shim.const = lambda x: x
    sys.modules["micropython"] = _shim

from microticket.pk import der, pem, rsa, rsa_sign  # noqa: E402
from microticket.ike import modp  # noqa: E402
from microticket.pk.x25519 import X25519_KEY_LEN, x25519, x25519_base, x25519_shared  # noqa: E402

try:
    from microticket.errors import DecodeError
except ImportError:  # pragma: no cover - errors.py is written concurrently
    DecodeError = Exception

crypto = pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import dh, ec, padding  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa as crsa  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import x25519 as cx25519  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

H = bytes.fromhex
P25519 = 2**255 - 19

# RFC 7748 section 5.2
RFC7748_VECTORS = [
    (
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
    ),
    (
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
    ),
]
ITER_1 = "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"
ITER_1000 = "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"
# RFC 7748 section 6.1
ALICE_PRIV = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
ALICE_PUB = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
BOB_PRIV = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
BOB_PUB = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
SHARED_61 = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"


def _micropython():
    exe = shutil.which("micropython")
    if exe is None and os.path.exists("/tmp/probe/bin/micropython"):
        exe = "/tmp/probe/bin/micropython"
    return exe


MICROPYTHON = _micropython()
needs_mp = pytest.mark.skipif(MICROPYTHON is None, reason="no micropython interpreter")


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ckey():
    return crsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pems(ckey):
    nenc = serialization.NoEncryption()
    enc = serialization.Encoding.PEM
    return {
        "pkcs1": ckey.private_bytes(enc, serialization.PrivateFormat.TraditionalOpenSSL, nenc),
        "pkcs8": ckey.private_bytes(enc, serialization.PrivateFormat.PKCS8, nenc),
    }


def _make_cert(key, cn="microticket test", issuer_key=None, issuer_cn=None):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn or cn)])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(0x1234567890ABCDEF)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("example.test")]), critical=False)
    )
    return builder.sign(issuer_key or key, hashes.SHA256())


@pytest.fixture(scope="module")
def cert(ckey):
    return _make_cert(ckey)


def _spki_der(key):
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- X25519 ---------------------------------------------------------------------------------------------


def test_x25519_rfc7748_vectors():
    assert X25519_KEY_LEN == 32
    for k, u, out in RFC7748_VECTORS:
        assert x25519(H(k), H(u)).hex() == out


def test_x25519_rfc7748_iterated():
    k = u = (9).to_bytes(32, "little")
    for i in range(1000):
        k, u = x25519(k, u), k
        if i == 0:
            assert k.hex() == ITER_1
    assert k.hex() == ITER_1000


def test_x25519_rfc7748_dh():
    assert x25519_base(H(ALICE_PRIV)).hex() == ALICE_PUB
    assert x25519_base(H(BOB_PRIV)).hex() == BOB_PUB
    assert x25519_shared(H(ALICE_PRIV), H(BOB_PUB)).hex() == SHARED_61
    assert x25519_shared(H(BOB_PRIV), H(ALICE_PUB)).hex() == SHARED_61


def test_x25519_against_cryptography():
    rng = random.Random(7748)
    for _ in range(20):
        a = bytes(rng.getrandbits(8) for _ in range(32))
        b = bytes(rng.getrandbits(8) for _ in range(32))
        ca = cx25519.X25519PrivateKey.from_private_bytes(a)
        cb = cx25519.X25519PrivateKey.from_private_bytes(b)
        pub_b = cb.public_key().public_bytes_raw()
        assert x25519_base(b) == pub_b
        assert x25519_shared(a, pub_b) == ca.exchange(cb.public_key())


def test_x25519_u_coordinate_decoding():
    k = H(RFC7748_VECTORS[0][0])
    u = bytearray(H(RFC7748_VECTORS[0][1]))
    u[31] |= 0x80  # the top bit is masked (RFC 7748 section 5)
    assert x25519(k, bytes(u)).hex() == RFC7748_VECTORS[0][2]
    # non-canonical: p + 9 is 9
    assert x25519(k, (P25519 + 9).to_bytes(32, "little")) == x25519_base(k)


def test_x25519_zero_output_rejected():
    k = H(ALICE_PRIV)
    for u in (0, 1, P25519, P25519 + 1):  # points of small order / non-canonical encodings of them
        ub = u.to_bytes(32, "little")
        assert x25519(k, ub) == bytes(32)
        with pytest.raises(ValueError):
            x25519_shared(k, ub)
    with pytest.raises(ValueError):
        x25519(b"short", bytes(32))
    with pytest.raises(ValueError):
        x25519(k, bytes(31))


# --- RSA ------------------------------------------------------------------------------------------------


def _digests():
    return [(m, hashlib.sha256(m).digest()) for m in (b"", b"abc", b"ECDHE_RSA params" * 9, os.urandom(77))]


@pytest.mark.parametrize("fmt", ["pkcs1", "pkcs8"])
@pytest.mark.parametrize("as_text", [False, True])
def test_rsa_sign_matches_cryptography(ckey, pems, fmt, as_text):
    text = pems[fmt].decode() if as_text else pems[fmt]
    key = rsa_sign.load_private_key_pem(text)
    nums = ckey.private_numbers()
    assert (key.n, key.e, key.d) == (nums.public_numbers.n, nums.public_numbers.e, nums.d)
    assert key.size == 256
    for msg, dg in _digests():
        sig = key.sign_pkcs1_sha256(dg)
        assert sig == ckey.sign(msg, padding.PKCS1v15(), hashes.SHA256())
        ckey.public_key().verify(sig, msg, padding.PKCS1v15(), hashes.SHA256())


def test_rsa_der_loader(ckey, pems):
    nenc = serialization.NoEncryption()
    for fmt in (serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8):
        blob = ckey.private_bytes(serialization.Encoding.DER, fmt, nenc)
        assert rsa_sign.load_private_key_der(blob).n == ckey.private_numbers().public_numbers.n
        assert rsa_sign.load_private_key_der(memoryview(blob)).n == ckey.private_numbers().public_numbers.n
    assert pem.pem_to_der(pems["pkcs8"], "PRIVATE KEY") == ckey.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, nenc
    )


def test_rsa_verify(ckey):
    pub = rsa.public_key_from_spki_der(_spki_der(ckey))
    assert (pub.n, pub.e) == (ckey.public_key().public_numbers().n, 65537)
    for msg, dg in _digests():
        sig = ckey.sign(msg, padding.PKCS1v15(), hashes.SHA256())
        assert pub.verify_pkcs1_sha256(dg, sig) is True
        for bit in (0, 7, 1000, 2047):
            bad = bytearray(sig)
            bad[bit // 8] ^= 1 << (bit % 8)
            assert pub.verify_pkcs1_sha256(dg, bytes(bad)) is False
        assert pub.verify_pkcs1_sha256(bytes(32), sig) is False
        assert pub.verify_pkcs1_sha256(dg, sig[1:]) is False
        assert pub.verify_pkcs1_sha256(dg, b"\x00" + sig) is False
    assert pub.verify_pkcs1_sha256(dg, pub.n.to_bytes(256, "big")) is False
    # a SHA-1 or PSS signature is not a PKCS#1 v1.5 SHA-256 one
    msg, dg = _digests()[1]
    assert not pub.verify_pkcs1_sha256(dg, ckey.sign(msg, padding.PKCS1v15(), hashes.SHA1()))
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    assert not pub.verify_pkcs1_sha256(dg, ckey.sign(msg, pss, hashes.SHA256()))


@pytest.mark.parametrize("field", ["dp", "dq", "qinv"])
def test_rsa_crt_fault_detected(pems, field):
    # a "fault" in the p half, the q half or the recombination: the check (s^e against m modulo p and
    # modulo q, together the check modulo n) must catch each before a signature leaves
    key = rsa_sign.load_private_key_pem(pems["pkcs1"])
    setattr(key, field, getattr(key, field) ^ 2)
    with pytest.raises(RuntimeError):
        key.sign_pkcs1_sha256(bytes(32))


def test_rsa_imports_der_only_in_its_loaders(ckey, pems):
    # rsa's loaders import der (the parser) when called; rsa imports no der at module level (signing never
    # loads the parser) and der imports nothing of rsa (no cycle: der hands the loaders the key's integers)
    import ast
    with open(rsa.__file__) as f:
        tree = ast.parse(f.read())
    # (only the errors module, whose DecodeError is made on the first error)
    assert [(n.module, [a.name for a in n.names]) for n in tree.body if isinstance(n, ast.ImportFrom)] == \
        [("microticket", ["errors"])]
    assert not [n for n in tree.body if isinstance(n, ast.Import)]
    with open(der.__file__) as f:
        text = f.read()
    assert "rsa import" not in text and "import rsa" not in text
    assert der.spki_rsa_public(_spki_der(ckey)) == (rsa_sign.load_private_key_pem(pems["pkcs8"]).n, 65537)


@pytest.mark.parametrize("fmt", ["pkcs1", "pkcs8"])
def test_rsa_load_pem_in_place(ckey, pems, fmt):
    buf = bytearray(pems[fmt])
    key = rsa_sign.load_private_key_pem(buf, True)
    nums = ckey.private_numbers()
    assert (key.n, key.d, key.p, key.q) == (nums.public_numbers.n, nums.d, nums.p, nums.q)
    assert buf != bytearray(pems[fmt])  # decoded where it lay
    with pytest.raises(DecodeError):
        rsa_sign.load_private_key_pem(bytearray(b"no key here"), True)


def test_rsa_key_consistency_checks(ckey):
    nums = ckey.private_numbers()
    n = nums.public_numbers.n
    args = [n, 65537, nums.d, nums.p, nums.q, nums.dmp1, nums.dmq1, nums.iqmp]
    rsa_sign.RsaPrivateKey(*args)
    for i, bad in ((0, n + 2), (7, nums.iqmp + 1), (5, 0)):
        broken = list(args)
        broken[i] = bad
        with pytest.raises(ValueError):
            rsa_sign.RsaPrivateKey(*broken)
    with pytest.raises(ValueError):
        rsa_sign.RsaPrivateKey(*args).sign_pkcs1_sha256(bytes(31))


def test_rsa_loader_rejects(ckey):
    enc = ckey.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(DecodeError):
        rsa_sign.load_private_key_pem(enc)
    legacy = ckey.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(DecodeError):  # "Proc-Type:" headers are not base64
        rsa_sign.load_private_key_pem(legacy)
    eck = ec.generate_private_key(ec.SECP256R1())
    ec_pem = eck.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(DecodeError):
        rsa_sign.load_private_key_pem(ec_pem)
    with pytest.raises(DecodeError):
        rsa.public_key_from_spki_der(_spki_der(eck))
    with pytest.raises(DecodeError):
        rsa_sign.load_private_key_pem("no key here")


def test_rsa_truncated_keys_raise_decode_error(ckey):
    for fmt in (serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8):
        blob = ckey.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())
        for cut in range(len(blob)):
            with pytest.raises(DecodeError):
                rsa_sign.load_private_key_der(blob[:cut])
        with pytest.raises(DecodeError):
            rsa_sign.load_private_key_der(blob + b"\x00")


# --- DER / PEM ------------------------------------------------------------------------------------------


def test_cert_spki_matches_cryptography(ckey, cert):
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    spki = der.cert_spki(cert_der)
    assert spki == _spki_der(ckey)
    n, e = der.spki_rsa_public(spki)
    assert (n, e) == (ckey.public_key().public_numbers().n, 65537)
    assert rsa.public_key_from_cert_der(cert_der) == rsa.RsaPublicKey(n, e)


def test_cert_spki_v1_without_version():
    # Hand-built v1 TBSCertificate: no [0] version field.
    key = crsa.generate_private_key(public_exponent=3, key_size=1024)
    spki = _spki_der(key)

    def tlv(tag, body):
        n = len(body)
        if n < 0x80:
            return bytes([tag, n]) + body
        nb = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([tag, 0x80 | len(nb)]) + nb + body

    alg = tlv(0x30, tlv(0x06, H("2a864886f70d01010b")) + tlv(0x05, b""))
    name = tlv(0x30, tlv(0x31, tlv(0x30, tlv(0x06, H("550403")) + tlv(0x0C, b"v1"))))
    validity = tlv(0x30, tlv(0x17, b"240101000000Z") + tlv(0x17, b"250101000000Z"))
    tbs = tlv(0x30, tlv(0x02, b"\x05") + alg + name + validity + name + spki)
    cert_der = tlv(0x30, tbs + alg + tlv(0x03, b"\x00" + bytes(128)))
    assert der.cert_spki(cert_der) == spki
    assert der.spki_rsa_public(spki) == (key.public_key().public_numbers().n, 3)


def test_read_pem_certs(ckey, cert):
    other = crsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = _make_cert(other, cn="leaf", issuer_key=ckey, issuer_cn="microticket test")
    chain = (
        "junk before\n"
        + leaf.public_bytes(serialization.Encoding.PEM).decode()
        + "between\r\n"
        + cert.public_bytes(serialization.Encoding.PEM).decode().replace("\n", "\r\n")
    )
    got = pem.read_pem_certs(chain)
    assert got == [leaf.public_bytes(serialization.Encoding.DER), cert.public_bytes(serialization.Encoding.DER)]
    assert pem.read_pem_certs(chain.encode()) == got
    assert der.cert_spki(got[0]) == _spki_der(other)
    assert pem.read_pem_certs("nothing") == []
    with pytest.raises(DecodeError):
        pem.read_pem_certs("-----BEGIN CERTIFICATE-----\nAAAA\n")  # no END line


def test_pem_decode_in_place(ckey, cert):
    other = crsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = _make_cert(other, cn="leaf", issuer_key=ckey, issuer_cn="microticket test")
    text = ("junk\n" + leaf.public_bytes(serialization.Encoding.PEM).decode() + "between\r\n"
            + cert.public_bytes(serialization.Encoding.PEM).decode().replace("\n", "\r\n")).encode()
    want = pem.read_pem_certs(text)
    buf = bytearray(text)
    got = []
    pos = 0
    while True:
        found = pem.pem_decode_in_place(buf, b"CERTIFICATE", pos)
        if found is None:
            break
        s, e, pos = found
        got.append(bytes(buf[s:e]))
    assert got == want and len(got) == 2
    assert pem.read_pem_certs(bytearray(text), True) == want
    assert pem.pem_decode_in_place(bytearray(b"nothing"), "CERTIFICATE") is None
    with pytest.raises(DecodeError):
        pem.pem_decode_in_place(bytearray(b"-----BEGIN X-----\nAA!A\n-----END X-----\n"), b"X")
    with pytest.raises(DecodeError):
        pem.pem_decode_in_place(bytearray(b"-----BEGIN X-----\nAAAA\n"), b"X")  # no END line
    # every padding form, in place, against the copying decoder
    for raw in (b"", b"a", b"ab", b"abc", bytes(range(256))):
        import base64
        block = b"-----BEGIN X-----\n" + base64.encodebytes(raw) + b"-----END X-----\n"
        buf = bytearray(block)
        s, e, _ = pem.pem_decode_in_place(buf, b"X")
        assert bytes(buf[s:e]) == raw == pem.pem_to_der(block, b"X")


def test_cert_truncation_and_corruption_raise_decode_error(cert):
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    for cut in range(len(cert_der)):
        with pytest.raises(DecodeError):
            der.cert_spki(cert_der[:cut])
    rng = random.Random(5280)
    for _ in range(2000):
        bad = bytearray(cert_der)
        for _ in range(rng.randint(1, 3)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        try:
            spki = der.cert_spki(bytes(bad))
        except DecodeError:
            continue
        try:
            der.spki_rsa_public(spki)
        except DecodeError:
            pass


def test_der_reader_bounds():
    cases = [
        b"",
        b"\x30",
        b"\x30\x05\x02\x01",  # content overruns
        b"\x30\x80\x00\x00",  # indefinite length
        b"\x30\x81",  # length bytes missing
        b"\x30\x82\x01",
        b"\x30\x84\x00\x00\x00\x01\x00",  # 4 length bytes
        b"\x30\x81\x05\x00\x00\x00\x00\x00",  # non-minimal long form
        b"\x30\x82\x00\x80" + bytes(128),  # leading zero length byte
        b"\x1f\x01\x00",  # high tag number
    ]
    for buf in cases:
        with pytest.raises(DecodeError):
            der.read_tlv(buf, 0, len(buf))
    buf = b"\x30\x03\x02\x01\x05\xff"
    assert der.read_tlv(buf, 0, len(buf)) == (0x30, 2, 5)
    assert der.read_tlv(memoryview(buf), 0, len(buf)) == (0x30, 2, 5)
    with pytest.raises(DecodeError):  # the inner element must stay inside its parent
        der.read_tlv(buf, 2, 4)
    with pytest.raises(DecodeError):
        der.read_tlv(buf, 0, 100)  # end beyond the buffer
    assert der.read_uint(buf, 2, 5) == (5, 5)
    with pytest.raises(DecodeError):
        der.read_uint(b"\x02\x01\x80", 0, 3)  # negative
    with pytest.raises(DecodeError):
        der.read_uint(b"\x02\x00", 0, 2)  # empty
    with pytest.raises(DecodeError):
        der.expect(buf, 0, len(buf), 0x02)  # INTEGER
    long_form = b"\x04\x82\x01\x00" + bytes(256)
    assert der.read_tlv(long_form, 0, len(long_form)) == (0x04, 4, 260)
    big = b"\x04\x83\x01\x00\x00" + bytes(65536)
    assert der.read_tlv(big, 0, len(big)) == (0x04, 5, 65541)


def test_base64_decoder():
    import base64

    rng = random.Random(4648)
    for n in list(range(70)) + [1190, 1217]:
        raw = bytes(rng.getrandbits(8) for _ in range(n))
        enc = base64.b64encode(raw)
        assert pem.b64decode(enc) == raw
        wrapped = b"\n".join(enc[i : i + 64] for i in range(0, len(enc), 64)) + b"\r\n"
        assert pem.b64decode(wrapped) == raw
        assert pem.b64decode(enc.rstrip(b"=")) == raw
    for bad in (b"A", b"AAAAA", b"AA=A", b"AA*A", b"AAAA\x00", "é".encode()):
        with pytest.raises(DecodeError):
            pem.b64decode(bad)
    with pytest.raises(DecodeError):
        pem.pem_to_der("-----BEGIN X-----\nAA!A\n-----END X-----\n", "X")
    with pytest.raises(DecodeError):
        pem.pem_to_der("-----BEGIN X-----\nAAAA\n-----END X-----\n", "Y")
    assert pem.pem_to_der(b"-----BEGIN X-----\nAAEC\n-----END X-----\n", b"X") == b"\x00\x01\x02"


# --- MODP group 14 --------------------------------------------------------------------------------------


RFC3526_P14_PREFIX = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"


def test_modp_constants():
    assert modp.G == 2
    assert modp.P14.bit_length() == 2048
    assert "%X" % modp.P14 == RFC3526_P14_PREFIX + ("%X" % modp.P14)[len(RFC3526_P14_PREFIX) :]
    assert modp.P14 % 2**64 == 2**64 - 1
    # p is a safe prime: 2 generates the subgroup of order q = (p-1)/2
    assert pow(2, (modp.P14 - 1) // 2, modp.P14) == 1


def test_modp_two_parties_and_cryptography():
    pn = dh.DHParameterNumbers(modp.P14, 2)
    params = pn.parameters()
    for size in (32, 64, 256):
        a_raw = os.urandom(size)
        b_raw = os.urandom(size)
        a, a_pub = modp.dh14_keypair(a_raw)
        b, b_pub = modp.dh14_keypair(b_raw)
        assert len(a_pub) == len(b_pub) == 256
        assert a == int.from_bytes(a_raw, "big")
        s1 = modp.dh14_shared(a, b_pub)
        assert s1 == modp.dh14_shared(b, a_pub)
        assert len(s1) == 256
        ca = dh.DHPrivateNumbers(a, dh.DHPublicNumbers(pow(2, a, modp.P14), pn)).private_key()
        assert ca.public_key().public_numbers().y.to_bytes(256, "big") == a_pub
        peer = params.generate_private_key()
        peer_pub = peer.public_key().public_numbers().y.to_bytes(256, "big")
        assert modp.dh14_shared(a, peer_pub) == ca.exchange(peer.public_key())
        assert modp.dh14_shared(a, peer_pub) == peer.exchange(ca.public_key())
        # shorter (unpadded) encodings of the same value are accepted
        assert modp.dh14_shared(a, peer_pub.lstrip(b"\x00")) == modp.dh14_shared(a, peer_pub)


def test_modp_rejects():
    p = modp.P14
    x, _ = modp.dh14_keypair(os.urandom(32))
    for bad in (0, 1, p - 1, p, p + 1):
        with pytest.raises(ValueError):
            modp.dh14_shared(x, bad.to_bytes(256, "big"))
    with pytest.raises(ValueError):
        modp.dh14_shared(x, b"")
    with pytest.raises(ValueError):
        modp.dh14_shared(x, b"\x00" + (5).to_bytes(256, "big"))  # 257 bytes
    with pytest.raises(ValueError):
        modp.dh14_keypair(os.urandom(31))
    with pytest.raises(ValueError):
        modp.dh14_keypair(bytes(32))
    with pytest.raises(ValueError):
        modp.dh14_keypair((p - 1).to_bytes(256, "big"))
    with pytest.raises(ValueError):
        modp.dh14_shared(1, (5).to_bytes(256, "big"))


# --- the same under MicroPython ------------------------------------------------------------------------

MP_SCRIPT = r"""
import json
from microticket.pk import der, pem, rsa, rsa_sign
from microticket.ike import modp
from microticket.errors import DecodeError
from microticket.pk.x25519 import x25519, x25519_base, x25519_shared

def uh(s):
    return bytes.fromhex(s)

f = open('inputs.json')
inp = json.load(f)
f.close()
out = {}
out['x25519'] = [x25519(uh(k), uh(u)).hex() for k, u in inp['x25519']]
out['x25519_base'] = [x25519_base(uh(k)).hex() for k in inp['x25519_base']]
out['x25519_shared'] = [x25519_shared(uh(k), uh(u)).hex() for k, u in inp['x25519_shared']]
zero = 0
for u in ('00' * 32, '01' + '00' * 31):
    try:
        x25519_shared(uh(inp['x25519_base'][0]), uh(u))
    except ValueError:
        zero += 1
out['x25519_zero_rejected'] = zero

sigs = {}
for fmt in ('pkcs1', 'pkcs8'):
    f = open(fmt + '.pem')
    key = rsa_sign.load_private_key_pem(f.read())
    f.close()
    sigs[fmt] = [key.sign_pkcs1_sha256(uh(d)).hex() for d in inp['digests']]
    f = open(fmt + '.pem', 'rb')
    key = rsa_sign.load_private_key_pem(bytearray(f.read()), True)
    f.close()
    sigs[fmt + '_in_place'] = [key.sign_pkcs1_sha256(uh(d)).hex() for d in inp['digests']]
out['sigs'] = sigs
f = open('cert.pem')
certs = pem.read_pem_certs(f.read())
f.close()
out['ncerts'] = len(certs)
spki = der.cert_spki(certs[0])
out['spki'] = spki.hex()
pub = rsa.public_key_from_spki_der(spki)
ok = []
for d, s in zip(inp['digests'], inp['csigs']):
    ok.append(pub.verify_pkcs1_sha256(uh(d), uh(s)))
    bad = bytearray(uh(s))
    bad[100] ^= 0x10
    ok.append(pub.verify_pkcs1_sha256(uh(d), bytes(bad)))
out['verify'] = ok
cert = certs[0]
trunc = 0
for cut in range(len(cert)):
    try:
        der.cert_spki(cert[:cut])
    except DecodeError:
        trunc += 1
out['trunc_decode_errors'] = trunc
errs = 0
for bad in ('', '30', '300502 01', '3080', '3084000000010000', '30810500000000'):
    b = uh(bad.replace(' ', ''))
    try:
        der.read_tlv(b, 0, len(b))
    except DecodeError:
        errs += 1
out['der_errors'] = errs
try:
    pem.b64decode(b'AA*A')
    out['b64_bad'] = False
except DecodeError:
    out['b64_bad'] = True

x, pub_a = modp.dh14_keypair(uh(inp['dh_priv']))
out['dh_pub'] = pub_a.hex()
out['dh_shared'] = modp.dh14_shared(x, uh(inp['dh_peer'])).hex()
rej = 0
for v in (0, 1, modp.P14 - 1):
    try:
        modp.dh14_shared(x, v.to_bytes(256, 'big'))
    except ValueError:
        rej += 1
out['dh_rejected'] = rej
print(json.dumps(out))
"""


def _run_mp(workdir, script, heapsize=None, path=LIB):
    env = dict(os.environ)
    env["MICROPYPATH"] = path + ":.frozen"
    cmd = [MICROPYTHON]
    if heapsize:
        cmd += ["-X", "heapsize=" + heapsize]
    with open(os.path.join(workdir, "script.py"), "w") as f:
        f.write(script)
    return subprocess.run(cmd + ["script.py"], cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


@needs_mp
def test_under_micropython(tmp_path, ckey, pems, cert):
    rng = random.Random(1)
    keys = [bytes(rng.getrandbits(8) for _ in range(32)) for _ in range(6)]
    cpriv = [cx25519.X25519PrivateKey.from_private_bytes(k) for k in keys]
    cpub = [c.public_key().public_bytes_raw() for c in cpriv]
    msgs = [b"", b"server key exchange", os.urandom(100)]
    digests = [hashlib.sha256(m).digest() for m in msgs]
    csigs = [ckey.sign(m, padding.PKCS1v15(), hashes.SHA256()) for m in msgs]
    dh_priv = os.urandom(32)
    pn = dh.DHParameterNumbers(modp.P14, 2)
    peer = pn.parameters().generate_private_key()
    a = int.from_bytes(dh_priv, "big")
    ca = dh.DHPrivateNumbers(a, dh.DHPublicNumbers(pow(2, a, modp.P14), pn)).private_key()
    inputs = {
        "x25519": [[k, u] for k, u, _ in RFC7748_VECTORS],
        "x25519_base": [k.hex() for k in keys],
        "x25519_shared": [[keys[i].hex(), cpub[i + 1].hex()] for i in range(5)] + [[ALICE_PRIV, BOB_PUB]],
        "digests": [d.hex() for d in digests],
        "csigs": [s.hex() for s in csigs],
        "dh_priv": dh_priv.hex(),
        "dh_peer": peer.public_key().public_numbers().y.to_bytes(256, "big").hex(),
    }
    (tmp_path / "inputs.json").write_text(json.dumps(inputs))
    (tmp_path / "pkcs1.pem").write_bytes(pems["pkcs1"])
    (tmp_path / "pkcs8.pem").write_bytes(pems["pkcs8"])
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM) * 2)
    res = _run_mp(str(tmp_path), MP_SCRIPT)
    assert res.returncode == 0, res.stderr + res.stdout
    out = json.loads(res.stdout.strip().splitlines()[-1])

    assert out["x25519"] == [o for _, _, o in RFC7748_VECTORS]
    assert out["x25519_base"] == [p.hex() for p in cpub]
    expect_shared = [cpriv[i].exchange(cpriv[i + 1].public_key()).hex() for i in range(5)] + [SHARED_61]
    assert out["x25519_shared"] == expect_shared
    assert out["x25519_zero_rejected"] == 2
    want = [s.hex() for s in csigs]
    assert out["sigs"] == {"pkcs1": want, "pkcs8": want, "pkcs1_in_place": want, "pkcs8_in_place": want}
    assert out["ncerts"] == 2
    assert out["spki"] == _spki_der(ckey).hex()
    assert out["verify"] == [True, False] * len(msgs)
    assert out["trunc_decode_errors"] == len(cert.public_bytes(serialization.Encoding.DER))
    assert out["der_errors"] == 6
    assert out["b64_bad"] is True
    assert out["dh_pub"] == pow(2, a, modp.P14).to_bytes(256, "big").hex()
    assert out["dh_shared"] == ca.exchange(peer.public_key()).hex()
    assert out["dh_rejected"] == 3


HEAP_SCRIPT = r"""
import gc
from microticket.pk import rsa_sign
f = open('key.pem', 'rb')
key = rsa_sign.load_private_key_pem(f.read())
f.close()
gc.collect()
print(key.sign_pkcs1_sha256(bytes(range(32))).hex())
"""


@needs_mp
def test_micropython_rsa_small_heap(tmp_path, ckey, pems):
    """PEM load + CRT sign in a bounded heap: 64 KB when the modules are compiled from source on the
    device, 30 KB when they are precompiled with mpy-cross (as they would be, or frozen, on a board; 28 KB
    before RSA-PSS signing was added)."""
    (tmp_path / "key.pem").write_bytes(pems["pkcs1"])
    # the script signs bytes(range(32)) as a digest: open the signature with the public key and compare
    pub = ckey.public_key().public_numbers()
    res = _run_mp(str(tmp_path), HEAP_SCRIPT, heapsize="64k")
    assert res.returncode == 0, res.stderr
    sig = int(res.stdout.strip(), 16)
    em = pow(sig, pub.e, pub.n).to_bytes(256, "big")
    assert em == bytes(rsa.emsa_pkcs1_sha256(bytes(range(32)), 256))

    mpy_cross = shutil.which("mpy-cross") or os.path.join(os.path.dirname(MICROPYTHON), "mpy-cross")
    if not os.path.exists(mpy_cross):
        pytest.skip("no mpy-cross")
    pkg = tmp_path / "mpy" / "microticket"
    (pkg / "pk").mkdir(parents=True)
    for name in ("__init__", "errors", "pk/__init__", "pk/der", "pk/pem", "pk/rsa", "pk/rsa_sign"):
        subprocess.run(
            [mpy_cross, "-o", str(pkg / (name + ".mpy")), os.path.join(LIB, "microticket", name + ".py")],
            check=True,
        )
    res = _run_mp(str(tmp_path), HEAP_SCRIPT, heapsize="30k", path=str(tmp_path / "mpy"))
    assert res.returncode == 0, res.stderr
    assert int(res.stdout.strip(), 16) == sig
