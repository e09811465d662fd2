"""ROMFS deployment (MicroPython >= 1.25 boards with a ROM partition): tools/build.py packs the .mpy tree into
an image; mounted at /rom, modules import from /rom/lib and their bytecode runs in place instead of being
copied into the heap. The unix port has vfs.VfsRom (but no ROM partition), so the tests mount the image from
a buffer the way tools/build.py ROMFS_MOUNT does, run the library from it, and pin what it saves."""

import os
import shutil
import subprocess
import sys

import pytest

import tlspeers as P

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/
sys.path.insert(0, os.path.join(ROOT, "tools"))
import build  # noqa: E402
import memprof  # noqa: E402

ROMFS_MAGIC = b"\xd2\xcd\x31"

# Smallest heap for the resumed TLS client (PskClient, the CLI's engine for --psk) with the library in ROMFS
# (tools/memprof.py tls-resume-client --romfs: -X heapsize minus what the image takes, memprof.image_heap_cost):
# measured 32173 B = 31.4 KiB on x86_64, 15 of 15 runs (32256 B in this test's configuration), against the
# issue's 32 KB target. History: TlsClient
# needed 47.0 KB (the old figure also counted the image's GC tables, ~1.3 KB). The test also checks that a
# heap CLIENT_ROMFS_TOO_SMALL_KB does not do (the limit bites, so the pin means something).
# Issue 13 (TLS 1.3 in the same client): 33480 B with --max-version 1.2 (the TLS 1.3 options in the
# shared client and cache modules, the larger image's share of the GC's rounding); pinned at 34.
# Session 20: 32538 B (memprof --step 64, 3 runs alike) once the CLI makes the engine after its start's
# module is unloaded (its buffers then find their contiguous runs) and releases it before the report:
# the 32 KB budget met by 230 B. Then 0-RTT joined the shared client modules (a few constants) and the
# figure moved to 33005-33517 B (it moves by up to 800 B with the image's layout alone: an unloaded module
# grown by 97 bytes moved it 32471 -> 32982 B): pinned at 34.
# Session 21: 33549 B, the peak then in the report (tls_client_config loaded again after the handshake:
# a 488-byte run not found in a fragmented heap); the report in a module of its own (cli/tls_client_report):
# 32331 B (memprof --step 64), the peak back in the handshake (the resumption's keys); microticket.store
# (the cache's file writer) unloaded during the handshake: 32701 -> 32348 B in one build. Pinned at the
# issue's 32 KB budget.
CLIENT_ROMFS_HEAP_KB = 32
CLIENT_ROMFS_TOO_SMALL_KB = 26
# Against openssl s_server (its tickets are larger), a full handshake first, application data both ways and
# the cache written twice: works from 37 KiB (the full PSK handshake now runs through the key exchange's
# module of the one client engine, kx_psk; the separate PskClient managed 34).
CLIENT_ROMFS_OPENSSL_HEAP_KB = 38  # (37 before TLS 1.3 joined the client: see CLIENT_ROMFS_HEAP_KB)


@pytest.fixture(scope="module")
def romfs(tmp_path_factory):
    """(empty MICROPYPATH directory, image path, image length) for lib/ and tests/scripts/ as .mpy."""
    d = tmp_path_factory.mktemp("romfs")
    tree = str(d / "mpy")
    build.compile_tree(build.LIB, tree, source_root=build.ROMFS_LIB)
    build.compile_tree(os.path.join(ROOT, "tests", "scripts"), tree, source_root=build.ROMFS_LIB)
    img = str(d / "lib.romfs")
    data = build.romfs_image(tree)
    with open(img, "wb") as f:
        f.write(data)
    empty = str(d / "empty")
    os.mkdir(empty)
    return empty, img, len(data)


