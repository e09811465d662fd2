"""Fixtures for the real web peers of issue 11 (TLS 1.2 with what browsers and servers speak): a test PKI made with
the openssl CLI, nginx with a private configuration, headless Chromium trusting the test CA through an NSS db,
and curl, wget and gnutls-cli wrappers that tell whether a second connection resumed.

Like tests/tlspeers.py: every process is ours, started in its own session and stopped by its PID (tools/procs.py),
every wait bounded, every port got without a race. Each helper raises ``Missing`` (a pytest skip with the
reason) when its tool is not installed (``tlspeers.have``).

    pki = make_pki(dir)                          root CA, RSA-2048 and ECDSA P-256 leaves, a chain via an intermediate
    srv = start_nginx(dir, pki.rsa_cert, pki.rsa_key, tls="intermediate", curves=None, tls12_only=False, ...)
    srv.port, srv.url(path), srv.log_lines() (the access log, parsed), srv.stop()
    r = chromium_fetch(url, pki.ca_pem, dump_dom=True, screenshot=None, keylog=None, budget_ms=None)
    cap = start_capture(port, pcap); cap.stop(); tls_handshakes(pcap) -> full_handshakes, ticket_resumptions
    rc, out = run_curl(url, ca, urls=1), run_wget(url, ca, urls=1), run_gnutls_cli(port, ca, resume=True)

Chromium opening two TLS connections to one origin in one browser process (so that the second can resume):
``two_connection_page`` is a page whose script fetches a second URL of the same origin and writes the answer into
the DOM; nginx started with ``keepalive=False`` answers every request with ``Connection: close`` and closes, so
the fetch needs a new connection, which Chromium resumes with the session it kept from the first (TLS 1.3 or 1.2
ticket). ``--dump-dom`` alone prints the DOM at the load event, before the fetch answers: ``budget_ms`` (Chromium's
``--virtual-time-budget``) makes it wait until the page's network is idle (the virtual clock only advances when
nothing is pending), so the DOM printed holds the second answer. nginx's access log then shows the two
requests with ``$ssl_session_reused`` "." then "r" (``NginxServer.log_lines``), on TLS 1.3 and on TLS 1.2
(``tls12_only``). One more thing is needed: Chromium's network prediction, which otherwise opens the second
socket together with the first (chromium_fetch ``preconnect``). Chromium also asks for /favicon.ico on a
connection of its own (a third one).
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import tlspeers
from procs import Peer, on_free_port

HERE = os.path.dirname(os.path.abspath(__file__))

# Mozilla's "intermediate" TLS configuration for nginx (ssl-config.mozilla.org; its current nginx output as quoted
# in 2025-26 configurations: the eight suites of the older text plus DHE-RSA-CHACHA20-POLY1305, curves
# X25519:prime256v1:secp384r1, ffdhe2048): TLS 1.2 and 1.3, AEAD suites with forward secrecy only, the client's
# preference, a day of sessions. Deviation: ssl_session_tickets on (the generator says off, or leaves it out):
# tickets are what the tests resume from.
MOZ_INTERMEDIATE_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                            "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305")
MOZ_INTERMEDIATE_CURVES = "X25519:prime256v1:secp384r1"

# the access log: one line per request, space separated fields (NginxServer.log_lines)
LOG_FIELDS = ("request", "status", "protocol", "cipher", "reused", "curve", "connection", "conn_requests",
              "session_id", "msec", "connection_time")
_LOG_FORMAT = ('\'"$request" $status $ssl_protocol $ssl_cipher $ssl_session_reused $ssl_curve $connection '
               '$connection_requests $ssl_session_id $msec $connection_time\'')


try:  # a tool a fixture needs is not installed: a pytest skip with the reason when pytest runs
    import pytest
    Missing = pytest.skip.Exception
except ImportError:  # pragma: no cover
    class Missing(Exception):
        pass


def need(*tools):
    for t in tools:
        if not tlspeers.have(t):
            raise Missing("%s is not installed (./run installs it from Debian)" % t)


def _run(cmd, timeout=30, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        raise RuntimeError("%r failed (%d):\n%s%s" % (cmd, r.returncode, r.stdout, r.stderr))
    return r


# --- a test PKI -------------------------------------------------------------------------------------------

_CA_EXT = """[v3]
basicConstraints = critical, CA:TRUE{pathlen}
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""
_LEAF_EXT = """[v3]
basicConstraints = critical, CA:FALSE
keyUsage = critical, {ku}
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


class Pki:
    """The paths of a test PKI (make_pki): PEM and DER certificates, PEM keys.

    ca_pem, ca_der, ca_key                      the root (RSA-2048, self-signed)
    rsa_cert, rsa_der, rsa_key (PKCS#8), rsa_key_pkcs1     leaf, RSA-2048, signed by the root
    ec_cert, ec_der, ec_key (SEC1 "EC PRIVATE KEY"), ec_key_pkcs8    leaf, ECDSA P-256, signed by the root
    int_pem, int_der, int_key                   intermediate CA (ECDSA P-256, pathlen 0), signed by the root
    chain_rsa_cert / chain_ec_cert (+ _der, _key)   leaves signed by the intermediate
    chain_rsa_full / chain_ec_full              leaf + intermediate in one PEM (what a server sends, nginx's
                                                ssl_certificate)
    """

    def __init__(self, dir):
        self.dir = dir

    def path(self, name):
        return os.path.join(self.dir, name)


def _genkey(out, kind):
    if kind == "rsa":
        _run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", out])
    else:
        _run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-pkeyopt", "ec_param_enc:named_curve", "-out", out])


def _issue(d, name, key, subject, ca_cert, ca_key, ext, serial):
    csr = os.path.join(d, name + ".csr")
    extfile = os.path.join(d, name + ".ext")
    with open(extfile, "w") as f:
        f.write(ext)
    _run(["openssl", "req", "-new", "-key", key, "-subj", subject, "-out", csr])
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-set_serial", str(serial),
          "-days", "30", "-sha256", "-extfile", extfile, "-extensions", "v3", "-out", os.path.join(d, name + ".pem")])
    _run(["openssl", "x509", "-in", os.path.join(d, name + ".pem"), "-outform", "DER",
          "-out", os.path.join(d, name + ".der")])
    os.unlink(csr)


def make_pki(dir):
    """A test PKI in ``dir`` (made with the openssl CLI; about a second): a root CA, leaves for DNS "localhost"
    and IP 127.0.0.1 (RSA-2048 and ECDSA P-256, signed by the root), and root -> intermediate -> leaf chains.
    Extensions as Chromium wants them: basicConstraints, keyUsage, extendedKeyUsage serverAuth,
    subjectAltName, key identifiers. Returns a Pki."""
    need("openssl")
    os.makedirs(dir, exist_ok=True)
    p = Pki(dir)
    P = p.path
    # the root
    _genkey(P("ca.key"), "rsa")
    ext = P("ca.ext")
    with open(ext, "w") as f:
        f.write(_CA_EXT.format(pathlen=""))
    _run(["openssl", "req", "-x509", "-new", "-key", P("ca.key"),
          "-subj", "/O=microticket tests/CN=microticket test root CA", "-days", "30", "-sha256", "-set_serial", "1",
          "-config", ext, "-extensions", "v3", "-out", P("ca.pem")])
    _run(["openssl", "x509", "-in", P("ca.pem"), "-outform", "DER", "-out", P("ca.der")])
    # the leaves under the root
    _genkey(P("rsa.key"), "rsa")
    _run(["openssl", "pkey", "-in", P("rsa.key"), "-traditional", "-out", P("rsa-pkcs1.key")])
    _issue(dir, "rsa", P("rsa.key"), "/CN=localhost", P("ca.pem"), P("ca.key"),
           _LEAF_EXT.format(ku="digitalSignature, keyEncipherment"), 2)
    _genkey(P("ec-pkcs8.key"), "ec")
    _run(["openssl", "ec", "-in", P("ec-pkcs8.key"), "-out", P("ec.key")])  # SEC1 "EC PRIVATE KEY"
    _issue(dir, "ec", P("ec.key"), "/CN=localhost", P("ca.pem"), P("ca.key"), _LEAF_EXT.format(ku="digitalSignature"),
           3)
    # the intermediate and its leaves
    _genkey(P("int.key"), "ec")
    _issue(dir, "int", P("int.key"), "/O=microticket tests/CN=microticket test intermediate CA", P("ca.pem"),
           P("ca.key"), _CA_EXT.format(pathlen=", pathlen:0"), 4)
    for kind, ku, serial in (("rsa", "digitalSignature, keyEncipherment", 5), ("ec", "digitalSignature", 6)):
        name = "chain-" + kind
        _genkey(P(name + ".key"), kind)
        _issue(dir, name, P(name + ".key"), "/CN=localhost", P("int.pem"), P("int.key"), _LEAF_EXT.format(ku=ku),
               serial)
        with open(P(name + "-full.pem"), "w") as out:
            for part in (name + ".pem", "int.pem"):
                with open(P(part)) as f:
                    out.write(f.read())
    for f in os.listdir(dir):
        if f.endswith(".ext"):
            os.unlink(P(f))
    p.ca_pem, p.ca_der, p.ca_key = P("ca.pem"), P("ca.der"), P("ca.key")
    p.rsa_cert, p.rsa_der, p.rsa_key, p.rsa_key_pkcs1 = P("rsa.pem"), P("rsa.der"), P("rsa.key"), P("rsa-pkcs1.key")
    p.ec_cert, p.ec_der, p.ec_key, p.ec_key_pkcs8 = P("ec.pem"), P("ec.der"), P("ec.key"), P("ec-pkcs8.key")
    p.int_pem, p.int_der, p.int_key = P("int.pem"), P("int.der"), P("int.key")
    for kind in ("rsa", "ec"):
        setattr(p, "chain_%s_cert" % kind, P("chain-%s.pem" % kind))
        setattr(p, "chain_%s_der" % kind, P("chain-%s.der" % kind))
        setattr(p, "chain_%s_key" % kind, P("chain-%s.key" % kind))
        setattr(p, "chain_%s_full" % kind, P("chain-%s-full.pem" % kind))
    return p


# --- nginx ------------------------------------------------------------------------------------------------

def two_connection_page(second="/second.txt", marker="first page"):
    """A page whose script fetches ``second`` (same origin) and writes its text into <pre id=second>: with nginx
    closing every connection (keepalive=False), the second request is a second TLS connection."""
    return ("<!doctype html><html><head><title>microticket</title></head><body><p id=first>%s</p>"
            "<pre id=second>pending</pre><script>fetch(%r, {cache: 'no-store'}).then(r => r.text())"
            ".then(t => { document.getElementById('second').textContent = t; })"
            ".catch(e => { document.getElementById('second').textContent = 'error ' + e; });</script>"
            "</body></html>\n" % (marker, second))


_TLS_LINES = {
    # Mozilla intermediate (see MOZ_INTERMEDIATE_CIPHERS), tickets on
    "intermediate": """
        ssl_protocols {protocols};
        ssl_ecdh_curve {curves};
        ssl_ciphers {ciphers};
        ssl_prefer_server_ciphers off;
        ssl_dhparam {dhparam};
        ssl_session_timeout 1d;
        ssl_session_cache shared:MozSSL:1m;
        ssl_session_tickets on;""",
    # Mozilla modern: TLS 1.3 only; its guidance turns tickets off (ssl_session_tickets off): OpenSSL then
    # issues stateful TLS 1.3 tickets, resumable while the session cache holds them
    "modern": """
        ssl_protocols TLSv1.3;
        ssl_ecdh_curve {curves};
        ssl_prefer_server_ciphers off;
        ssl_session_timeout 1d;
        ssl_session_cache shared:MozSSL:1m;
        ssl_session_tickets off;""",
    # what Debian 12's /etc/nginx/nginx.conf says (OpenSSL's defaults for the rest)
    "debian": """
        ssl_protocols {protocols};
        ssl_prefer_server_ciphers on;
        {curve_line}
        ssl_session_cache shared:SSL:1m;""",
}


class NginxServer:
    """nginx serving HTTPS on 127.0.0.1:``port`` from ``dir`` (start_nginx)."""

    def __init__(self, dir, peer):
        self.dir = dir
        self.peer = peer
        self.port = peer.port

    def url(self, path="/", host="localhost"):
        return "https://%s:%d%s" % (host, self.port, path)

    def access_log(self):
        try:
            with open(os.path.join(self.dir, "access.log")) as f:
                return f.read()
        except OSError:
            return ""

    def log_lines(self):
        """The access log, each line a dict of LOG_FIELDS ("reused": "r" for a resumed session, "." for a full
        handshake; "protocol": TLSv1.2 / TLSv1.3; "curve": the ECDHE group, e.g. X25519, prime256v1)."""
        out = []
        for line in self.access_log().splitlines():
            m = re.match(r'"([^"]*)" (.*)$', line)
            if m:
                out.append(dict(zip(LOG_FIELDS, [m.group(1)] + m.group(2).split(" "))))
        return out

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """Stop nginx by its PID; returns its output and error log."""
        return self.peer.stop() + self.error_log()


def start_nginx(dir, cert, key, tls="intermediate", root_html=None, pages=None, curves=None, tls12_only=False,
                keepalive=True, timeout=20.0, client_ca=None):
    """nginx (``nginx -c FILE -p DIR``, no daemon, no master process, every path under ``dir``) serving HTTPS on a
    free 127.0.0.1 port with ``cert`` (PEM, may hold a chain) and ``key``.

    ``tls``: "intermediate" (Mozilla's, see MOZ_INTERMEDIATE_CIPHERS; session tickets on), "modern" (Mozilla's:
    TLS 1.3 only, ssl_session_tickets off) or "debian" (Debian 12's default ssl lines). ``curves``: the ECDHE groups (ssl_ecdh_curve), e.g. "prime256v1" for P-256 only;
    default the generator's X25519:prime256v1:secp384r1 (intermediate) or OpenSSL's (debian). ``tls12_only``:
    TLS 1.2 alone. ``keepalive=False``: every response says ``Connection: close`` and the connection ends (a
    browser's next request is a new TLS connection). ``root_html``: the text of /index.html; ``pages``: more
    {name: text} files at the root. ``client_ca``: a CA file; clients must present a certificate it issued
    (``ssl_verify_client on``: a client without one gets 400). The access log records $ssl_session_reused, $ssl_protocol, $ssl_cipher,
    $ssl_curve (NginxServer.log_lines).

    nginx cannot listen on port 0: it is told a port free a moment ago, watched until its PID holds it, and
    started again on another one if its bind failed with "Address already in use" (procs.on_free_port)."""
    need("nginx")
    if tls not in _TLS_LINES:
        raise ValueError("tls: intermediate, modern or debian")
    dir = os.path.abspath(dir)
    html = os.path.join(dir, "html")
    os.makedirs(html, exist_ok=True)
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(dir, "tmp", sub), exist_ok=True)
    files = dict(pages or {})
    files["index.html"] = root_html if root_html is not None else "<!doctype html><p>microticket test page</p>\n"
    for name, text in files.items():
        with open(os.path.join(html, name), "w") as f:
            f.write(text)
    dhparam = os.path.join(dir, "ffdhe2048.pem")
    if tls == "intermediate" and not os.path.exists(dhparam):  # RFC 7919's group, as the generator advises
        _run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
              "-out", dhparam])
    protocols = "TLSv1.2" if tls12_only else ("TLSv1.2 TLSv1.3" if tls == "intermediate"
                                              else "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3")
    tls_lines = _TLS_LINES[tls].format(
        protocols=protocols, curves=curves or MOZ_INTERMEDIATE_CURVES, ciphers=MOZ_INTERMEDIATE_CIPHERS,
        dhparam=dhparam, curve_line="ssl_ecdh_curve %s;" % curves if curves else "")
    if client_ca:
        tls_lines += "\n        ssl_client_certificate %s;\n        ssl_verify_client on;\n" % os.path.abspath(client_ca)

    for log in ("access.log", "error.log"):  # this server's lines only
        open(os.path.join(dir, log), "w").close()

    def start(port):
        conf = os.path.join(dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(_NGINX_CONF.format(dir=dir, port=port, cert=os.path.abspath(cert), key=os.path.abspath(key),
                                       tls_lines=tls_lines, html=html, log_format=_LOG_FORMAT,
                                       keepalive="75s" if keepalive else "0"))
        return Peer(["nginx", "-c", conf, "-p", dir + "/", "-e", os.path.join(dir, "error.log")], port=port,
                    timeout=timeout)

    return NginxServer(dir, on_free_port(start))


_NGINX_CONF = """# written by tests/webpeers.py
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
error_log stderr notice;
events {{
    worker_connections 128;
}}
http {{
    types {{
        text/html html;
        text/plain txt;
        image/png png;
    }}
    default_type application/octet-stream;
    log_format microticket {log_format};
    access_log {dir}/access.log microticket;
    client_body_temp_path {dir}/tmp/client_body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    keepalive_timeout {keepalive};
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
{tls_lines}
        root {html};
        index index.html;
        add_header Cache-Control no-store;
    }}
}}
"""


# --- Chromium ---------------------------------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
                  "--password-store=basic", "--use-mock-keychain"]


def chromium_bin():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if tlspeers.have(name):
            return shutil.which(name)
    return None


def nss_home(dir, ca_pem):
    """A HOME for Chromium whose $HOME/.pki/nssdb (an NSS db made by certutil, empty password) trusts
    ``ca_pem`` as a CA for servers ("C,,"). Returns the HOME path."""
    need("certutil")
    db = os.path.join(dir, ".pki", "nssdb")
    os.makedirs(db, exist_ok=True)
    _run(["certutil", "-N", "-d", "sql:" + db, "--empty-password"])
    _run(["certutil", "-A", "-d", "sql:" + db, "-n", "microticket test CA", "-t", "C,,", "-i", ca_pem])
    return dir


class ChromiumResult:
    def __init__(self, rc, dom, log, screenshot, keylog):
        self.rc = rc
        self.dom = dom  # stdout: the DOM with dump_dom
        self.log = log  # stderr
        self.screenshot = screenshot
        self.keylog = keylog

    def __repr__(self):
        return "ChromiumResult(rc=%r, dom=%r, log=%r)" % (self.rc, self.dom[:2000], self.log[-3000:])


def chromium_fetch(url, ca_pem, dump_dom=True, screenshot=None, window_size=(800, 600), budget_ms=None,
                   keylog=None, timeout=45, extra=(), tmp=None, preconnect=False):
    """Headless Chromium (Debian's ``chromium --headless=new``) opening ``url`` in a fresh profile, with HOME
    a temporary directory whose NSS db trusts ``ca_pem``. ``dump_dom``: the DOM printed (result.dom);
    ``screenshot``: a PNG written to that path (--window-size); ``budget_ms``: --virtual-time-budget, so the
    page's own requests (e.g. two_connection_page's fetch) finish before the DOM is printed; ``keylog``: a
    path for the TLS secrets (--ssl-key-log-file, NSS key log format, for tshark). Bounded by ``timeout``
    seconds: the browser and its children (its own session) are then killed. Returns a ChromiumResult.

    ``preconnect=False`` (the default) turns off Chromium's network prediction in the fresh profile (its
    Preferences file: net.network_prediction_options = 2, "never"): otherwise Chromium opens a second socket to
    the origin in parallel with the first at navigation (measured: both accepted in the same millisecond), so
    the page's second request rides a connection whose handshake began before any session existed, and only a
    third connection could resume. No command-line switch found did the same (--disable-features with the
    predictor features did not)."""
    exe = chromium_bin()
    if exe is None:
        raise Missing("chromium is not installed (./run installs it from Debian)")
    own_tmp = tmp is None
    tmp = tmp or tempfile.mkdtemp(prefix="mt-chromium-")
    try:
        home = nss_home(os.path.join(tmp, "home"), ca_pem)
        profile = os.path.join(tmp, "profile")
        if not preconnect:
            os.makedirs(os.path.join(profile, "Default"), exist_ok=True)
            with open(os.path.join(profile, "Default", "Preferences"), "w") as f:
                f.write('{"net": {"network_prediction_options": 2}}')
        cmd = [exe] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile]
        if budget_ms:
            cmd.append("--virtual-time-budget=%d" % budget_ms)
        if keylog:
            cmd.append("--ssl-key-log-file=" + os.path.abspath(keylog))
        if screenshot:
            cmd += ["--screenshot=" + os.path.abspath(screenshot), "--window-size=%d,%d" % tuple(window_size)]
        if dump_dom:
            cmd.append("--dump-dom")
        cmd += list(extra) + [url]
        env = dict(os.environ)
        env["HOME"] = home
        env.pop("SSLKEYLOGFILE", None)
        env.pop("DISPLAY", None)
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True, cwd=tmp)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            _end_session(proc)
        out.seek(0)
        err.seek(0)
        return ChromiumResult(proc.returncode, out.read().decode("utf-8", "replace"),
                              err.read().decode("utf-8", "replace"), screenshot, keylog)
    finally:
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _end_session(proc):
    """Stop the browser we started (by its PID), then any of its children left in the session it leads (the
    process group numbered by that PID: only processes this call started)."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group is ours: start_new_session made proc.pid its leader
    except (ProcessLookupError, PermissionError):
        pass


