"""`keys new|rotate|show`: the key file from the command line, on CPython and MicroPython."""

import json
import os
import stat
import subprocess
import sys

import mpharness
from microticket.cli.keys import main

from consts import CORE_T0 as NOW


def test_new_rotate_show(tmp_path, capsys):
    path = str(tmp_path / "k.json")
    assert main(["new", path, "--lifetime", "600"], now=NOW) == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert main(["rotate", path], now=NOW + 100) == 0
    assert main(["show", path], now=NOW + 800) == 0
    out = capsys.readouterr().out
    doc = json.load(open(path))
    assert len(doc["keys"]) == 2 and doc["lifetime"] == 600
    last = out.strip().splitlines()[-2:]
    assert "seals+opens" in last[0] and "expired" in last[1]  # window: 100 + 600 < 800
    for k in doc["keys"]:  # show never prints a secret
        assert k["aes"] not in out and k["hmac"] not in out
    assert main(["rotate", path], now=NOW + 900) == 0
    assert len(json.load(open(path))["keys"]) == 2  # the expired key is dropped


def test_errors(tmp_path, capsys):
    assert main(["show", str(tmp_path / "missing.json")]) == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["show", str(bad)]) == 1
    assert main(["frobnicate", "x"]) == 2
    assert main(["new", str(tmp_path / "x.json"), "--profile", "nope"]) == 2


def test_draft07_profile(tmp_path):
    path = str(tmp_path / "d.json")
    assert main(["new", path, "--profile", "draft07"], now=NOW) == 0
    assert len(json.load(open(path))["keys"][0]["hmac"]) == 40


def test_python_m_and_micropython_m(mp, tmp_path):
    path = str(tmp_path / "k.json")
    env = dict(os.environ, PYTHONPATH=mpharness.LIB + os.pathsep + mpharness.PORTS)
    out = subprocess.run([sys.executable, "-m", "microticket", "keys", "new", path], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    env = dict(os.environ, MICROPYPATH=mpharness.LIB)
    out = subprocess.run([mpharness.micropython_bin(), "-m", "microticket", "keys", "rotate", path],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 key(s)" in out.stdout and stat.S_IMODE(os.stat(path).st_mode) == 0o600