def run_rom(romfs, code, heapsize=None):
    empty, img, _ = romfs
    cmd, env = memprof._mp_base(empty, heapsize)
    return subprocess.run(cmd + ["-c", build.ROMFS_MOUNT % (img, img) + code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_build_cli_writes_a_romfs_image(tmp_path):
    out = tmp_path / "out"
    img = tmp_path / "x.romfs"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build.py"), "--out", str(out), "--romfs",
                        str(img)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    data = img.read_bytes()
    assert data[:3] == ROMFS_MAGIC
    assert b"ticket.mpy" in data and b"lib" in data
    assert "ROMFS image (%d bytes" % len(data) in p.stdout


@pytest.mark.micropython
def test_library_runs_from_romfs(mp, romfs):
    """Imports resolve to /rom/lib and the ticket round trip (seal, open, rotate, reject) runs from there."""
    p = run_rom(romfs, "import microticket.ticket, ticket_roundtrip\n"
                       "print(microticket.ticket.__file__)\nticket_roundtrip.main()\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("/rom/lib/microticket/ticket.mpy"), p.stdout
    assert "roundtrip ok" in p.stdout


IMPORT_COST = """import gc
gc.collect()
a = gc.mem_alloc()
from microticket.tls.%s import %s
gc.collect()
print("cost", gc.mem_alloc() - a)
"""


@pytest.mark.micropython
def test_romfs_import_costs_less_heap_than_a_filesystem(mp, romfs):
    """The reason to deploy by ROMFS: the TLS client engine's import holds ~38 KB of heap from a filesystem
    (bytecode copied in) and ~15 KB from ROMFS (function objects, classes and qstrs remain)."""
    cost = {}
    for mod, cls in (("client", "Client"),):
        p = run_rom(romfs, IMPORT_COST % (mod, cls))
        assert p.returncode == 0, p.stderr
        rom = int(p.stdout.split()[-1])
        env = P.env_micropython()
        env["MICROPYPATH"] = mp.mpy_dir() + ":.frozen"
        q = subprocess.run([mp.micropython_bin(), "-c", IMPORT_COST % (mod, cls)], capture_output=True, text=True,
                           env=env, timeout=60)
        assert q.returncode == 0, q.stderr
        fs = int(q.stdout.split()[-1])
        assert rom < fs - 10 * 1024, (cls, rom, fs)
        cost[cls] = rom
    assert cost["Client"] < 16 * 1024, cost  # measured before the one engine: PskClient 15 KB, TlsClient 20 KB


@pytest.mark.micropython
@pytest.mark.interop
def test_resumed_client_from_romfs_in_a_small_heap(mp, romfs, tmp_path):
    """The board-sized PSK client (max_fragment_length 2048) run from ROMFS resumes with a ticket from our
    server within CLIENT_ROMFS_HEAP_KB of heap beyond the image (which a board keeps in flash)."""
    empty, img, n = romfs
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX])
    port = srv.port
    cache0 = str(tmp_path / "c0.json")
    cache = str(tmp_path / "c.json")
    args = ["tls-client", "127.0.0.1", str(port), "--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--mfl", "3", "--max-version", "1.2"]
    try:
        cmd, env = memprof.cli_command(empty, args + ["--cache", cache0], None, img)
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        assert "resumed: no" in r.stdout and "ticket: yes" in r.stdout, r.stdout + r.stderr
        shutil.copyfile(cache0, cache)
        runs = []
        for kb in (CLIENT_ROMFS_HEAP_KB, CLIENT_ROMFS_TOO_SMALL_KB):
            shutil.copyfile(cache0, cache)
            cmd, env = memprof.cli_command(empty, args + ["--cache", cache], memprof.romfs_heapsize(n, kb * 1024),
                                           img)
            runs.append(subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60))
    finally:
        srv.stop()
    r, small = runs
    assert "resumed: yes" in r.stdout, r.stdout + r.stderr
    out = small.stdout + small.stderr
    assert "resumed: yes" not in out and "error: out of memory" in out and "Traceback" not in out, out


