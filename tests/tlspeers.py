"""Helpers for TLS tests: real peers started and stopped by PID on loopback ports got without a race
(tools/procs.py: the peer binds port 0 and the port is read back, or it is told a port and started again on
another if that one was taken), and an in-process pump for a sans-IO client/server pair.

Every process is started in its own session and stopped through its PID (SIGTERM, then SIGKILL) by
``Peer.stop()``, which the tests call from ``finally`` blocks or fixture teardown. All waits are bounded.
"""

import os
import shutil
import subprocess
import sys

from consts import PSK, PSK_HEX, PSK_ID, PSK_IDENTITY  # noqa: F401 (the tests use them as tlspeers.PSK...)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIB = os.path.join(ROOT, "lib")
PORTS = os.path.join(ROOT, "ports", "cpython")
VENV_BIN = os.path.dirname(sys.executable)
if os.path.join(ROOT, "tools") not in sys.path:
    sys.path.append(os.path.join(ROOT, "tools"))

from procs import Peer, PortInUse, empty_connection, pick_ports, start_on_free_port  # noqa: E402,F401 (tools/)

# OpenSSL / GnuTLS spellings of our suites
OSSL_PSK = "PSK-AES128-CBC-SHA256"
OSSL_ECDHE_PSK = "ECDHE-PSK-AES128-CBC-SHA256"
OSSL_ECDHE_RSA = "ECDHE-RSA-AES128-SHA256"
GNUTLS_PSK_PRIO = ("NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+PSK:+ECDHE-PSK:-CIPHER-ALL:+AES-128-CBC:"
                   "-MAC-ALL:+SHA256")

# Message type names for readable assertions on TlsClient/TlsServer traces
HS_NAMES = {0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 11: "Certificate",
            12: "ServerKeyExchange", 14: "ServerHelloDone", 16: "ClientKeyExchange", 20: "Finished",
            0x100: "ChangeCipherSpec"}


def have(tool):
    return shutil.which(tool) is not None


def micropython_bin():
    p = shutil.which("micropython") or os.path.join(VENV_BIN, "micropython")
    return p if os.path.exists(p) else None


def env_cpython():
    env = dict(os.environ)
    env["PYTHONPATH"] = LIB + os.pathsep + PORTS
    return env


def env_micropython():
    env = dict(os.environ)
    env["MICROPYPATH"] = LIB + ":.frozen"
    return env


# --- the runtimes a test runs our side on ------------------------------------------------------------

def runtimes():
    """The pytest parameters of the runtimes: CPython, and the MicroPython interpreter (marked)."""
    import pytest
    return ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)]


def skip_missing(runtime):
    """Skip a test whose runtime is MicroPython when its interpreter is missing."""
    if runtime == "micropython" and micropython_bin() is None:
        import pytest
        pytest.skip("micropython missing")


# --- our command line ----------------------------------------------------------------------------

def our_cmd(runtime, sub, args):
    if runtime == "micropython":
        return [micropython_bin(), "-m", "microticket", sub] + list(args)
    return [sys.executable, "-m", "microticket", sub] + list(args)


def our_env(runtime):
    return env_micropython() if runtime == "micropython" else env_cpython()


def start_our_server(args, runtime="cpython"):
    """Our ``tls-server`` on a free loopback port (``.port``)."""
    return start_on_free_port(lambda port: our_cmd(runtime, "tls-server", ["--port", str(port)] + list(args)),
                              env=our_env(runtime))


def stop_after_lines(srv, n, timeout=10.0):
    """Stop our tls-server once it has printed ``n`` "connection N:" lines (a connection's line comes when it
    has ended, which may be after the client's process exited), or after ``timeout`` seconds; returns its
    output."""
    import re
    import time
    end = time.time() + timeout
    while len(re.findall(r"connection \d+:", srv.output())) < n and time.time() < end:
        time.sleep(0.1)
    return srv.stop()


def run_our_client(port, args, runtime="cpython", timeout=60):
    cmd = our_cmd(runtime, "tls-client", ["127.0.0.1", str(port)] + list(args))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=our_env(runtime))


