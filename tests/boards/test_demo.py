"""The README's first command runs the main job: tools/demo.py (board demo, ticket demo, figures)."""

import os
import subprocess
import sys

import pytest

import mpharness

pytestmark = pytest.mark.slow


def test_main_job_runs_end_to_end(mp):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([sys.executable, os.path.join(mpharness.ROOT, "tools", "demo.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, env=env)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    # the board: for every suite the first OpenSSL connection gets a ticket and the second is resumed
    assert out.count("second Reused: True") == 3
    assert out.count("full       TLS_") == 3 and out.count("resumed    TLS_") == 3
    assert "ratio full / resumed: CPU" in out
    # the ticket demo on MicroPython and its rejections
    for reason in ("bad-mac", "malformed", "unknown-key", "expired"):
        assert "-> " + reason in out
    assert "ratio: open / floor" in out and "smallest -X heapsize for the ticket round trip" in out
    # no virtual board left behind
    assert not os.path.exists(os.path.join(mpharness.ROOT, "dist", "demo-board", "vboard.json"))
