"""TLS 1.3 key schedule (microticket.tls.keys13) against the RFC 8448 traces, and TLS 1.3 record protection
(microticket.tls.record13 through microticket.tls.record's RecordLayer) against the `cryptography` package
with the RFC 8446 section 5.2-5.3 nonce and additional data, on CPython and on MicroPython (where sealing
and opening run under heap_lock)."""

import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from microticket import crypto
from microticket.errors import TlsAlert
from microticket.tls import const as C
from microticket.tls import keys13, record13
from microticket.tls.record import RecordLayer

H = bytes.fromhex

# --- RFC 8448 section 3, "Simple 1-RTT Handshake" (values typed from the RFC's trace) ---------------------
ECDHE = H("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d")  # x25519 shared secret
TH_HELLO = H("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8")  # Hash(ClientHello..ServerHello)
TH_SFIN = H("9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13")   # ..server Finished
TH_CFIN = H("209145a96ee8e2a122ff810047cc952684658d6049e86429426db87c54ad143d")   # ..client Finished
RFC8448_1RTT = {
    "early": "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a",
    "derived": "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba",
    "handshake": "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac",
    "c_hs": "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
    "s_hs": "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
    "master": "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919",
    "s_hs_key": "3fce516009c21727d0f2e4e86ee403bc",
    "s_hs_iv": "5d313eb2671276ee13000b30",
    "c_hs_key": "dbfaa693d1762c5b666af5d950258d01",
    "c_hs_iv": "5bd3c71b836e0b76bb73265f",
    "c_fin": "a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61",
    "c_ap": "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
    "s_ap": "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
    "exp": "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50",
    "s_ap_key": "9f02283b6c9c07efc26bb9f2ac92e356",
    "s_ap_iv": "cf782b88dd83549aadf1e984",
    "c_ap_key": "17422dda596ed5d9acd890e3c63f5051",
    "c_ap_iv": "5b78923dee08579033e523d9",
    "res": "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c",
    "psk": "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3",  # ticket_nonce 00 00
}
# --- RFC 8448 section 4, "Resumed 0-RTT Handshake": the PSK above, the binder ---------------------------
TH_BINDER = H("63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14")  # Hash(truncated ClientHello)
RFC8448_RESUMED = {
    "early": "9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c",
    "binder_key": "69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256",
    "binder": "3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d",
    "derived": "5f1790bbd82c5e7d376ed2e1e52f8e6038c9346db61b43be9a52f77ef3998e80",
}
# the client's Finished message and its protected record (RFC 8448 section 3), client handshake key/IV, seq 0
CFIN_MSG = H("14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61")
CFIN_RECORD = H("17030300 3575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1c"
                "aeacab6867d726c40546".replace(" ", ""))


def head(name, n=32):
    """The HkdfLabel head keys13.label takes for the label ``name`` and ``n`` bytes out (RFC 8446 section 7.1:
    uint16 length, opaque label<7..255> = "tls13 " + name), built here from the RFC's structure."""
    return n.to_bytes(2, "big") + bytes([6 + len(name)]) + b"tls13 " + name


def schedule(k=keys13):
    """Every value of the two traces above, computed with ``k`` (keys13), by name."""
    out = {}
    e = k.stage(None)
    out["early"] = e
    out["derived"] = k.label(e, head(b"derived"), None)
    hs = k.stage(e, ECDHE)
    out["handshake"] = hs
    out["c_hs"] = c_hs = k.label(hs, head(b"c hs traffic"), TH_HELLO)
    out["s_hs"] = s_hs = k.label(hs, head(b"s hs traffic"), TH_HELLO)
    ms = k.stage(hs)
    out["master"] = ms
    out["s_hs_key"], out["s_hs_iv"] = k.traffic(s_hs, 16)
    out["c_hs_key"], out["c_hs_iv"] = k.traffic(c_hs, 16)
    out["c_fin"] = k.finished(c_hs, TH_SFIN)
    out["c_ap"] = c_ap = k.label(ms, head(b"c ap traffic"), TH_SFIN)
    out["s_ap"] = s_ap = k.label(ms, head(b"s ap traffic"), TH_SFIN)
    out["exp"] = k.label(ms, head(b"exp master"), TH_SFIN)
    out["s_ap_key"], out["s_ap_iv"] = k.traffic(s_ap, 16)
    out["c_ap_key"], out["c_ap_iv"] = k.traffic(c_ap, 16)
    out["res"] = res = k.label(ms, head(b"res master"), TH_CFIN)
    out["psk"] = psk = k.label(res, head(b"resumption"), b"\0\0")
    e2 = k.stage(None, psk)
    out["r_early"] = e2
    out["r_binder_key"] = bk = k.label(e2, head(b"res binder"), None)
    out["r_binder"] = k.finished(bk, TH_BINDER)
    out["r_derived"] = k.label(e2, head(b"derived"), None)
    return out


