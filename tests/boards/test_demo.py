"""The README's first command runs the main job: tools/demo.py (board demo, ticket demo, figures, and a browser
on the board's page)."""

import os
import re
import struct
import subprocess
import sys

import pytest

import mpharness
import tlspeers
import webpeers

pytestmark = pytest.mark.slow


SUITE = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
SHOT = os.path.join(mpharness.ROOT, "dist", "board-page.png")


def _demo(*args, path=None, timeout=600):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + (env.get("PATH", "") if path is None else path)
    return subprocess.run([sys.executable, os.path.join(mpharness.ROOT, "tools", "demo.py")] + list(args),
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_main_job_runs_end_to_end(mp):
    proc = _demo("--quick")
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
    # the browser section comes last (test_browser_section checks what it shows)
    assert "== 5. A browser opens the board's HTTPS page" in out
    if webpeers.chromium_bin() is not None:
        assert "the second connection resumed from the ticket: yes" in out, out[-3000:]
    # no virtual board left behind
    assert not os.path.exists(os.path.join(mpharness.ROOT, "dist", "demo-board", "vboard.json"))


def test_browser_section(mp):
    """``--browser-only``: headless Chromium opens the page of the board's tls-server (MicroPython, ECDSA P-256)
    in one process; the page's second connection, the server's log and (with tshark) the wire show the
    resumption from the ticket; the screenshot is the page's window; the server and capture are gone after."""
    if webpeers.chromium_bin() is None:
        pytest.skip("chromium not installed")
    if os.path.exists(SHOT):
        os.unlink(SHOT)
    proc = _demo("--browser-only", timeout=240)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Traceback" not in out + proc.stderr
    assert "  This page: TLS 1.2, %s, resumed: no, new ticket: yes\n" % SUITE in out, out
    assert "  Next connection: TLS 1.2, %s, resumed: from a ticket, new ticket: yes\n" % SUITE in out, out
    assert "  connection 1: TLS 1.2, %s, resumed: no, new ticket: yes\n" % SUITE in out, out
    assert "  connection 2: TLS 1.2, %s, resumed: from a ticket, new ticket: yes\n" % SUITE in out, out
    if tlspeers.have("tshark"):
        assert re.search(r"  connection 1: ClientHello, ServerHello, Certificate, ServerKeyExchange, ServerHelloDone, "
                         r"ClientKeyExchange, NewSessionTicket: full\n", out), out
        assert ("tshark: the second connection's handshake is abbreviated: ClientHello, ServerHello, "
                "NewSessionTicket; no Certificate, ServerKeyExchange, ServerHelloDone, ClientKeyExchange\n") in out, out
    assert out.rstrip().endswith("the second connection resumed from the ticket: yes"), out
    assert "screenshot of the page: %s\n" % SHOT in out, out
    with open(SHOT, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1100, 200)
    # the board's server and tshark, stopped by their PIDs
    for pid in re.findall(r"pid (\d+)", out):
        assert not os.path.exists("/proc/%s" % pid), pid


def test_browser_section_without_chromium(mp, tmp_path):
    """No chromium on PATH: the section says so in one line, and the demo still succeeds."""
    proc = _demo("--browser-only", path=str(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "chromium is not installed: no browser (./run installs Debian's chromium)"
    assert "Traceback" not in proc.stderr