# --- tshark: the handshakes on the wire ------------------------------------------------------------------

# handshake messages only a full handshake has: Certificate, ServerKeyExchange, ServerHelloDone,
# ClientKeyExchange
FULL_ONLY = (11, 12, 14, 16)


def start_capture(port, path, timeout=20.0):
    """tshark capturing TCP port ``port`` on loopback into ``path`` (pcapng); returns the Peer (stop it by
    ``.stop()``) once tshark says it is capturing, or None when it cannot capture (no permission, no
    loopback interface: its output then in ``start_capture.why``) within ``timeout`` seconds."""
    need("tshark")
    cap = Peer(["tshark", "-i", "lo", "-f", "tcp port %d" % port, "-w", path], wait=False)
    deadline = time.time() + timeout
    while "Capturing on" not in cap.output():
        if cap.proc.poll() is not None or time.time() > deadline:
            start_capture.why = cap.stop().strip()
            return None
        time.sleep(0.1)
    time.sleep(0.3)  # "Capturing on" comes a moment before the first packet is taken
    return cap


start_capture.why = ""


def stop_capture(cap, pcap, until=None, timeout=10.0):
    """Stop the capture ``cap`` (start_capture) writing ``pcap`` once what was sent is in the file: dumpcap
    takes packets from the kernel in blocks (libpcap's buffer timeout), and a capture stopped right after
    the last connection may lose that block. With ``until``, a test of tls_handshakes(pcap), it waits
    (at most ``timeout`` seconds) until that holds; then one second more either way. Returns the output."""
    deadline = time.time() + timeout
    while until is not None and time.time() < deadline:
        if until(tls_handshakes(pcap)):
            break
        time.sleep(0.3)
    time.sleep(1.0)
    return cap.stop()