@pytest.mark.micropython
@pytest.mark.interop
def test_client_from_romfs_resumes_against_openssl(mp, romfs, tmp_path):
    """From ROMFS, within a pinned heap, the client resumes with a ticket from `openssl s_server
    -no_cache` (only a ticket can resume) and exchanges application data."""
    if not P.have("openssl"):
        pytest.skip("openssl not installed")
    empty, img, n = romfs
    srv = P.start_openssl_psk_server(cipher=P.OSSL_PSK)
    port = srv.port
    cache = str(tmp_path / "c.json")
    args = ["tls-client", "127.0.0.1", str(port), "--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--mfl", "3", "--max-version", "1.2",
            "--cache", cache, "--send", "hello\n"]
    outs = []
    try:
        for _ in range(2):
            heap = memprof.romfs_heapsize(n, CLIENT_ROMFS_OPENSSL_HEAP_KB * 1024)
            cmd, env = memprof.cli_command(empty, args, heap, img)
            outs.append(subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60))
    finally:
        log = srv.stop()
    o1, o2 = (P.parse_client_output(r.stdout) for r in outs)
    assert o1.get("resumed") == "no" and o1.get("ticket") == "yes", outs[0].stdout + outs[0].stderr + log
    assert o2.get("resumed") == "yes", outs[1].stdout + outs[1].stderr + log
    assert o1.get("reply") == "olleh" and o2.get("reply") == "olleh"


# The ECDHE_RSA server (RSA-2048, 2 KB records) from ROMFS. A full handshake: measured 58029 B = 56.7 KiB
# (tools/memprof.py tls-full-server --romfs; 60.0 KB when only the image's length was subtracted), held to
# the 64 KB target; serving a full handshake
# and then a resumption from its ticket fits the same 64 KB (10 of 10 runs).
SERVER_ROMFS_HEAP_KB = 64
SERVER_ROMFS_RESUME_HEAP_KB = 66  # (issue 13: 64 before the engine knew TLS 1.3; the image grew)


def _serve_from_romfs(romfs, tmp_path, heap_kb, resume):
    empty, img, n = romfs
    cert, key, _, _ = P.make_rsa_cert(str(tmp_path))

    def command(port):  # (argv, env)
        return memprof.cli_command(empty, ["tls-server", "--port", str(port), "--cert", cert, "--key", key,
                                           "--max-record", "2048"], memprof.romfs_heapsize(n, heap_kb * 1024), img)
    srv = P.start_on_free_port(lambda port: command(port)[0], env=command(0)[1])
    port = srv.port
    sess = str(tmp_path / "sess.pem")
    base = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2", "-cipher", P.OSSL_ECDHE_RSA,
            "-maxfraglen", "2048"]
    outs = []
    try:
        P.empty_connection(port)  # served first, as when the figures were measured
        outs.append(subprocess.run(base + ["-sess_out", sess], input=b"", capture_output=True, timeout=60))
        if resume:
            outs.append(subprocess.run(base + ["-sess_in", sess], input=b"", capture_output=True, timeout=60))
    finally:
        log = srv.stop()
    return [o.stdout.decode() for o in outs], log


@pytest.mark.micropython
@pytest.mark.interop
def test_full_server_handshake_from_romfs_within_64k(mp, romfs, tmp_path):
    """`tls-server` from ROMFS in a 64 KB heap (beyond the image): `openssl s_client` completes a full
    ECDHE_RSA handshake and gets a ticket; the server sends no alert."""
    if not P.have("openssl"):
        pytest.skip("openssl not installed")
    (o1,), log = _serve_from_romfs(romfs, tmp_path, SERVER_ROMFS_HEAP_KB, False)
    assert "New, " in o1 and "TLS session ticket lifetime hint" in o1, o1 + log
    assert "alert" not in log, log


