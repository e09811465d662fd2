"""RSASSA-PSS with SHA-256, MGF1-SHA256 and a 32-byte salt (rsa_pss_rsae_sha256; RFC 8017 sections 8.1, 9.1):
microticket.pk.rsa verify_pss_sha256 and microticket.pk.rsa_sign sign_pss_sha256, checked against the
``cryptography`` package both ways (2048, 3072 and odd sizes: 2049 bits, where EM is one byte shorter than the
modulus, and 2050 bits, where seven bits of EM's first byte are cleared), against encodings broken one field at a
time (signed raw with the private key, so only the broken field is wrong), and the same under MicroPython.
"""

import hashlib
import json
import os

import pytest

from microticket.pk import rsa, rsa_sign

pytest.importorskip("cryptography")
from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, utils  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa as crsa  # noqa: E402

SIZES = (2048, 3072, 2049, 2050)
SHA256 = hashes.SHA256()
PREHASHED = utils.Prehashed(SHA256)


def pss(salt_len=32):
    return padding.PSS(mgf=padding.MGF1(SHA256), salt_length=salt_len)


def _key_from_primes(p, q, e=65537):
    d = pow(e, -1, (p - 1) * (q - 1))
    pub = crsa.RSAPublicNumbers(e, p * q)
    return crsa.RSAPrivateNumbers(p, q, d, crsa.rsa_crt_dmp1(d, p), crsa.rsa_crt_dmq1(d, q),
                                  crsa.rsa_crt_iqmp(p, q), pub).private_key()


@pytest.fixture(scope="module")
def keys():
    out = {bits: crsa.generate_private_key(public_exponent=65537, key_size=bits) for bits in (2048, 3072, 2050)}
    # OpenSSL makes even sizes only: a 2049-bit modulus from a 1025-bit prime (of the 2050-bit key) and a
    # 1024-bit one (both with their two top bits set, so the product has 2049 bits)
    out[2049] = _key_from_primes(out[2050].private_numbers().p, out[2048].private_numbers().q)
    for bits in SIZES:
        assert out[bits].key_size == bits == out[bits].private_numbers().public_numbers.n.bit_length()
    return out


def ours(ckey):
    pn = ckey.private_numbers()
    pub = pn.public_numbers
    priv = rsa_sign.RsaPrivateKey(pub.n, pub.e, pn.d, pn.p, pn.q, pn.dmp1, pn.dmq1, pn.iqmp)
    return priv, rsa.RsaPublicKey(pub.n, pub.e)


def digest(i):
    return hashlib.sha256(b"message %d" % i).digest()


# --- a reference EMSA-PSS written from RFC 8017 section 9.1.1, with one field breakable at a time ----------

def mgf1(seed, length):
    out = b""
    c = 0
    while len(out) < length:
        out += hashlib.sha256(seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:length]


