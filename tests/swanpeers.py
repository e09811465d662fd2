"""libreswan's pluto as a private IKEv2 responder for the tests, without installing the package.

Debian's ``libreswan`` conflicts with strongswan-starter/strongswan-libcharon (which the strongSwan tests
need), so it is never installed: its .deb is fetched with ``apt-get download`` and extracted with
``dpkg -x`` under ``.cache/libreswan/<deb version>/`` (``prepare()``; ``./run`` does it and installs the
shared libraries pluto links that are missing, when that removes nothing; a test that finds no usable
pluto skips with the reason).

pluto, as packaged, cannot be pointed elsewhere for two things, so it runs in private namespaces
(``unshare -m -n``, root):

- it refuses to start unless /usr/libexec/ipsec/addconn is executable (a compiled-in path): in its own
  mount namespace the extracted usr/libexec is bound over /usr/libexec;
- it opens a non-standard IKE port (``leftikeport=``) only with ``listen-udp=yes``, which also binds ports
  500 and 4500 of every address it listens on; and it refuses a peer on its own interface address ("both
  sides of ... are our interface lo!"). In its own network namespace it listens on 127.0.0.2 (added to
  that namespace's lo) ports 500 and 4500, free by construction, and the initiator reaches it from
  127.0.0.1 in the same namespace: ``nsenter`` for a subprocess, ``Pluto.socket()`` for CPython in
  process (a socket made by a thread that joined the namespace).

Child SAs are never installed (the initiator is IKE-only, RFC 6023). pluto is stopped by its PID.

    python3 tests/swanpeers.py prepare    # fetch + extract; prints the pluto path or why not (exit 1)
    python3 tests/swanpeers.py deps       # prepare, then the library packages pluto needs that are missing
"""

import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if os.path.join(ROOT, "tools") not in sys.path:
    sys.path.append(os.path.join(ROOT, "tools"))

import procs  # noqa: E402  (tools/procs.py)

CACHE = os.environ.get("MICROTICKET_LIBRESWAN_CACHE") or os.path.join(ROOT, ".cache", "libreswan")
GW_ADDR = "127.0.0.2"     # pluto's address in its namespace; the initiator's is 127.0.0.1
PSK_HEX = "00112233445566778899aabbccddeeff"
_CLONE_NEWNET = 0x40000000


class Unavailable(Exception):
    """No usable pluto here; the message says why (a test skips with it)."""


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


def candidate_version():
    """The libreswan version apt would fetch (``apt-cache policy``), or None without apt or a candidate."""
    if shutil.which("apt-cache") is None:
        return None
    m = re.search(r"Candidate:\s*(\S+)", _run(["apt-cache", "policy", "libreswan"]).stdout)
    return m.group(1) if m and m.group(1) != "(none)" else None


class Install:
    """An extracted libreswan .deb: ``.version`` (the .deb's), ``.root`` (the dpkg -x tree), ``.pluto``,
    ``.addconn``, ``.libexec`` (the directory bound over /usr/libexec), ``.deb``."""

    def __init__(self, version):
        self.version = version
        self.dir = os.path.join(CACHE, version.replace(":", "%3a"))
        self.root = os.path.join(self.dir, "root")
        self.libexec = os.path.join(self.root, "usr", "libexec")
        self.pluto = os.path.join(self.libexec, "ipsec", "pluto")
        self.addconn = os.path.join(self.libexec, "ipsec", "addconn")

    def major(self):
        """The upstream major version (4 for 4.10-2+deb12u1)."""
        m = re.match(r"(?:\d+:)?(\d+)", self.version)
        return int(m.group(1)) if m else 0

    @property
    def deb(self):
        debs = [f for f in os.listdir(self.dir) if f.endswith(".deb")] if os.path.isdir(self.dir) else []
        return os.path.join(self.dir, debs[0]) if debs else None

    def extracted(self):
        return os.access(self.pluto, os.X_OK) and os.access(self.addconn, os.X_OK)

    def missing_libraries(self):
        """Shared libraries pluto and addconn link that the machine lacks (``ldd``: "not found")."""
        missing = []
        for exe in (self.pluto, self.addconn):
            for line in _run(["ldd", exe]).stdout.splitlines():
                if "not found" in line:
                    name = line.split()[0]
                    if name not in missing:
                        missing.append(name)
        return missing

    def depends(self):
        """The library packages of the .deb's Depends (the first of each alternative, versions dropped)."""
        out = _run(["dpkg-deb", "-f", self.deb, "Depends"]).stdout
        names = [alt.split("|")[0].split("(")[0].strip() for alt in out.split(",")]
        return [n for n in names if n.startswith("lib")]

    def supports_resumption(self):
        """Whether this pluto knows RFC 5723 (``session-resumption=``, libreswan 5.x); 4.10 does not."""
        for exe in (self.pluto, self.addconn):
            with open(exe, "rb") as f:
                if b"session-resumption" in f.read():
                    return True
        return False