def expected():
    exp = dict(RFC8448_1RTT)
    exp.update(("r_" + n, v) for n, v in RFC8448_RESUMED.items())
    return exp


def test_rfc8448_key_schedule():
    got = schedule()
    exp = expected()
    assert sorted(got) == sorted(exp)
    for name, v in exp.items():
        assert got[name].hex() == v, name


def test_empty_hash_and_label_match_hkdf_expand():
    # the hash of no messages the schedule uses; HKDF-Expand-Label as cryptography's HKDF-Expand over the
    # HkdfLabel structure, over one block and several (n > 32), with empty and long contexts
    assert keys13.label(b"k" * 32, head(b"x"), None) == keys13.label(b"k" * 32, head(b"x"), crypto.sha256(b""))
    secret = bytes(range(32))
    for name, ctx, n in ((b"traffic upd", b"", 32), (b"key", b"", 32), (b"iv", b"", 12),
                         (b"exporter", b"c" * 200, 100), (b"x" * 200, b"", 255)):
        info = n.to_bytes(2, "big") + bytes([6 + len(name)]) + b"tls13 " + name + bytes([len(ctx)]) + ctx
        ref = HKDFExpand(hashes.SHA256(), n, info).derive(secret)
        assert keys13.label(secret, head(name, n), ctx) == ref, (name, n)


def test_every_label_head_in_lib_is_its_label():
    """The HkdfLabel heads written as constants in lib/ (keys13's note) each say their label's length and an
    output length of the SHA-256 suites' (32: secrets, 16 or 32: keys, 12: IVs), and name a label of RFC 8446
    section 7.1, 7.2, 7.3 or 4.6.1."""
    import re
    labels = {b"derived", b"c hs traffic", b"s hs traffic", b"c ap traffic", b"s ap traffic", b"exp master",
              b"res master", b"resumption", b"traffic upd", b"res binder", b"ext binder", b"c e traffic",
              b"finished", b"key", b"iv"}
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "lib",
                       "microticket", "tls")
    seen = set()
    for f in sorted(os.listdir(lib)):
        if f.endswith(".py"):
            with open(os.path.join(lib, f), encoding="utf-8") as src:
                text = src.read()
            for m in re.finditer(r'b"((?:\\x[0-9a-f]{2}){3})tls13 ([^"]*)"', text):
                hx = bytes(int(x, 16) for x in m.group(1).split("\\x")[1:])
                name = m.group(2).encode()
                assert name in labels, (f, name)
                assert hx[2] == 6 + len(name), (f, name, hx)
                n = (hx[0] << 8) | hx[1]
                assert n == {b"key": n if n in (16, 32) else -1, b"iv": 12}.get(name, 32), (f, name, n)
                assert head(name, n) == hx + b"tls13 " + name
                seen.add(name)
    assert seen == labels, labels - seen


def test_key_update_and_chacha_key_lengths():
    # KeyUpdate (RFC 8446 section 7.2): application_traffic_secret_N+1 from _N; ChaCha20's 32-byte key
    s_ap = H(RFC8448_1RTT["s_ap"])
    nxt = keys13.label(s_ap, head(b"traffic upd"))
    info = (32).to_bytes(2, "big") + bytes([17]) + b"tls13 traffic upd" + b"\0"
    assert nxt == HKDFExpand(hashes.SHA256(), 32, info).derive(s_ap)
    k, iv = keys13.traffic(nxt, 32)
    assert len(k) == 32 and len(iv) == 12 and k[:16] != keys13.traffic(nxt, 16)[0]


# --- record protection -------------------------------------------------------------------------------

# microticket.tls.engine's cipher numbers: 3 AES-128-GCM, 4 ChaCha20-Poly1305, 5 AES-128-CCM_8, 6 AES-128-CCM
SUITES = {3: (16, lambda k: AESGCM(k), 16), 4: (32, lambda k: ChaCha20Poly1305(k), 16),
          5: (16, lambda k: AESCCM(k, 8), 8), 6: (16, lambda k: AESCCM(k, 16), 16)}


def nonce(iv, seq):
    return bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big")))


def ref_seal(w, key, iv, seq, ctype, data, pad):
    inner = data + bytes([ctype]) + bytes(pad)
    n = len(inner) + SUITES[w][2]
    hdr = bytes([23, 3, 3]) + n.to_bytes(2, "big")
    return hdr + SUITES[w][1](key).encrypt(nonce(iv, seq), inner, hdr)