def ref_emsa(mhash, salt, mod_bits, defect=None):
    em_bits = mod_bits - 1
    em_len = (em_bits + 7) // 8
    h = hashlib.sha256(bytes(8) + mhash + salt).digest()
    ps = bytearray(em_len - len(salt) - 32 - 2)
    one = 1
    if defect == "padding zeros":
        ps[len(ps) // 2] = 0x40
    if defect == "0x01":
        one = 0x02
    if defect == "hash":
        h = bytes([h[0] ^ 1]) + h[1:]
    db = bytes(ps) + bytes([one]) + salt
    masked = bytearray(a ^ b for a, b in zip(db, mgf1(h, len(db))))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    trailer = 0xBD if defect == "trailer" else 0xBC
    em = bytes(masked) + h + bytes([trailer])
    if defect == "leftmost bit":  # the only bit above emBits an m < n can have: bit emBits, n's top bit
        if 8 * em_len == em_bits:  # modBits = 8k + 1: a byte before EM
            return b"\x01" + em
        return bytes([em[0] | 0x100 >> (8 * em_len - em_bits)]) + em[1:]
    return em


def raw_sign(ckey, em):
    """The RSA private operation of the integer EM: a signature carrying exactly the encoding given."""
    pn = ckey.private_numbers()
    n = pn.public_numbers.n
    m = int.from_bytes(em, "big")
    assert m < n
    return pow(m, pn.d, n).to_bytes((n.bit_length() + 7) // 8, "big")


# --- both ways against cryptography -------------------------------------------------------------------------

@pytest.mark.parametrize("bits", SIZES)
def test_cryptography_signs_we_verify(keys, bits):
    ckey = keys[bits]
    _, pub = ours(ckey)
    for i in range(4):
        d = digest(i)
        sig = ckey.sign(d, pss(32), PREHASHED)
        assert len(sig) == pub.size
        assert pub.verify_pss_sha256(d, sig) is True
        assert pub.verify_pss_sha256(memoryview(d), sig) is True  # digest as a view too
        assert pub.verify_pss_sha256(d, memoryview(bytearray(sig))) is True
        assert pub.verify_pss_sha256(digest(i + 100), sig) is False
        assert pub.verify_pkcs1_sha256(d, sig) is False  # a PSS signature is no PKCS#1 v1.5 one


@pytest.mark.parametrize("bits", SIZES)
def test_we_sign_cryptography_verifies(keys, bits):
    ckey = keys[bits]
    priv, pub = ours(ckey)
    cpub = ckey.public_key()
    for i in range(4):
        d = digest(i)
        salt = hashlib.sha256(b"salt %d" % i).digest()
        sig = priv.sign_pss_sha256(d, salt)
        assert isinstance(sig, bytes) and len(sig) == pub.size
        cpub.verify(sig, d, pss(32), PREHASHED)  # raises InvalidSignature if wrong
        with pytest.raises(InvalidSignature):
            cpub.verify(sig, digest(i + 1), pss(32), PREHASHED)
        # exactly the RFC 8017 encoding with the caller's salt (no randomness of its own)
        assert sig == raw_sign(ckey, ref_emsa(d, salt, cpub.key_size))
        assert priv.sign_pss_sha256(d, salt) == sig
        assert priv.sign_pss_sha256(d, bytes(32)) != sig
        assert pub.verify_pss_sha256(d, sig) is True
        # PKCS#1 v1.5 signing is unchanged
        cpub.verify(priv.sign_pkcs1_sha256(d), d, padding.PKCS1v15(), PREHASHED)


# --- broken encodings ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", SIZES)
@pytest.mark.parametrize("defect", ["trailer", "padding zeros", "0x01", "hash", "leftmost bit"])
def test_broken_encoding_refused(keys, bits, defect):
    ckey = keys[bits]
    _, pub = ours(ckey)
    n = ckey.public_key().public_numbers().n
    d = digest(7)
    for i in range(200):  # a salt whose encoding stays below n (the leftmost bit set may not)
        salt = hashlib.sha256(b"%d" % i).digest()
        good = ref_emsa(d, salt, bits)
        bad = ref_emsa(d, salt, bits, defect)
        if int.from_bytes(bad, "big") < n:
            break
    assert bad != good
    assert pub.verify_pss_sha256(d, raw_sign(ckey, good)) is True
    assert pub.verify_pss_sha256(d, raw_sign(ckey, bad)) is False


@pytest.mark.parametrize("bits", SIZES)
@pytest.mark.parametrize("salt_len", [0, 20, 31, 33, 64])
def test_other_salt_lengths_refused(keys, bits, salt_len):
    ckey = keys[bits]
    _, pub = ours(ckey)
    d = digest(1)
    assert pub.verify_pss_sha256(d, ckey.sign(d, pss(salt_len), PREHASHED)) is False
    # the same through the reference encoder (both well formed otherwise)
    salt = bytes(range(salt_len))
    assert pub.verify_pss_sha256(d, raw_sign(ckey, ref_emsa(d, salt, bits))) is False


def test_tampered_and_malformed_signatures(keys):
    ckey = keys[2048]
    priv, pub = ours(ckey)
    d = digest(3)
    sig = priv.sign_pss_sha256(d, bytes(range(32)))
    assert pub.verify_pss_sha256(d, sig) is True
    for pos in (0, 1, 100, len(sig) - 1):
        for bit in (0x01, 0x80):
            t = bytearray(sig)
            t[pos] ^= bit
            assert pub.verify_pss_sha256(d, t) is False
    n = pub.n
    for bad in (b"", sig[:-1], sig + b"\0", b"\0" + sig, bytes(len(sig)), b"\xff" * len(sig),
                n.to_bytes(len(sig), "big"), (n - 1).to_bytes(len(sig), "big"), (1).to_bytes(len(sig), "big")):
        assert pub.verify_pss_sha256(d, bad) is False
    for bad_digest in (b"", d[:31], d + b"\0"):
        assert pub.verify_pss_sha256(bad_digest, sig) is False
    assert pub.verify_pss_sha256(d, memoryview(sig)[1:]) is False
    # a signature of the same digest with the other scheme
    assert pub.verify_pss_sha256(d, priv.sign_pkcs1_sha256(d)) is False


def _next_prime(x):
    x |= 1
    while not all(pow(a, x - 1, x) == 1 for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)):
        x += 2
    return x


def test_short_key_refused():
    # a 512-bit key is too short for SHA-256 and a 32-byte salt (emLen < 66): signing raises ValueError,
    # verifying says False
    p = _next_prime(0xF7E75FDC469067FFDC4E847C51F452DF ^ (1 << 255))
    q = _next_prime(0xE85CED54AF57E53E092113E62F436F4F ^ (1 << 255) ^ (1 << 254))
    n = p * q
    e = 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    priv = rsa_sign.RsaPrivateKey(n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p))
    pub = priv.public_key()
    assert pub.size == 64
    with pytest.raises(ValueError):
        priv.sign_pss_sha256(digest(0), bytes(32))
    for sig in (bytes(64), (n - 5).to_bytes(64, "big"), priv.sign_pkcs1_sha256(digest(0))):
        assert pub.verify_pss_sha256(digest(0), sig) is False


