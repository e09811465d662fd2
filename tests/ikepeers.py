"""Start and stop IKE peers for the tests: strongSwan's charon and our own gateway/initiator processes.

Everything runs on loopback ports got without a race (tools/procs.py: a port free a moment ago, and the
peer started again on another one if it found that one taken) in a private directory; every process is
stopped by its PID (SIGTERM, then SIGKILL after a bound), never by name.

    ch = Charon(tmpdir, psk_hex=..., proposals=...); ch.start(); ...; ch.stop()
    ch.port, ch.port_nat_t, ch.log_text(), charon_dumps(text) -> [(label, bytes)]
    gw = GatewayProcess(args, runtime="cpython"|"micropython"); gw.start(); gw.stop()
    run_initiator(args, runtime=...) -> subprocess.CompletedProcess
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from consts import LOOPBACK_PEER

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIB = os.path.join(ROOT, "lib")
PORTS = os.path.join(ROOT, "ports", "cpython")
if os.path.join(ROOT, "tools") not in sys.path:
    sys.path.append(os.path.join(ROOT, "tools"))

import procs  # noqa: E402  (tools/procs.py)
# Debian's path; other layouts as fallbacks (the first that exists is used)
CHARON = next((p for p in ("/usr/lib/ipsec/charon", "/usr/libexec/ipsec/charon", "/usr/lib/strongswan/charon")
               if os.path.exists(p)), "/usr/lib/ipsec/charon")
SWANCTL = shutil.which("swanctl") or "/usr/sbin/swanctl"
PIDFILE = "/var/run/charon.pid"

PSK_HEX = "00112233445566778899aabbccddeeff"


def charon_available():
    return os.path.exists(CHARON) and os.path.exists(SWANCTL)


def _stop_pid(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


_STRONGSWAN_CONF = """charon {
  port = %(port)d
  port_nat_t = %(port_nat_t)d
  install_routes = no
  install_virtual_ip = no
  retransmit_tries = 2
  load = random nonce openssl aes sha1 sha2 hmac gmp curve25519 pem pkcs1 x509 kdf kernel-netlink socket-default vici
  filelog {
    log {
      path = %(dir)s/charon.log
      default = 1
      ike = 4
      cfg = 2
      enc = 1
      net = 1
      flush_line = yes
    }
  }
  syslog { }
  plugins {
    vici { socket = unix://%(dir)s/charon.vici }
  }
}
"""

_SWANCTL_CONF = """connections {
  mt {
    version = 2
    local_addrs = 127.0.0.1
    remote_addrs = 127.0.0.1
    proposals = %(proposals)s
    local {
      auth = psk
      id = %(local_id)s
    }
    remote {
      auth = psk
      id = %(remote_id)s
    }
    children {
      c {
        esp_proposals = aes128-sha256
        local_ts = 127.0.0.1/32
        remote_ts = 127.0.0.1/32
      }
    }
  }
}
secrets {
  ike-mt {
    id-a = %(local_id)s
    id-b = %(remote_id)s
    secret = 0x%(psk)s
  }
}
"""


class Charon:
    """A private strongSwan charon on free ports: PSK, IKE-only use, ike=4 file log (keys in hex).

    charon reads its two UDP ports from strongswan.conf and cannot bind port 0 for them: it is told two
    ports free a moment ago, and one it cannot bind it does not give up on (it logs "unable to bind
    socket: Address already in use" and runs on with IPv4 disabled): start() checks that its PID holds
    both, and starts it again on other ports if not (procs.on_free_port)."""

    def __init__(self, workdir, psk_hex=PSK_HEX, local_id="gw.example", remote_id="client.example",
                 proposals="aes128-sha256-modp2048,aes128-sha256-x25519"):
        self.dir = workdir
        self.psk_hex = psk_hex
        self.local_id = local_id
        self.remote_id = remote_id
        self.proposals = proposals
        self.proc = None
        self.port = self.port_nat_t = None  # known once started

    @property
    def logpath(self):
        return os.path.join(self.dir, "charon.log")

    def start(self, timeout=20):
        return procs.on_free_port(lambda port, port_nat_t: self._start(port, port_nat_t, timeout), n=2, udp=True)

    def _start(self, port, port_nat_t, timeout):
        self.port, self.port_nat_t = port, port_nat_t
        if os.path.exists(PIDFILE):
            try:
                with open(PIDFILE) as f:
                    pid = int(f.read().strip() or "0")
                os.kill(pid, 0)
                raise RuntimeError("another charon (pid %d) is running" % pid)
            except (ValueError, ProcessLookupError):
                os.unlink(PIDFILE)
        d = {"port": self.port, "port_nat_t": self.port_nat_t, "dir": self.dir, "proposals": self.proposals,
             "local_id": self.local_id, "remote_id": self.remote_id, "psk": self.psk_hex}
        conf = os.path.join(self.dir, "strongswan.conf")
        with open(conf, "w") as f:
            f.write(_STRONGSWAN_CONF % d)
        self.swanctl_conf = os.path.join(self.dir, "swanctl.conf")
        with open(self.swanctl_conf, "w") as f:
            f.write(_SWANCTL_CONF % d)
        env = dict(os.environ)
        env["STRONGSWAN_CONF"] = conf
        sock = os.path.join(self.dir, "charon.vici")
        for stale in (sock, self.logpath):  # of an earlier try: charon appends to its log
            if os.path.exists(stale):
                os.unlink(stale)
        self.out = open(os.path.join(self.dir, "charon.out"), "w")
        self.proc = subprocess.Popen([CHARON], env=env, stdout=self.out, stderr=subprocess.STDOUT, cwd=self.dir)
        end = time.time() + timeout
        while not os.path.exists(sock):
            if self.proc.poll() is not None or time.time() > end:
                self.stop()
                raise RuntimeError("charon did not start: " + open(os.path.join(self.dir, "charon.out")).read())
            time.sleep(0.05)
        # its sockets are bound (or failed to) before the vici plugin, loaded after socket-default, listens
        held = [p for h, p in procs.bound_ports(self.proc.pid, udp=True) if ":" not in h]  # IPv4
        if port not in held or port_nat_t not in held:
            self.stop()
            log = open(self.logpath).read()
            err = procs.PortInUse if procs.ADDR_IN_USE.search(log) else RuntimeError
            raise err("charon holds %s, not ports %d and %d:\n%s" % (held, port, port_nat_t, log[-2000:]))
        r = subprocess.run([SWANCTL, "--load-all", "--file", self.swanctl_conf, "--uri", "unix://" + sock],
                           capture_output=True, text=True, timeout=timeout, env=env)
        if r.returncode != 0 or "loaded connection 'mt'" not in r.stdout:
            self.stop()
            raise RuntimeError("swanctl failed: " + r.stdout + r.stderr)
        return self

    def stop(self):
        _stop_pid(self.proc)
        self.proc = None
        if getattr(self, "out", None):
            self.out.close()
            self.out = None

    def swanctl(self, *args, timeout=30):
        return subprocess.run([SWANCTL] + list(args) + ["--uri", "unix://" + os.path.join(self.dir, "charon.vici")],
                              capture_output=True, text=True, timeout=timeout)

    def sa_info(self, spi_i_hex):
        """charon's view of the IKE SA with this initiator SPI: {"uniqueid": ..., "dh-group": ..., ...}."""
        raw = self.swanctl("--list-sas", "--raw").stdout
        for m in re.finditer(r"\{mt \{([^{}]*)", raw):
            fields = dict(kv.split("=", 1) for kv in m.group(1).split() if "=" in kv)
            if fields.get("initiator-spi") == spi_i_hex:
                return fields
        return None

    def log_text(self):
        with open(self.logpath) as f:
            return f.read()


_LABEL = re.compile(r"^(\d+)\[IKE\] (.+?) => (\d+) bytes @ 0x[0-9a-f]+$")
_HEXLINE = re.compile(r"^(\d+)\[IKE\]\s+\d+: ((?:[0-9A-F]{2} ?){1,16})")


def charon_dumps(text):
    """Every hex dump in a charon ``ike = 4`` log as (label, bytes), in log order."""
    out = []
    pending = {}  # thread -> [label, n, bytearray]
    for line in text.splitlines():
        line = line.rstrip()
        m = _LABEL.match(line)
        if m:
            th, label, n = m.group(1), m.group(2), int(m.group(3))
            if n == 0:
                out.append((label, b""))
            else:
                pending[th] = [label, n, bytearray()]
            continue
        m = _HEXLINE.match(line)
        if m and m.group(1) in pending:
            p = pending[m.group(1)]
            p[2].extend(bytes.fromhex(m.group(2).replace(" ", "")))
            if len(p[2]) >= p[1]:
                out.append((p[0], bytes(p[2][:p[1]])))
                del pending[m.group(1)]
    return out


# --- our own processes -----------------------------------------------------------------------------

_SCRIPTS = {}


def cli_script(name):
    """A tiny script that calls microticket.cli.<name>.main(sys.argv[1:]) (works on both runtimes; ``name``:
    ike_initiate or ike_gateway)."""
    if name not in _SCRIPTS:
        d = tempfile.mkdtemp(prefix="mt-ikecli-")
        fn = os.path.join(d, name + ".py")
        with open(fn, "w") as f:
            f.write("import sys\nfrom microticket.cli.%s import main\nsys.exit(main(sys.argv[1:]))\n" % name)
        _SCRIPTS[name] = fn
    return _SCRIPTS[name]


def micropython_bin():
    import mpharness
    return mpharness.micropython_bin()


def _cmd_env(runtime, heapsize=None, path=None):
    env = dict(os.environ)
    if runtime == "micropython":
        cmd = [micropython_bin()]
        if heapsize:
            cmd += ["-X", "heapsize=" + str(heapsize)]
        env["MICROPYPATH"] = (path or LIB) + ":.frozen"
    else:
        cmd = [sys.executable]
        env["PYTHONPATH"] = PORTS + os.pathsep + LIB
    return cmd, env


def run_initiator(args, runtime="cpython", timeout=60, heapsize=None, path=None, prefix=()):
    """``ike-initiate ARGS`` on ``runtime``; ``prefix``: a command that runs it (e.g. nsenter, for a peer in
    a network namespace of its own: tests/swanpeers.py)."""
    cmd, env = _cmd_env(runtime, heapsize, path)
    return subprocess.run(list(prefix) + cmd + [cli_script("ike_initiate")] + list(args), capture_output=True,
                          text=True, timeout=timeout, env=env)


class GatewayProcess:
    """``ike-gateway`` in a subprocess on a free port (procs.start_on_free_port), or on ``port`` (a restart
    on the port a client's ticket store names: one try, it cannot move); stopped by PID. ``stop()`` returns
    its output lines."""

    def __init__(self, args, runtime="cpython", port=None):
        self.port = port
        self.args = list(args)
        self.runtime = runtime
        self.peer = None
        self.lines = []

    def start(self, timeout=20):
        cmd, env = _cmd_env(self.runtime)

        def command(port):
            return cmd + [cli_script("ike_gateway"), "--port", str(port)] + self.args
        if self.port:
            self.peer = procs.Peer(command(self.port), self.port, env=env, udp=True, timeout=timeout)
        else:
            self.peer = procs.start_on_free_port(command, env=env, udp=True, timeout=timeout)
            self.port = self.peer.port
        return self

    def stop(self):
        if self.peer is not None:
            self.lines.extend(self.peer.stop().splitlines())
            self.peer = None
        return self.lines


# --- shared by the test modules ---------------------------------------------------------------------


def pump(ini, gw, now, peer=LOOPBACK_PEER, start=True, lose=0):
    """Run a sans-IO initiator against an in-process gateway until quiet (retransmission timers fire
    as they come due); ``lose`` drops that many first requests. Returns the initiator's events."""
    if start:
        ini.start(now)
    for _ in range(50):
        ds = ini.datagrams()
        if not ds:
            if ini.deadline() is not None:
                now = ini.deadline()
                ini.on_timer(now)
                continue
            break
        for d in ds:
            if lose:
                lose -= 1
                continue
            for r in gw.handle(d, now, peer):
                ini.receive(r, now)
    return ini.events()