def ref_open(w, key, iv, seq, record):
    hdr, body = record[:5], record[5:]
    assert hdr[:3] == b"\x17\x03\x03" and int.from_bytes(hdr[3:], "big") == len(body)
    inner = SUITES[w][1](key).decrypt(nonce(iv, seq), body, hdr).rstrip(b"\0")
    return inner[-1], inner[:-1], len(body) - len(inner) - SUITES[w][2]


def split(wire):
    out, p = [], 0
    while p < len(wire):
        n = 5 + (wire[p + 3] << 8 | wire[p + 4])
        out.append(wire[p:p + n])
        p += n
    return out


def read_all(rl, wire):
    got, off = [], 0
    while off < len(wire) or rl.buffered():
        off += rl.feed(wire, off)
        while True:
            r = rl.next_record()
            if r is None:
                break
            got.append((r[0], bytes(r[1])))
    return got


def test_rfc8448_client_finished_record():
    key, iv = H(RFC8448_1RTT["c_hs_key"]), H(RFC8448_1RTT["c_hs_iv"])
    rl = RecordLayer()
    rl.write_cs = record13.state(3, key, iv)
    rl.write(C.CT_HANDSHAKE, CFIN_MSG)
    assert rl.take_output() == CFIN_RECORD
    rl = RecordLayer()
    rl.read = record13.state(3, key, iv)
    assert read_all(rl, CFIN_RECORD) == [(C.CT_HANDSHAKE, CFIN_MSG)]


CASES = [(23, b""), (22, b"\x08\0\0\x02\0\0"), (23, b"x" * 1), (21, b"\x01\x00"), (23, os.urandom(300)),
         (23, os.urandom(16384))]


@pytest.mark.parametrize("w", sorted(SUITES))
@pytest.mark.parametrize("pad", [0, 1, 17, 255])
def test_written_records_open_with_cryptography(w, pad):
    key, iv = os.urandom(SUITES[w][0]), os.urandom(12)
    rl = RecordLayer()
    cs = rl.write_cs = record13.state(w, key, iv)
    cs[9] = pad
    first = 2**40 - 2 if pad == 17 else 0  # sequence numbers across 2^40 too
    cs[4] = first
    for ctype, data in CASES:
        rl.write(ctype, data)
    recs = split(rl.take_output())
    assert len(recs) == len(CASES)
    for seq, (rec, (ctype, data)) in enumerate(zip(recs, CASES)):
        assert ref_open(w, key, iv, first + seq, rec) == (ctype, data, pad)


@pytest.mark.parametrize("w", sorted(SUITES))
@pytest.mark.parametrize("pad", [0, 2, 200])
def test_cryptography_records_read_back(w, pad):
    key, iv = os.urandom(SUITES[w][0]), os.urandom(12)
    rl = RecordLayer()
    rl.read = record13.state(w, key, iv)
    first = 2**63 + 1 if pad == 2 else 0
    rl.read[4] = first
    wire = b"".join(ref_seal(w, key, iv, first + i, t, d, pad if len(d) + 1 + pad <= 16385 else 0)
                    for i, (t, d) in enumerate(CASES))
    # an unprotected change_cipher_spec between them (RFC 8446 section 5): passed through, no sequence number
    ccs = b"\x14\x03\x03\x00\x01\x01"
    recs = split(wire)
    wire = recs[0] + ccs + b"".join(recs[1:])
    got = read_all(rl, wire)
    assert got == [CASES[0], (20, b"\x01")] + CASES[1:]


def sealed_one(w=3, pad=0, data=b"hello", ctype=23):
    key, iv = os.urandom(SUITES[w][0]), os.urandom(12)
    return key, iv, ref_seal(w, key, iv, 0, ctype, data, pad)


def refused(key, iv, record, w=3):
    rl = RecordLayer()
    rl.read = record13.state(w, key, iv)
    rl.feed(record)
    with pytest.raises(TlsAlert) as e:
        rl.next_record()
    return e.value.description