def client_full_then_resumed(srv, args, runtime="cpython", reply=None):
    """Our client twice against the peer ``srv`` (stopped here) with ``args``: the first run a full
    handshake that gets a ticket, the second resumed from it, the same suite, and ``reply`` to --send in
    both; returns both outputs (parse_client_output)."""
    try:
        r1 = run_our_client(srv.port, args, runtime)
        r2 = run_our_client(srv.port, args, runtime)
    finally:
        log = srv.stop()
    o1, o2 = parse_client_output(r1.stdout), parse_client_output(r2.stdout)
    assert o1.get("resumed") == "no" and o1.get("ticket") == "yes", r1.stdout + r1.stderr + log
    assert o2.get("resumed") == "yes", r2.stdout + r2.stderr + log
    if reply is not None:
        assert o1.get("reply") == reply and o2.get("reply") == reply, r1.stdout + r2.stdout
    assert o1["suite"].startswith("TLS_") and o1["suite"] == o2["suite"]
    return o1, o2


def parse_client_output(text):
    out = {}
    for line in text.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            out[k.strip()] = v.strip()
    return out


# --- OpenSSL / GnuTLS ------------------------------------------------------------------------------

def start_openssl_psk_server(cipher=OSSL_PSK + ":" + OSSL_ECDHE_PSK, extra=(), psk_hex=PSK_HEX):
    """``openssl s_server`` (PSK) on port 0 (``.port``: the one it bound)."""
    cmd = ["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-nocert", "-psk", psk_hex,
           "-psk_identity", PSK_ID, "-no_cache", "-cipher", cipher, "-rev"] + list(extra)
    return Peer(cmd, stdin=True)


def start_openssl_cert_server(cert, key, extra=()):
    cmd = ["openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_2", "-cert", cert, "-key", key,
           "-no_cache", "-cipher", OSSL_ECDHE_RSA, "-rev"] + list(extra)
    return Peer(cmd, stdin=True)


def run_openssl_psk_client(port, sess_out=None, sess_in=None, cipher=OSSL_PSK, extra=(), data=b"", timeout=20,
                           psk_hex=PSK_HEX):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2", "-psk_identity", PSK_ID,
           "-psk", psk_hex, "-cipher", cipher] + list(extra)
    if sess_out:
        cmd += ["-sess_out", sess_out]
    if sess_in:
        cmd += ["-sess_in", sess_in]
    return subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)


def start_gnutls_psk_server(pskfile):
    """``gnutls-serv`` on port 0: it binds an IPv4 and an IPv6 port and names neither ("listening on ...
    port 0"); ``.port`` is the IPv4 one, read from the kernel."""
    with open(pskfile, "w") as f:
        f.write("%s:%s\n" % (PSK_ID, PSK_HEX))
    cmd = ["gnutls-serv", "-p", "0", "--pskpasswd", pskfile, "--echo",
           "--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.2:+PSK:+ECDHE-PSK:+AES-128-CBC:+SHA256"]
    return Peer(cmd)


# --- in-process pair -------------------------------------------------------------------------------

# --- in-process engines for the TLS tests --------------------------------------------------------------

def psk_server(ring, **kw):
    """A TlsServer with the test PSK (and ``ring`` for tickets), recording its trace."""
    from microticket.tls.server import ServerConfig, TlsServer
    s = TlsServer(ServerConfig(ring, psk={PSK_IDENTITY: PSK}, **kw))
    s.trace = []
    return s


def psk_client(cache=None, server_id="srv:443", **kw):
    """The client engine with the test PSK identity and key (unless given), recording its trace. TLS 1.2
    only unless ``max_version`` is given (these engine tests are about RFC 5077's flows; TLS 1.3's are in
    tests/tls/test_tls13_*.py)."""
    from microticket.tls.client import Client
    kw.setdefault("max_version", 0x0303)
    kw.setdefault("psk_identity", PSK_IDENTITY)
    kw.setdefault("psk", PSK)
    c = Client(server_id, cache=cache, **kw)
    c.trace = []
    return c


