"""Process and port helpers shared by the tools (bench_tls, memprof, board_demo) and the tests
(tests/tlspeers.py, tests/ikepeers.py): peers started and stopped by PID on loopback ports got without a
race, the environments that put lib/ on the path of CPython (with the ports/cpython shim) or of MicroPython.

Ports. Binding port 0, closing the socket and handing the number to a peer is a race: another process can
take the port before the peer binds it. Instead:

- a peer that can bind port 0 does (``openssl s_server -accept 127.0.0.1:0``, ``gnutls-serv -p 0``,
  tlslite-ng's ``tls.py server 127.0.0.1:0``), and ``Peer(cmd)`` reads the port back from the kernel: the
  socket that the peer's PID holds (``bound_ports``: /proc/net and /proc/PID/fd, Linux);
- a peer that must be told its port (strongSwan's charon from its config file; our own ``tls-server`` and
  ``ike-gateway``, see ``start_on_free_port``) gets one that was free a moment ago and is watched until its
  PID holds it; if it could not bind the port (address in use), ``on_free_port`` starts it again on
  another one, at most 5 times. A collision costs a restart, never a failed test.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
PORTS = os.path.join(ROOT, "ports", "cpython")

TRIES = 5
# how the peers say that their port is taken: CPython "[Errno 98] Address already in use", MicroPython
# "[Errno 98] EADDRINUSE", charon "unable to bind socket: Address already in use"
ADDR_IN_USE = re.compile(r"Errno 98\]|EADDRINUSE|[Aa]ddress already in use")


class PortInUse(RuntimeError):
    """A peer told a port could not bind it: another process took it first."""


# --- ports -------------------------------------------------------------------------------------------

def pick_ports(n=1, udp=False):
    """n distinct loopback ports free at this instant (bound together, then released). Only a first guess
    for a peer that must be told its port: whoever uses one must expect it taken (``on_free_port``)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def on_free_port(start, n=1, udp=False, tries=TRIES):
    """``start(*ports)`` with n ports free a moment ago. When it raises PortInUse (another process took a
    port between the pick and the peer's bind), again with other ports, at most ``tries`` times. Returns
    what ``start`` returns."""
    err = None
    for _ in range(tries):
        try:
            return start(*pick_ports(n, udp))
        except PortInUse as e:
            err = e
    raise RuntimeError("no free port in %d tries; the last peer said:\n%s" % (tries, err))


def _host(field):
    """The address of a /proc/net line ("0100007F"): 32-bit words in the host's byte order."""
    raw = bytes.fromhex(field)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def bound_ports(pid, udp=False):
    """Sorted [(host, port)] of the sockets that process ``pid`` holds: TCP sockets listening, or (udp)
    UDP sockets bound to a port; IPv4 and IPv6. Read from /proc (Linux)."""
    inodes = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return []
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    found = set()
    for table in (("udp", "udp6") if udp else ("tcp", "tcp6")):
        try:
            with open("/proc/%d/net/%s" % (pid, table)) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            addr, port = cols[1].split(":")
            if int(cols[9]) in inodes and int(port, 16) and (udp or cols[3] == "0A"):  # 0A: LISTEN
                found.add((_host(addr), int(port, 16)))
    return sorted(found)


def loopback_ports(pid, udp=False):
    """The ports of ``bound_ports`` that a client reaches at 127.0.0.1: IPv4 ones on 127.0.0.1 or any
    address, else IPv6 ones on any address (dual stack)."""
    found = bound_ports(pid, udp)
    v4 = sorted({p for h, p in found if h in ("127.0.0.1", "0.0.0.0")})
    return v4 or sorted({p for h, p in found if h in ("::", "::ffff:127.0.0.1")})


# --- processes ---------------------------------------------------------------------------------------

def stop(proc, timeout=5.0):
    """End a process we started, by its PID: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout)


class Peer:
    """A background process serving on a loopback port (``.port``), in a session of its own, its output
    kept in a temporary file; ``stop()`` ends it by PID and returns the output.

    Without ``port``: the command binds port 0 itself and the peer is ready once its PID holds exactly one
    port reachable at 127.0.0.1, which becomes ``.port``. With ``port``: the port the command was told; the
    peer is ready once its PID holds that one. A peer that ends first raises PortInUse if its output says
    the address is in use (see ``on_free_port``), RuntimeError otherwise; so does one not ready within
    ``timeout`` seconds. ``wait=False``: start it and return (a packet capture, which serves no port)."""

    def __init__(self, cmd, port=None, env=None, cwd=None, stdin=False, udp=False, wait=True, timeout=20.0):
        self.cmd = cmd
        self.port = port
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     env=env, cwd=cwd, start_new_session=True)
        self.pid = self.proc.pid
        if wait:
            self._wait(udp, timeout)

    def _wait(self, udp, timeout):
        end = time.time() + timeout
        while True:
            if self.port is None:
                found = loopback_ports(self.pid, udp)
                if len(found) == 1:
                    self.port = found[0]
                    return
            elif self.port in [p for _, p in bound_ports(self.pid, udp)]:
                return
            if self.proc.poll() is not None or time.time() > end:
                break
            time.sleep(0.05)
        why = "ended (%s)" % self.proc.returncode if self.proc.poll() is not None else "is not serving"
        out = self.stop()
        if self.proc.returncode is not None and ADDR_IN_USE.search(out):
            raise PortInUse("%r: port %s in use:\n%s" % (self.cmd, self.port, out[-2000:]))
        raise RuntimeError("peer %r %s on port %s after %.0f s:\n%s" % (self.cmd, why, self.port or "0",
                                                                      timeout, out[-4000:]))

    def stop(self, timeout=5.0):
        stop(self.proc, timeout)
        return self.output()

    def output(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")


def cpu_seconds(pid):
    """User + system CPU seconds the process ``pid`` has used (/proc/PID/stat; Linux), None if unknown."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def empty_connection(port):
    """Connect to 127.0.0.1:port and close: what a TCP readiness probe did. The heap figures of our servers
    under MicroPython were measured with such a connection served first (its buffers are then reused), so
    the tools and tests that pin them still make it."""
    socket.create_connection(("127.0.0.1", port), 5).close()


def start_on_free_port(make_cmd, env=None, cwd=None, stdin=False, udp=False, tries=TRIES, timeout=20.0):
    """Our own servers (``tls-server``, ``ike-gateway``): a Peer running ``make_cmd(0)``. They bind port 0
    themselves (``--port 0``; on MicroPython, which cannot ask the kernel, a random free port that the bind
    itself claims) and hold it, and Peer reads the port from the kernel: no race with other processes.
    ``tries`` is kept for callers of the earlier retrying version; nothing needs retrying now."""
    return Peer(make_cmd(0), None, env, cwd, stdin, udp, timeout=timeout)


# --- environments ------------------------------------------------------------------------------------

def env_cpython():
    env = dict(os.environ)
    env["PYTHONPATH"] = LIB + os.pathsep + PORTS
    return env


def env_micropython(path):
    env = dict(os.environ)
    env["MICROPYPATH"] = path + ":.frozen"
    return env


def micropython_bin():
    """The unix-port interpreter: next to this Python (the venv) first, then on PATH; None if absent."""
    cand = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(cand):
        return cand
    return shutil.which("micropython")
