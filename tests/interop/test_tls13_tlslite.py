"""TLS 1.3 (RFC 8446) against tlslite-ng, an independent pure-Python implementation, on loopback, both of our
runtimes:

- our tls-server with a tlslite-ng client: a full handshake then a resumption from our ticket (tlslite keeps
  the NewSessionTickets in its session and offers one with ``session=``), with x25519, secp256r1, no share at
  all (our HelloRetryRequest), an RSA certificate (rsa_pss_rsae_sha256), ChaCha20-Poly1305, AES-128-CCM,
  psk_ke (the resumed ServerHello carries no key_share), an external PSK; KeyUpdate both ways from tlslite;
- our tls-client with a tlslite-ng server (tickets sealed by it): full then resumed, tlslite's
  HelloRetryRequest (it wants secp256r1, we sent x25519), ChaCha20-Poly1305, AES-128-CCM, psk_ke, an
  external PSK, and a KeyUpdate with update_requested from tlslite, which our client must answer (tlslite
  reads our close_notify under the stepped keys).
"""

import hashlib
import socket
import threading

import pytest

import tlspeers as P

tlslite = pytest.importorskip("tlslite")
from tlslite import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey  # noqa: E402
from tlslite.constants import KeyUpdateMessageType  # noqa: E402

pytestmark = pytest.mark.interop

RUNTIMES = P.runtimes()
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return P.self_signed_certs(str(tmp_path_factory.mktemp("tlslite13")))


class Tap:
    """A socket that keeps what it received (the server's records), for tlslite's record layer."""

    def __init__(self, sock):
        self.sock = sock
        self.got = bytearray()

    def recv(self, n):
        d = self.sock.recv(n)
        self.got += d
        return d

    def __getattr__(self, name):
        return getattr(self.sock, name)

    def server_hellos(self):
        """[(random, [extension types])] of the ServerHellos (a HelloRetryRequest first, if one came): the
        plaintext handshake records before the first protected one."""
        out = []
        g = self.got
        p = 0
        while p + 5 <= len(g) and g[p] in (20, 22):
            n = (g[p + 3] << 8) | g[p + 4]
            if g[p] == 22:
                assert g[p + 5] == 2, g[p:p + 16]
                b = bytes(g[p + 9:p + 5 + n])
                q = 35 + b[34] + 3 + 2
                types = []
                while q < len(b):
                    types.append((b[q] << 8) | b[q + 1])
                    q += 4 + ((b[q + 2] << 8) | b[q + 3])
                out.append((b[2:34], types))
            p += 5 + n
        return out


def _settings(**kw):
    s = HandshakeSettings()
    s.minVersion = (3, 4)
    s.maxVersion = (3, 4)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def _tlslite_client(port, session=None, **kw):
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    tap = Tap(raw)
    c = TLSConnection(tap)
    c.handshakeClientCert(settings=_settings(**kw), session=session, serverName="localhost")
    return c, tap


# --- our server, tlslite-ng's client -------------------------------------------------------------------

SERVER_CASES = {
    # name: (certificate kind or None for the external PSK, extra server args, tlslite settings)
    "x25519": ("ec", [], dict(keyShares=["x25519"])),
    "secp256r1": ("ec", [], dict(keyShares=["secp256r1"])),
    "hrr": ("ec", [], dict(keyShares=[], eccCurves=["x25519", "secp256r1"])),
    "rsa-pss": ("rsa", [], dict(keyShares=["x25519"])),
    "chacha": ("ec", [], dict(keyShares=["x25519"], cipherNames=["chacha20-poly1305"])),
    "ccm": ("ec", [], dict(keyShares=["x25519"], cipherNames=["aes128ccm"])),
    "psk_ke": ("ec", ["--psk-modes", "dhe,ke"], dict(keyShares=["x25519"], psk_modes=["psk_ke"])),
    "external-psk": (None, ["--psk", P.PSK_HEX, "--psk-identity", P.PSK_ID, "--psk-modes", "dhe,ke"],
                     dict(keyShares=["x25519"], pskConfigs=[(P.PSK_ID.encode(), P.PSK, "sha256")])),
}
SUITE = {"chacha": "TLS_CHACHA20_POLY1305_SHA256", "ccm": "TLS_AES_128_CCM_SHA256"}
CIPHER = {"chacha": "chacha20-poly1305", "ccm": "aes128ccm"}


