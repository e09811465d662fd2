"""Process and port helpers shared by the tools (bench_tls, memprof, board_demo): free loopback ports,
waiting for a listener, starting and stopping peers by PID, the environments that put lib/ on the path of
CPython (with the ports/cpython shim) or of MicroPython."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
PORTS = os.path.join(ROOT, "ports", "cpython")


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=20.0, poll=0.05):
    """True once something accepts TCP connections on 127.0.0.1:port; False if ``proc`` ends or time runs
    out first."""
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(poll)
    return False


def stop(proc):
    """End a process a tool started, by its PID: SIGTERM, then SIGKILL after 5 s."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


def start(cmd, port, env=None, cwd=None):
    """A quiet peer listening on ``port``, or None (stopped) if it never listens."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            env=env, cwd=cwd, start_new_session=True)
    if not wait_port(port, proc):
        stop(proc)
        return None
    return proc


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