def _installed(pkg):
    r = _run(["dpkg-query", "-W", "-f=${Status}", pkg])
    return r.returncode == 0 and "install ok installed" in r.stdout


def prepare(download=True):
    """The extracted pluto keyed by the candidate .deb version: found in the cache, else (``download``)
    fetched with ``apt-get download`` and extracted. Raises Unavailable with the reason."""
    version = candidate_version()
    if version is None:  # no apt here: any version extracted before
        found = sorted(v for v in os.listdir(CACHE)) if os.path.isdir(CACHE) else []
        found = [v for v in found if Install(v).extracted()]
        if not found:
            raise Unavailable("no libreswan candidate in apt and none extracted under " + CACHE)
        return Install(found[-1])
    inst = Install(version)
    if inst.extracted():
        return inst
    if not download:
        raise Unavailable("libreswan %s not extracted under %s (./run setup does it)" % (version, CACHE))
    for tool in ("apt-get", "dpkg", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise Unavailable(tool + " not found")
    os.makedirs(inst.dir, exist_ok=True)
    if inst.deb is None:
        r = _run(["apt-get", "download", "libreswan=" + version], cwd=inst.dir)
        if inst.deb is None:
            raise Unavailable("apt-get download libreswan=%s failed: %s" % (version, (r.stdout + r.stderr)[-500:]))
    tmp = "%s.part%d" % (inst.root, os.getpid())  # another process may be extracting too: the first rename wins
    shutil.rmtree(tmp, ignore_errors=True)
    r = _run(["dpkg", "-x", inst.deb, tmp])
    if r.returncode != 0:
        raise Unavailable("dpkg -x %s failed: %s" % (inst.deb, r.stderr[-500:]))
    try:
        os.rename(tmp, inst.root)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    if not inst.extracted():
        raise Unavailable("no pluto/addconn in " + inst.deb)
    return inst


def usable():
    """The Install the tests use; Unavailable (with the reason) when pluto cannot run here."""
    inst = prepare()
    missing = inst.missing_libraries()
    if missing:
        raise Unavailable("libreswan %s: pluto lacks %s (install the libraries of its Depends: %s)"
                          % (inst.version, ", ".join(missing),
                             " ".join(p for p in inst.depends() if not _installed(p))))
    if os.geteuid() != 0:
        raise Unavailable("pluto runs in private mount and network namespaces (unshare -m -n): needs root")
    for tool in ("unshare", "nsenter", "ip", "certutil"):
        if shutil.which(tool) is None:
            raise Unavailable(tool + " not found")
    return inst


# --- a running pluto ---------------------------------------------------------------------------------

_IPSEC_CONF = """config setup
\tlisten=%(gw)s
\tlisten-udp=yes
\tplutodebug=base,crypt
\tdumpdir=%(dir)s
\tipsecdir=%(dir)s
\tnssdir=%(dir)s/nss
\tsecretsfile=%(dir)s/ipsec.secrets

conn mt
\t%(ikev2)s
\tauthby=secret
\tleft=%(gw)s
\tleftid=@%(local_id)s
\tright=%%any
\trightid=@%(remote_id)s
\tike=%(ike)s
\tesp=aes128-sha2_256
\tauto=add
%(extra)s"""


class Pluto:
    """A private pluto (see the module's docstring): PSK, IKEv2 only, the RFC 7815 profile in ``ike``
    (pluto's syntax), ``session-resumption=yes`` when ``resumption``. ``.pid``, ``.log_text()``,
    ``.socket(port)``, ``.nsenter``: the command prefix that runs a program in its network namespace."""

    def __init__(self, workdir, install, psk_hex=PSK_HEX, local_id="gw.example", remote_id="client.example",
                 ike="aes128-sha2_256;dh31,aes128-sha2_256;dh14", resumption=False):
        self.dir = workdir
        self.inst = install
        self.conf = {"gw": GW_ADDR, "dir": workdir, "local_id": local_id, "remote_id": remote_id, "ike": ike,
                     "extra": "\tsession-resumption=yes\n" if resumption else "",
                     # 4.10 refuses keyexchange=ikev2 ("invalid value"); 5.x spells it so
                     "ikev2": "keyexchange=ikev2" if install.major() >= 5 else "ikev2=insist"}
        self.psk_hex = psk_hex
        self.proc = None
        self.out = None

    @property
    def logpath(self):
        return os.path.join(self.dir, "pluto.log")

    @property
    def pid(self):
        return self.proc.pid

    @property
    def nsenter(self):
        return ["nsenter", "--target", str(self.proc.pid), "--net", "--"]

    def start(self, timeout=20):
        d = self.dir
        nss = os.path.join(d, "nss")
        shutil.rmtree(nss, ignore_errors=True)
        os.makedirs(nss)
        r = _run(["certutil", "-N", "-d", "sql:" + nss, "--empty-password"])
        if r.returncode != 0:
            raise RuntimeError("certutil -N failed: " + r.stdout + r.stderr)
        conf = os.path.join(d, "ipsec.conf")
        with open(conf, "w") as f:
            f.write(_IPSEC_CONF % self.conf)
        secrets = os.path.join(d, "ipsec.secrets")
        fd = os.open(secrets, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("@%s @%s : PSK 0x%s\n" % (self.conf["local_id"], self.conf["remote_id"], self.psk_hex))
        ctl = os.path.join(d, "pluto.ctl")
        for stale in (ctl, os.path.join(d, "pluto.pid"), self.logpath):
            if os.path.exists(stale):
                os.unlink(stale)
        script = ("ip link set lo up && ip addr add %s/8 dev lo && mount --bind %s /usr/libexec && "
                  "exec /usr/libexec/ipsec/pluto --nofork --config %s --rundir %s --nssdir %s --secretsfile %s "
                  "--ipsecdir %s --logfile %s" % (GW_ADDR, self.inst.libexec, conf, d, nss, secrets, d, self.logpath))
        self.out = open(os.path.join(d, "pluto.out"), "w")
        # unshare and sh exec: the PID is pluto's
        self.proc = subprocess.Popen(["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script],
                                     stdout=self.out, stderr=subprocess.STDOUT, cwd=d, start_new_session=True)
        end = time.time() + timeout
        while not os.path.exists(ctl):
            self._alive_or_fail(end, "its control socket")
            time.sleep(0.05)
        r = _run([self.inst.addconn, "--config", conf, "--ctlsocket", ctl, "mt"], timeout=timeout)
        if r.returncode != 0:
            self.stop()
            raise RuntimeError("addconn failed: %s%s\n%s" % (r.stdout, r.stderr, self._tail()))
        while True:
            held = procs.bound_ports(self.proc.pid, udp=True)  # read in pluto's own network namespace
            if (GW_ADDR, 500) in held and (GW_ADDR, 4500) in held and "added IKEv2 connection" in self.log_text():
                return self
            self._alive_or_fail(end, "ports 500 and 4500 on %s with connection mt" % GW_ADDR)
            time.sleep(0.05)

    def _tail(self):
        text = ""
        for p in (os.path.join(self.dir, "pluto.out"), self.logpath):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    text += "".join(l for l in f.read().splitlines(True) if ": | " not in l)[-3000:]
        return text

    def _alive_or_fail(self, end, what):
        if self.proc.poll() is not None or time.time() > end:
            tail = self._tail()
            self.stop()
            raise RuntimeError("pluto (libreswan %s) did not come up with %s:\n%s" % (self.inst.version, what, tail))

    def stop(self):
        procs.stop(self.proc, 10)
        if self.out is not None:
            self.out.close()
            self.out = None

    def log_text(self):
        if not os.path.exists(self.logpath):
            return ""
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def socket(self, port):
        """A UDP socket in pluto's network namespace connected to its ``port`` (CPython: a thread joins the
        namespace with setns(2), makes the socket and ends; the socket stays in that namespace)."""
        import ctypes
        import socket
        import threading
        libc = ctypes.CDLL(None, use_errno=True)
        got = []

        def make():
            fd = os.open("/proc/%d/ns/net" % self.proc.pid, os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.connect((GW_ADDR, port))
                got.append(s)
            except OSError as e:
                got.append(e)
            finally:
                os.close(fd)
        t = threading.Thread(target=make)
        t.start()
        t.join()
        if isinstance(got[0], OSError):
            raise got[0]
        return got[0]


def auth_octets(text, label):
    """The hex dumps that follow ``label`` lines in a pluto debug log (plutodebug=base,crypt), as bytes.
    Labels (libreswan 4.10): "Calculated PSK auth octets" (the initiator's AUTH, as pluto expects it),
    "PSK auth octets" (pluto's own AUTH)."""
    out = []
    cur = None
    for line in text.splitlines():
        if line.endswith("| " + label):
            cur = bytearray()
            out.append(cur)
            continue
        if cur is not None:
            m = re.search(r"\|   ((?:[0-9a-f]{2} {1,2})*[0-9a-f]{2})(?:   |$)", line)
            if m:
                cur.extend(bytes.fromhex(m.group(1).replace(" ", "")))
                continue
            cur = None
    return [bytes(b) for b in out]


def main(argv):
    cmd = argv[0] if argv else ""
    if cmd not in ("prepare", "deps"):
        print(__doc__)
        return 2
    try:
        inst = prepare()
    except Unavailable as e:
        print("libreswan unavailable: %s" % e, file=sys.stderr)
        return 1
    if cmd == "prepare":
        print(inst.pluto)
    else:
        print(" ".join(p for p in inst.depends() if not _installed(p)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