def test_salt_must_be_32_bytes(keys):
    priv, _ = ours(keys[2048])
    for salt in (None, b"", bytes(20), bytes(31), bytes(33)):
        with pytest.raises(ValueError):
            priv.sign_pss_sha256(digest(0), salt)
    with pytest.raises(ValueError):
        priv.sign_pss_sha256(digest(0)[:31], bytes(32))


# --- under MicroPython ---------------------------------------------------------------------------------------

MP_SCRIPT = """
import json
from microticket.pk.rsa import RsaPublicKey
from microticket.pk.rsa_sign import RsaPrivateKey
inp = json.load(open('inputs.json'))
out = []
for kv in inp:
    k = [int(x, 16) for x in kv['key']]
    priv = RsaPrivateKey(*k)
    pub = RsaPublicKey(k[0], k[1])
    sigs = [priv.sign_pss_sha256(bytes.fromhex(d), bytes.fromhex(s)).hex() for d, s in kv['sign']]
    ok = []
    for d, sig in kv['verify']:
        sig = bytes.fromhex(sig)
        ok.append(pub.verify_pss_sha256(bytes.fromhex(d), memoryview(sig)))
    out.append({'sigs': sigs, 'ok': ok})
print(json.dumps(out))
"""


def test_under_micropython(mp, tmp_path, keys):
    inputs, expect = [], []
    for bits in SIZES:
        ckey = keys[bits]
        pn = ckey.private_numbers()
        pubn = pn.public_numbers
        priv, pub = ours(ckey)
        sign = [(digest(i).hex(), hashlib.sha256(b"mp %d" % i).digest().hex()) for i in range(2)]
        d = digest(5)
        salt = hashlib.sha256(b"x").digest()
        verify = [(d.hex(), ckey.sign(d, pss(32), PREHASHED).hex()),  # True
                  (digest(6).hex(), ckey.sign(d, pss(32), PREHASHED).hex()),  # other digest
                  (d.hex(), ckey.sign(d, pss(20), PREHASHED).hex()),  # salt length 20
                  (d.hex(), ckey.sign(d, pss(0), PREHASHED).hex())]  # salt length 0
        for defect in ("trailer", "padding zeros", "0x01", "hash"):
            verify.append((d.hex(), raw_sign(ckey, ref_emsa(d, salt, bits, defect)).hex()))
        verify.append((d.hex(), raw_sign(ckey, ref_emsa(d, salt, bits)).hex()))  # True
        verify.append((d.hex(), "00" * (pub.size - 1)))  # short
        verify.append((d.hex(), pubn.n.to_bytes(pub.size, "big").hex()))  # s >= n
        inputs.append({"key": ["%x" % v for v in (pubn.n, pubn.e, pn.d, pn.p, pn.q, pn.dmp1, pn.dmq1, pn.iqmp)],
                       "sign": sign, "verify": verify})
        expect.append({"sigs": [priv.sign_pss_sha256(bytes.fromhex(a), bytes.fromhex(b)).hex() for a, b in sign],
                       "ok": [pub.verify_pss_sha256(bytes.fromhex(a), bytes.fromhex(b)) for a, b in verify]})
        assert expect[-1]["ok"] == [True] + [False] * 7 + [True, False, False]
        for (a, _), sig in zip(sign, expect[-1]["sigs"]):
            ckey.public_key().verify(bytes.fromhex(sig), bytes.fromhex(a), pss(32), PREHASHED)
    (tmp_path / "inputs.json").write_text(json.dumps(inputs))
    res = mp.run_mp(MP_SCRIPT, cwd=str(tmp_path), timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == expect


def test_pss_is_not_imported_with_crypto_at_import():
    # the PSS encoder imports microticket.crypto when it runs; rsa.py imports none of it at module level
    with open(os.path.join(os.path.dirname(rsa.__file__), "rsa.py")) as f:
        top = [ln for ln in f.read().splitlines() if ln.startswith(("import ", "from "))]
    assert [ln.split("#")[0].strip() for ln in top] == ["from microticket import errors"]