@pytest.mark.micropython
@pytest.mark.interop
def test_server_from_romfs_full_then_resumed(mp, romfs, tmp_path):
    """The same server keeps serving: a full handshake, then a resumption from its ticket."""
    if not P.have("openssl"):
        pytest.skip("openssl not installed")
    (o1, o2), log = _serve_from_romfs(romfs, tmp_path, SERVER_ROMFS_RESUME_HEAP_KB, True)
    assert "New, " in o1 and "TLS session ticket lifetime hint" in o1, o1 + log
    assert "Reused, " in o2, o2 + log
    assert "alert" not in log, log


# The client's ECDHE_RSA figures (tools/memprof.py --romfs): resumed 31.5 KiB, a full handshake (X25519,
# the RSA-2048 signature checked with the pinned key) 39.8 KiB in most runs; the targets are 36 KB
# and 40 KB. The full handshake is pinned at 41: its smallest heap varies by up to 512 bytes from run to run
# (the X25519 shares and the RSA signature are new each time, and so are their big-int temporaries), and
# CI must not be decided by that noise.
# (issue 13: tls-full-pin-client 43428 B with --max-version 1.2, the image grown by TLS 1.3: 43, was 42)
# (session 19: the CLI's start unloaded before it connects: resumed 32534 B, full 42262 B; resumed pinned at 34)
# (issue 11, the full handshake's public-key modules unloaded once its key exchange is done, der's DecodeError
# made on the first error: full 41172 B, was 42811: pinned at 42, was 43)
PIN_CLIENT_ROMFS_HEAP_KB = {"tls-resume-pin-client": 33, "tls-full-pin-client": 42}
# Issue 11's suites (ECDSA P-256, AES-128-GCM), measured the same way: resumed on GCM 38.0 KiB (46.6 before
# the GCM path shrank), resumed on ChaCha20-Poly1305 33.7 KiB (38.3), a full ECDHE_ECDSA handshake on GCM
# 47.2 KiB (50.8). The targets are 32, 40 and 48 KB: missed. What the GCM path adds to the resumed
# client: two AesGcm objects of ~2.6 KB (2 KB of GHASH tables each: GCM at 1.85x CBC+HMAC instead of 4-5x
# with one 256-byte table), gcm's code objects, the record glue as a list; its qstrs stay under the fifth
# pool's line (300: the pool would cost 3.7 KB on this 64-bit port) since ROMFS .mpy name their own paths
# as source files (tools/build.py compile_tree). The board server with a P-256 certificate shed 47 interned
# names (no RSA module for a P-256 key, p256's and the CLI's names, error messages over 10 characters): 608
# qstrs, below the 6th pool (620, 7.7 KB), 78.3 -> 68.9 KiB (searched to 512 bytes: 70522 B; pinned one
# search step above, rounded up). These pins hold today's figures so that they can only go down.
# (tls-full-ecdsa-client: 49189 B at the stop, searched to 512 B, after p256's DER signature parser became a
# function P-384 shares and the record layer passed TLS 1.3's inner type up: pinned at 49, one step above 48)
# (issue 13: tls-resume-pin-gcm-client 40136 B with --max-version 1.2, pinned at 40, was 39)
# (issue 13, searched to 512 B as below: resumed ChaCha20 36130 B, was pinned at 35; resumed GCM 40738 B; the
# X.509 client 54050 B, was pinned at 53: the TLS 1.3 modules grew the image and the 1.2 paths' shared modules)
# (session 19, the CLI's start unloaded before it connects / once the server is configured, searched to 256 B:
# resumed GCM 39702 B, ChaCha20 35094 B, full ECDSA 49430 B, ECDSA server 68886 B, X.509 client 53014 B, TLS 1.3
# psk_ke 52758 B, TLS 1.3 full ECDSA client 62486 B, TLS 1.3 server 77334 B: each pin at least 1 KB above)
# (session 19, later: ALPN, client certificates, --reuse-port and more alert names joined the shared modules:
# resumed GCM 40280 B, ECDSA server 69691 B, X.509 client 53336 B, TLS 1.3 server 78936 B (below its 6th qstr
# pool again: 628 -> 613 names): those pins back one step, at least ~1 KB above the figure)
# (issue 11, later: a full handshake unloads its public-key modules (microticket.pk.unload: X25519 and
# tls.ecdhe after the ECDH, P-256/RSA/der/auth_pin/kx_ecdhe_cert after the TLS 1.2 key exchange, P-256 after
# a server's signature), P-256's arithmetic holds fewer big ints at a time and verifies with a 384-byte table,
# der makes DecodeError on the first error; searched to 256 B over 2 runs: full ECDSA 43988-44500 B (was
# 49467), ECDSA server 65236 B (69691), X.509 client 49876 B (53307), TLS 1.3 full ECDSA client 55508 B
# (62267), TLS 1.3 server 76756-77012 B (78139): pins lowered to 1.3-2.9 KB above the figure)
# (session 21: the ticket's state parsed by index arithmetic, so a server no longer loads wire: ECDSA server
# 61541-61600 B (64237); the TLS 1.3 server makes the client's handshake read key after its flight: 75336-75424
# B (76269): pins 63 and 77)
AEAD_ROMFS_HEAP_KB = {"tls-resume-pin-gcm-client": 41, "tls-resume-chacha-client": 36, "tls-full-ecdsa-client": 45,
                     "tls-full-ecdsa-server": 63,
                     # issue 12: the full ECDHE_ECDSA client validating a 3-certificate P-256 chain against a
                     # 3-root CA file (--ca-file): 52725 B = 51.5 KiB; the target is 64 KB
                     "tls-full-x509-client": 51,
                     # session 20: the same with a 3-certificate RSA-2048 chain, whose Certificate message spans
                     # 2 KB records: 53174 B once the reassembly buffer is sized to the message (60183 B with
                     # the 8 KB hs_cap buffer it used to be)
                     "tls-full-x509-rsa-client": 54,
                     # issue 13, TLS 1.3 (TLS_AES_128_GCM_SHA256): the client resuming with psk_ke (a ticket of
                     # openssl s_server -tls1_3, no key exchange: the board's cheapest) 53668 B; a full
                     # handshake verifying a pinned P-256 CertificateVerify 63396 B; the server's full
                     # handshake with a P-256 certificate (s_client -tls1_3) 79012 B
                     "tls13-resume-ke-client": 53, "tls13-full-ecdsa-client": 56, "tls13-full-ecdsa-server": 77}


