"""tools/vboard.py: a virtual board starts, answers mpremote, keeps its files, and stop leaves no process
behind (checked by PID)."""

import os
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/
sys.path.insert(0, os.path.join(ROOT, "tools"))
import vboard  # noqa: E402

VBOARD = os.path.join(ROOT, "tools", "vboard.py")
pytestmark = pytest.mark.skipif(not shutil.which("socat"), reason="socat not installed (apt-get install socat)")


def mpremote(dev, *args):
    exe = os.path.join(os.path.dirname(sys.executable), "mpremote")
    return subprocess.run([exe, "connect", dev, "resume"] + list(args), capture_output=True, text=True,
                          timeout=60)


def gone(pid, wait=5.0):
    """True once pid is no longer a live process (an unreaped zombie counts as gone)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not vboard._alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_start_answers_and_stop_leaves_no_process(tmp_path):
    d = str(tmp_path / "board")
    pids = []
    try:
        proc = subprocess.run([sys.executable, VBOARD, "start", "--dir", d], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stderr
        dev = proc.stdout.strip().splitlines()[-1]           # the device path is the last line
        assert dev == os.path.join(d, "tty") and os.path.exists(dev)
        st = vboard.read_state(d)
        pids = [st["socat"], st["interpreter"]]
        assert all(pids) and all(vboard._alive(p) for p in pids)
        assert "socat" in vboard._cmdline(pids[0]) and "micropython" in vboard._cmdline(pids[1])
        r = mpremote(dev, "exec", "import os; print(os.getcwd())")
        assert r.returncode == 0 and r.stdout.strip() == d    # the board's flash is its directory
        # a second start on a running board reuses it
        again = subprocess.run([sys.executable, VBOARD, "start", "--dir", d], capture_output=True, text=True,
                               timeout=60)
        assert again.stdout.strip().splitlines()[-1] == dev
        assert vboard.read_state(d)["socat"] == pids[0]
    finally:
        stop = subprocess.run([sys.executable, VBOARD, "stop", "--dir", d], capture_output=True, text=True,
                              timeout=60)
    assert stop.returncode == 0
    for pid in pids:
        assert gone(pid), "pid %d still running after stop" % pid
    assert not os.path.exists(os.path.join(d, "vboard.json"))
    assert not os.path.lexists(os.path.join(d, "tty"))


def test_stop_when_not_running_is_harmless(tmp_path):
    proc = subprocess.run([sys.executable, VBOARD, "stop", "--dir", str(tmp_path)], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0 and "not running" in proc.stdout


def test_files_survive_a_restart_in_process(tmp_path):
    d = str(tmp_path / "b")
    first = []
    try:
        dev = vboard.start(d)
        first = [vboard.read_state(d)["socat"]]
        assert mpremote(dev, "exec", "open('note.txt','w').write('kept')").returncode == 0
        vboard.stop(d)
        assert gone(first[0])
        dev = vboard.start(d)
        assert vboard.read_state(d)["socat"] != first[0]
        r = mpremote(dev, "exec", "print(open('note.txt').read())")
        assert r.stdout.strip() == "kept"
    finally:
        ended = vboard.stop(d)
    for pid in first + ended:
        assert gone(pid)