def tls_handshakes(pcap, timeout=120):
    """{tcp stream: [handshake message types]} of the plaintext handshake messages in a capture (the
    encrypted Finished messages are not dissected without keys); streams numbered in the order their
    connections began."""
    out = subprocess.run(["tshark", "-r", pcap, "-Y", "tls.handshake", "-T", "fields", "-e", "tcp.stream",
                          "-e", "tls.handshake.type"], capture_output=True, text=True, timeout=timeout).stdout
    streams = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[1]:
            streams.setdefault(int(parts[0]), []).extend(int(t) for t in parts[1].split(",") if t)
    return streams


def full_handshakes(streams):
    """The streams of ``tls_handshakes`` whose server sent a Certificate: full handshakes."""
    return dict((s, t) for s, t in streams.items() if 11 in t)


def ticket_resumptions(streams):
    """The streams of ``tls_handshakes`` whose handshake is abbreviated from a ticket, as RFC 5077's figure 2:
    ClientHello, ServerHello, NewSessionTicket (then ChangeCipherSpec and the encrypted Finished messages),
    none of FULL_ONLY."""
    return dict((s, t) for s, t in streams.items() if t[:3] == [1, 2, 4] and not set(t) & set(FULL_ONLY))


# --- command-line clients ---------------------------------------------------------------------------------