@pytest.mark.parametrize("case", sorted(SERVER_CASES))
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tlslite_client_full_then_resumed(runtime, certs, case):
    P.skip_missing(runtime)
    kind, extra, kw = SERVER_CASES[case]
    args = (["--cert", certs[kind][0], "--key", certs[kind][1]] if kind else []) + extra
    srv = P.start_our_server(args, runtime)
    seen = []
    try:
        session = None
        for _ in range(2):
            c, tap = _tlslite_client(srv.port, session, **kw)
            c.write(b"ping")
            assert c.read(max=10) == b"ping"  # our ticket came before the echo
            seen.append((c.version, c.resumed, c.getCipherName(), len(c.session.tickets or ()),
                         tap.server_hellos()))
            session = c.session
            c.close()
    finally:
        log = P.stop_after_lines(srv, 2)
    cipher = CIPHER.get(case, "aes128gcm")
    # (the external PSK case: the first connection on the PSK, no certificate; tlslite offers our ticket
    # first on the second)
    assert [s[:4] for s in seen] == [((3, 4), False, cipher, 1), ((3, 4), True, cipher, 1)], log
    suite = SUITE.get(case, "TLS_AES_128_GCM_SHA256")
    assert "connection 1: TLS 1.3, %s, resumed: no, new ticket: yes" % suite in log, log
    assert "connection 2: TLS 1.3, %s, resumed: from a ticket, new ticket: yes" % suite in log, log
    for hellos in (seen[0][4], seen[1][4]):
        # a HelloRetryRequest (from us: tlslite sent no share) first, in both handshakes, when hrr
        assert [h[0] == HRR_RANDOM for h in hellos] == ([True, False] if case == "hrr" else [False]), hellos
    # the resumption's ServerHello: pre_shared_key (41), and key_share (51) unless psk_ke
    sh = seen[1][4][-1]
    assert sorted(sh[1]) == ([41, 43] if case == "psk_ke" else [41, 43, 51]), sh


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tlslite_client_key_updates(runtime, certs):
    """tlslite's KeyUpdate with update_requested (we step our read keys, answer with ours and step our
    write keys) and without; data flows both ways after each."""
    P.skip_missing(runtime)
    srv = P.start_our_server(["--cert", certs["ec"][0], "--key", certs["ec"][1]], runtime)
    try:
        c, _ = _tlslite_client(srv.port, keyShares=["x25519"])
        c.write(b"one")
        assert c.read(max=10) == b"one"
        for kind, data in ((KeyUpdateMessageType.update_requested, b"two"),
                           (KeyUpdateMessageType.update_not_requested, b"three"),
                           (KeyUpdateMessageType.update_requested, b"four")):
            for _ in c.send_keyupdate_request(kind):
                pass
            c.write(data)
            assert c.read(max=10) == data
        c.close()
    finally:
        log = P.stop_after_lines(srv, 1)
    assert "connection 1: TLS 1.3, TLS_AES_128_GCM_SHA256, resumed: no" in log and "alert" not in log, log


# --- our client, tlslite-ng's server -------------------------------------------------------------------

class TlsliteServer:
    """A tlslite-ng TLS 1.3 server for ``n`` connections in a thread: it echoes one read (after a KeyUpdate
    with update_requested when ``key_update``, then reads once more: the client's close_notify under its
    stepped keys, or an error); ``log`` has per connection ("hs", cipher name) and what went wrong."""

    def __init__(self, certs, n, key_update=False, **kw):
        cert, key, _ = certs["ec"]
        self.chain = X509CertChain()
        self.chain.parsePemList(open(cert).read())
        self.key = parsePEMKey(open(key).read(), private=True)
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(4)
        self.ls.settimeout(60)
        self.port = self.ls.getsockname()[1]
        self.n, self.key_update, self.kw, self.log = n, key_update, kw, []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for _ in range(self.n):
            try:
                s, _ = self.ls.accept()
            except OSError as e:
                self.log.append(("accept", repr(e)))
                return
            s.settimeout(30)
            try:
                c = TLSConnection(s)
                c.handshakeServer(certChain=self.chain, privateKey=self.key,
                                  settings=_settings(ticketKeys=[b"K" * 32], **self.kw))
                self.log.append(("hs", c.getCipherName()))
                d = c.read(max=100)
                if self.key_update:
                    for _ in c.send_keyupdate_request(KeyUpdateMessageType.update_requested):
                        pass
                c.write(d)
                if self.key_update:
                    self.log.append(("after", c.read(max=100)))
                c.close()
            except Exception as e:  # the test asserts on the log
                self.log.append(("error", repr(e)))
            finally:
                s.close()

    def stop(self):
        self.thread.join(30)
        self.ls.close()
        return self.log