def test_refused_records():
    key, iv, rec = sealed_one()
    for pos in (5, len(rec) - 1, len(rec) - 17):  # ciphertext, tag
        bad = bytearray(rec)
        bad[pos] ^= 1
        assert refused(key, iv, bytes(bad)) == C.BAD_RECORD_MAC
    # legacy_record_version other than 0x0303 on a protected record: the record layer refuses it first
    bad = bytearray(rec)
    bad[2] = 1
    assert refused(key, iv, bytes(bad)) == C.PROTOCOL_VERSION
    # the outer type of a protected record must be application_data
    assert refused(key, iv, b"\x16" + rec[1:]) == C.UNEXPECTED_MESSAGE
    # shorter than a tag and a type byte
    assert refused(key, iv, b"\x17\x03\x03\x00\x10" + bytes(16)) == C.BAD_RECORD_MAC
    # an inner plaintext of zeros only: no content type (RFC 8446 section 5.4)
    z = bytes([23, 3, 3, 0, 20]) + AESGCM(key).encrypt(iv, bytes(4), bytes([23, 3, 3, 0, 20]))
    assert refused(key, iv, z) == C.UNEXPECTED_MESSAGE
    # the wrong sequence number
    assert refused(key, iv, ref_seal(3, key, iv, 1, 23, b"x", 0)) == C.BAD_RECORD_MAC
    # over 2^14 + 256 bytes of ciphertext; over 2^14 + 1 of inner plaintext; over 2^14 of content
    for n, pad in ((16384, 256), (16384, 2), (16385, 0)):
        big = ref_seal(3, key, iv, 0, 23, bytes(n), pad)
        assert refused(key, iv, big) == C.RECORD_OVERFLOW, (n, pad)
    ok = ref_seal(3, key, iv, 0, 23, bytes(16384), 0)
    rl = RecordLayer()
    rl.read = record13.state(3, key, iv)
    assert read_all(rl, ok) == [(23, bytes(16384))]


def test_tls12_aead_states_unchanged():
    """record_aead's states (TLS 1.2) still write their own type and read back through the record layer."""
    from microticket.tls import record_aead
    key, iv = os.urandom(16), os.urandom(4)
    w = RecordLayer()
    w.write_cs = record_aead.state(3, key, iv)
    w.write(22, b"hs message")
    w.write(23, b"data")
    wire = w.take_output()
    assert [r[0] for r in split(wire)] == [22, 23]
    r = RecordLayer()
    r.read = record_aead.state(3, key, iv)
    assert read_all(r, wire) == [(22, b"hs message"), (23, b"data")]


# --- MicroPython -------------------------------------------------------------------------------------

MP_SCRIPT = r"""
import gc, micropython
from microticket.tls import keys13, record13
from microticket.tls.record import RecordLayer
H = bytes.fromhex
ECDHE = H(%r)
TH_HELLO = H(%r)
TH_SFIN = H(%r)
TH_CFIN = H(%r)
TH_BINDER = H(%r)
%s
for name, v in sorted(schedule().items()):
    print(name, v.hex())

key, iv = H(%r), H(%r)
rl = RecordLayer()
rl.write_cs = record13.state(3, key, iv)
rl.write(22, H(%r))
print("cfin_record", rl.take_output().hex())

# heap_lock: write and open 1.3 records (three AEADs, padding, several lengths and types), all made first
def run(wr, rd, out, datas, res):
    # locals only: a new global would grow the module's dict under the lock
    buf = out._ob
    i = 0
    micropython.heap_lock()
    try:
        for d in datas:
            out._oe = 0
            t = 22 + (len(d) & 1)
            body = wr[1](wr, out, t, d)
            r = rd[0](rd, buf, 23, 5, body)
            ok = r[0] == 5 and r[1] == len(d) and r[2] == t and body == len(d) + 1 + 3 + 16
            for j in range(len(d)):
                if buf[5 + j] != d[j]:
                    ok = False
            res[i] = 1 if ok else 0
            i += 1
    finally:
        micropython.heap_unlock()
    return i


res = bytearray(40)
out = RecordLayer(2048, 4096)
datas = [bytearray(b"abc" * 100)[0:n] for n in (0, 1, 17, 300)]
for w, k in ((3, key), (4, bytes(range(32))), (6, key)):
    wr = record13.state(w, k, iv)
    rd = record13.state(w, k, iv)
    wr[9] = 3
    i = run(wr, rd, out, datas, res)
    print("locked", w, i, sum(res[:i]))
"""


def test_micropython_schedule_records_and_heap_lock(mp):
    import inspect
    src = inspect.getsource(head) + "\n\n" + inspect.getsource(schedule)
    script = MP_SCRIPT % (ECDHE.hex(), TH_HELLO.hex(), TH_SFIN.hex(), TH_CFIN.hex(), TH_BINDER.hex(), src,
                          RFC8448_1RTT["c_hs_key"], RFC8448_1RTT["c_hs_iv"], CFIN_MSG.hex())
    proc = mp.run_mp(script)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    lines = proc.stdout.split("\n")
    got = {ln.split()[0]: ln.split()[1:] for ln in lines if ln.strip()}
    for name, v in expected().items():
        assert got[name] == [v], name
    assert got["cfin_record"] == [CFIN_RECORD.hex()]
    locked = [ln.split()[1:] for ln in lines if ln.startswith("locked")]
    assert locked == [["3", "4", "4"], ["4", "4", "4"], ["6", "4", "4"]]