def run_curl(url, ca, urls=1, extra=(), timeout=30):
    """``curl -v --cacert CA URL [URL ...]`` (``urls`` times the same URL, one process, so the later transfers
    can reuse the TLS session). Returns (rc, output: body then the verbose log). Over HTTP/1.1 curl would keep
    the connection itself open for the second URL; ``Connection: close`` is sent so each transfer makes a new
    TLS connection. A resumed one shows as "SSL re-using session ID" (curl 7.88, OpenSSL)."""
    need("curl")
    cmd = ["curl", "-v", "--http1.1", "-sS", "--cacert", ca, "-H", "Connection: close"] + list(extra) + [url] * urls
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def curl_resumed(output):
    """How many of curl's connections reused a TLS session (run_curl's output)."""
    return output.count("SSL re-using session ID")


def run_wget(url, ca, urls=1, keepalive=False, extra=(), timeout=30, dir=None):
    """``wget -d --ca-certificate CA -O - URL [URL ...]`` (GnuTLS). Returns (rc, output: the bodies, then the
    debug log). wget prints nothing about TLS sessions, and (measured, wget 1.21.3 against nginx, TLS 1.2 and
    1.3) it never resumes: each of its HTTPS connections is a full handshake, the URLs of one invocation
    included; only the server's log tells (NginxServer.log_lines). ``keepalive`` (wget's default): the
    second URL rides the first connection, no second handshake at all; off here by default
    (--no-http-keep-alive)."""
    need("wget")
    cmd = ["wget", "-d", "--no-config", "--no-hsts", "--ca-certificate", ca, "-O", "-"]
    if not keepalive:
        cmd.append("--no-http-keep-alive")
    cmd += list(extra) + [url] * urls
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=dir)
    return r.returncode, r.stdout + r.stderr


def run_gnutls_cli(port, ca, resume=True, host="localhost", priority=None, data=b"GET / HTTP/1.0\r\n\r\n",
                   extra=(), timeout=30):
    """``gnutls-cli --x509cafile CA -p PORT HOST [--resume]`` (default priorities unless ``priority``), a
    request sent on stdin. Returns (rc, output); "This is a resumed session" appears when the second
    connection resumed (``--resume`` connects twice)."""
    need("gnutls-cli")
    cmd = ["gnutls-cli", "--x509cafile", ca, "-p", str(port), host]
    if resume:
        cmd.append("--resume")
    if priority:
        cmd += ["--priority", priority]
    cmd += list(extra)
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


def run_s_client(port, extra=(), data=b"", timeout=20):
    """``openssl s_client -connect 127.0.0.1:PORT`` with ``extra``; returns (rc, output)."""
    need("openssl")
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(extra)
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


def wait_for_log(srv, n, timeout=5.0):
    """The access log once it has ``n`` lines (nginx writes a line when a request ends)."""
    end = time.time() + timeout
    while True:
        lines = srv.log_lines()
        if len(lines) >= n or time.time() > end:
            return lines
        time.sleep(0.05)