@pytest.mark.micropython
@pytest.mark.interop
def test_ecdhe_rsa_client_from_romfs_within_its_targets(mp):
    """The smallest ROMFS heap of the pinned ECDHE_RSA client, resumed and full, against our CPython server
    (memprof's scenarios, searched to 256 bytes) is within the target."""
    names = sorted(PIN_CLIENT_ROMFS_HEAP_KB)
    for r in memprof.profile(names, step=256, romfs=True):
        assert r["status"] == "ok", r
        assert r["min_heap"] <= PIN_CLIENT_ROMFS_HEAP_KB[r["scenario"]] * 1024, r


@pytest.mark.micropython
@pytest.mark.interop
def test_ecdsa_and_gcm_from_romfs_within_their_pins(mp):
    """The ECDHE_ECDSA / AES-128-GCM client (resumed and full), the resumed ChaCha20-Poly1305 client, the
    ECDSA server, and TLS 1.3's client (resumed with psk_ke, full) and server (full) from ROMFS (memprof's
    scenarios, searched to 512 bytes) within today's pins."""
    names = sorted(AEAD_ROMFS_HEAP_KB)
    for r in memprof.profile(names, step=512, romfs=True):
        assert r["status"] == "ok", r
        assert r["min_heap"] <= AEAD_ROMFS_HEAP_KB[r["scenario"]] * 1024, r