# fields of a client cache entry (a list: microticket.tls.cache, _E_TICKET ...)
E_TICKET, E_MASTER, E_SUITE, E_EMS, E_RECEIVED, E_HINT, E_NAME, E_IDENTITY, E_AGE_ADD = range(9)


def pump(client, server, now=1000, start=True, max_rounds=50, tamper=None):
    """Run a sans-IO client/server pair until both finish the handshake or one closes.
    ``tamper(direction, data)`` may rewrite each flight ("c2s" / "s2c") before delivery. The client's
    ticket events are applied to its cache, as the drivers do (microticket.tls.driver.keep_tickets)."""
    from microticket.tls.driver import keep_tickets
    if start:
        client.start(now)
    for _ in range(max_rounds):
        moved = False
        d = client.data_to_send()
        if d:
            moved = True
            if tamper:
                d = tamper("c2s", d)
            server.receive_data(d, now)
        d = server.data_to_send()
        if d:
            moved = True
            if tamper:
                d = tamper("s2c", d)
            keep_tickets(client, client.receive_data(d, now))
        if (client.handshake_done and server.handshake_done) or client.closed or server.closed:
            # deliver a last alert, if any
            d = client.data_to_send()
            if d and not server.closed:
                server.receive_data(d, now)
            d = server.data_to_send()
            if d and not client.closed:
                keep_tickets(client, client.receive_data(d, now))
            break
        if not moved:
            break
    return client, server


def names(trace, direction=None):
    return [HS_NAMES.get(t, str(t)) for d, t in trace if direction is None or d == direction]


# --- certificates ----------------------------------------------------------------------------------

def const_kx(suite):
    """The key exchange of a suite number, from microticket.tls.const's names: "PSK", "ECDHE_PSK", "RSA",
    "ECDSA"."""
    from microticket.tls import const
    for name in dir(const):
        if getattr(const, name) == suite and "_WITH_" in name:
            kx = name.split("_WITH_")[0]
            return {"ECDHE_RSA": "RSA", "ECDHE_ECDSA": "ECDSA"}.get(kx, kx)
    raise KeyError(suite)


def make_rsa_cert(directory, cn="localhost"):
    """A self-signed RSA-2048 certificate made with the ``cryptography`` package. Returns
    (cert_path, key_path, sha256(cert DER) hex, sha256(SubjectPublicKeyInfo DER) hex)."""
    import datetime
    import hashlib
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    der = cert.public_bytes(serialization.Encoding.DER)
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert_path, key_path, hashlib.sha256(der).hexdigest(), hashlib.sha256(spki).hexdigest()


def self_signed_certs(directory):
    """{"ec": ..., "rsa": ...}: a self-signed P-256 and RSA-2048 certificate for CN and DNS "localhost" (the
    openssl CLI), each (cert path, key path, SHA-256 of the certificate's DER as hex: a --pin-sha256)."""
    import hashlib
    out = {}
    for kind, newkey in (("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                         ("rsa", ["-newkey", "rsa:2048"])):
        cert, key = os.path.join(directory, kind + ".pem"), os.path.join(directory, kind + ".key")
        subprocess.run(["openssl", "req", "-x509"] + newkey + ["-nodes", "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True,
                             capture_output=True).stdout
        out[kind] = (cert, key, hashlib.sha256(der).hexdigest())
    return out


def client_hello13(random, sid, suites, ext):
    """A ClientHello offering TLS 1.3 with the extensions ``ext`` (codec13.hello_exts13's, pre_shared_key
    last), built the way our client builds one: engine.client_hello, TLS 1.2's renegotiation_info beside
    them (and ec_point_formats with an ECDHE suite among ``suites``), ``ext`` last."""
    from microticket.tls import engine

    class Hello:
        client_random = random
        _sid = sid
        _opt = 0  # no session_ticket, EMS or ETM, no max_fragment_length
        server_name = b""
    Hello.suites = list(suites)
    return engine.client_hello(Hello, None, list(ext))[0]