CLIENT_CASES = {
    # name: (our extra args, tlslite server settings, suite)
    "basic": ([], {}, "TLS_AES_128_GCM_SHA256"),
    "hrr": ([], dict(eccCurves=["secp256r1"], keyShares=["secp256r1"]), "TLS_AES_128_GCM_SHA256"),
    "chacha": ([], dict(cipherNames=["chacha20-poly1305"]), "TLS_CHACHA20_POLY1305_SHA256"),
    "ccm": ([], dict(cipherNames=["aes128ccm"]), "TLS_AES_128_CCM_SHA256"),
    "psk_ke": (["--psk-modes", "ke"], dict(psk_modes=["psk_ke"]), "TLS_AES_128_GCM_SHA256"),
}


@pytest.mark.parametrize("case", sorted(CLIENT_CASES))
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_our_client_full_then_resumed_with_tlslite_server(runtime, certs, case, tmp_path):
    P.skip_missing(runtime)
    extra, kw, suite = CLIENT_CASES[case]
    srv = TlsliteServer(certs, 2, **kw)
    cache = str(tmp_path / "cache.json")
    args = ["--pin-sha256", certs["ec"][2], "--cache", cache, "--send", "hello", "--server-name", "localhost"]
    try:
        r1 = P.run_our_client(srv.port, args + extra, runtime)
        r2 = P.run_our_client(srv.port, args + extra, runtime)
    finally:
        log = srv.stop()
    o1, o2 = P.parse_client_output(r1.stdout), P.parse_client_output(r2.stdout)
    why = r1.stdout + r1.stderr + r2.stdout + r2.stderr + repr(log)
    assert (o1.get("version"), o1.get("resumed"), o1.get("suite"), o1.get("ticket"), o1.get("reply")) == \
        ("TLS 1.3", "no", suite, "yes", "hello"), why
    assert (o2.get("version"), o2.get("resumed"), o2.get("suite"), o2.get("reply")) == \
        ("TLS 1.3", "yes", suite, "hello"), why
    assert [e[0] for e in log] == ["hs", "hs"], why


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_our_client_external_psk_with_tlslite_server(runtime, certs):
    P.skip_missing(runtime)
    srv = TlsliteServer(certs, 1, pskConfigs=[(P.PSK_ID.encode(), P.PSK, "sha256")])
    try:
        r = P.run_our_client(srv.port, ["--psk", P.PSK_HEX, "--psk-identity", P.PSK_ID, "--send", "hello"], runtime)
    finally:
        log = srv.stop()
    o = P.parse_client_output(r.stdout)
    assert (o.get("version"), o.get("reply")) == ("TLS 1.3", "hello"), r.stdout + r.stderr + repr(log)
    assert log[0][0] == "hs", log


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_our_client_answers_tlslite_key_update(runtime, certs):
    """tlslite sends KeyUpdate(update_requested) then the echo: our client steps its read keys, answers with
    its own KeyUpdate and steps its write keys (section 4.6.3), so tlslite reads our close_notify."""
    P.skip_missing(runtime)
    srv = TlsliteServer(certs, 1, key_update=True)
    try:
        r = P.run_our_client(srv.port, ["--pin-sha256", certs["ec"][2], "--send", "hello"], runtime)
    finally:
        log = srv.stop()
    o = P.parse_client_output(r.stdout)
    assert o.get("reply") == "hello", r.stdout + r.stderr + repr(log)
    assert log == [("hs", "aes128gcm"), ("after", b"")], log
