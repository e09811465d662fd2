"""Record layer (RFC 5246 section 6.2.3.2, RFC 7366): records we write are checked independently with the
`cryptography` package (AES-CBC + HMAC-SHA256), records made independently are read back, and every
malformed one becomes bad_record_mac / record_overflow."""

import hmac
import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from microticket.errors import TlsAlert
from microticket.tls import const as C
from microticket.tls.record import RecordLayer, CipherState

KEY = bytes(range(16))
MAC = bytes(range(100, 132))


def aes_cbc(key, iv, data, enc):
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    ctx = c.encryptor() if enc else c.decryptor()
    return ctx.update(data) + ctx.finalize()


def mac_input(seq, ctype, length):
    return seq.to_bytes(8, "big") + bytes([ctype, 3, 3]) + length.to_bytes(2, "big")


def writer(etm, max_fragment=C.MAX_PLAINTEXT):
    rl = RecordLayer(max_fragment)
    rl.write_cs = CipherState(KEY, MAC, etm, True)
    return rl


def reader(etm, max_fragment=C.MAX_PLAINTEXT):
    rl = RecordLayer(max_fragment)
    rl.read = CipherState(KEY, MAC, etm, False)
    return rl


def split_records(data):
    out = []
    p = 0
    while p < len(data):
        n = data[p + 3] << 8 | data[p + 4]
        out.append((data[p], data[p + 5:p + 5 + n]))
        p += 5 + n
    return out


def independent_open(ctype, body, seq, etm):
    iv, rest = body[:16], body[16:]
    if etm:
        ct, tag = rest[:-32], rest[-32:]
        assert hmac.compare_digest(tag, hmac.new(MAC, mac_input(seq, ctype, 16 + len(ct)) + iv + ct,
                                                 hashlib.sha256).digest())
        pt = aes_cbc(KEY, iv, ct, False)
        pad = pt[-1]
        assert pt[-pad - 1:] == bytes([pad]) * (pad + 1)
        return pt[:-pad - 1]
    pt = aes_cbc(KEY, iv, rest, False)
    pad = pt[-1]
    assert pt[-pad - 1:] == bytes([pad]) * (pad + 1)
    data, tag = pt[:-pad - 1 - 32], pt[-pad - 1 - 32:-pad - 1]
    assert tag == hmac.new(MAC, mac_input(seq, ctype, len(data)) + data, hashlib.sha256).digest()
    return data


def independent_seal(ctype, data, seq, etm, pad=None):
    iv = os.urandom(16)
    if etm:
        p = 15 - len(data) % 16 if pad is None else pad
        ct = aes_cbc(KEY, iv, data + bytes([p]) * (p + 1), True)
        tag = hmac.new(MAC, mac_input(seq, ctype, 16 + len(ct)) + iv + ct, hashlib.sha256).digest()
        body = iv + ct + tag
    else:
        tag = hmac.new(MAC, mac_input(seq, ctype, len(data)) + data, hashlib.sha256).digest()
        p = 15 - (len(data) + 32) % 16 if pad is None else pad
        body = iv + aes_cbc(KEY, iv, data + tag + bytes([p]) * (p + 1), True)
    return bytes([ctype, 3, 3]) + len(body).to_bytes(2, "big") + body


@pytest.mark.parametrize("etm", [False, True])
def test_written_records_open_independently(etm):
    rl = writer(etm)
    sizes = [0, 1, 15, 16, 17, 31, 32, 33, 100, 1000]
    for n in sizes:
        rl.write(C.CT_APPLICATION_DATA, bytes([n & 0xFF]) * n)
    recs = split_records(rl.take_output())
    assert len(recs) == len(sizes)
    ivs = set()
    for seq, ((ctype, body), n) in enumerate(zip(recs, sizes)):
        assert ctype == C.CT_APPLICATION_DATA
        assert independent_open(ctype, body, seq, etm) == bytes([n & 0xFF]) * n
        ivs.add(body[:16])
    assert len(ivs) == len(sizes)  # the explicit IV differs per record


@pytest.mark.parametrize("etm", [False, True])
@pytest.mark.parametrize("pad", [None, 255, 31])
def test_independent_records_read_back(etm, pad):
    rl = reader(etm)
    msgs = [b"", b"a", b"hello world" * 10, os.urandom(500)]
    wire = b"".join(independent_seal(23, m, i, etm, pad if (pad is None or (len(m) + (0 if etm else 32) + pad + 1) % 16 == 0) else None)
                    for i, m in enumerate(msgs))
    got = []
    off = 0
    while off < len(wire) or rl.buffered():
        off += rl.feed(wire, off)
        while True:
            r = rl.next_record()
            if r is None:
                break
            got.append(bytes(r[1]))
    assert got == msgs


@pytest.mark.parametrize("etm", [False, True])
def test_bad_padding_and_bad_mac_look_the_same(etm):
    """No padding oracle: a wrong padding byte and a wrong MAC give the same alert."""
    good = independent_seal(23, b"x" * 40, 0, etm)
    results = set()
    for pos in (len(good) - 1, len(good) - 17, 5 + 16, 5):
        rl = reader(etm)
        bad = bytearray(good)
        bad[pos] ^= 0x01
        rl.feed(bytes(bad))
        with pytest.raises(TlsAlert) as e:
            rl.next_record()
        results.add(e.value.description)
    assert results == {C.BAD_RECORD_MAC}


def test_wrong_sequence_number_fails():
    rl = reader(False)
    rl.feed(independent_seal(23, b"abc", 1, False))  # sequence 1 where 0 is expected
    with pytest.raises(TlsAlert) as e:
        rl.next_record()
    assert e.value.description == C.BAD_RECORD_MAC


def test_fragmentation_and_overflow():
    rl = writer(False, max_fragment=512)
    rl.write(C.CT_APPLICATION_DATA, b"z" * 1500)
    recs = split_records(rl.take_output())
    assert [len(independent_open(t, b, i, False)) for i, (t, b) in enumerate(recs)] == [512, 512, 476]
    # a peer that ignores max_fragment_length: a 600-byte plaintext is record_overflow
    rl = reader(False, max_fragment=512)
    rl.feed(independent_seal(23, b"q" * 600, 0, False)[:rl.in_cap])
    with pytest.raises(TlsAlert) as e:
        rl.next_record()
    assert e.value.description == C.RECORD_OVERFLOW


def test_plaintext_record_limits():
    rl = RecordLayer(512)
    rl.feed(b"\x16\x03\x01\x00\x05hello")  # a ClientHello record may say TLS 1.0
    assert rl.next_record()[0] == 22
    rl.feed(b"\x16\x03\x03\x02\x01" + bytes(513))
    with pytest.raises(TlsAlert) as e:
        rl.next_record()
    assert e.value.description == C.RECORD_OVERFLOW
