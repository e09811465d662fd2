"""Issue 5's flow on the virtual board, all real: deploy microticket (.mpy) -> import on the board -> the
board's TLS client resumes against an OpenSSL server on the host -> the board's IKE initiator resumes against
our gateway on the host -> the board "reboots" (vboard stop + start on the same flash directory) -> the TLS
ticket cache and the IKE ticket store survived, and both resume again. (The board's TLS *server* resuming an
OpenSSL client is the main job: tests/boards/test_demo.py.)"""

import os
import shutil
import subprocess
import sys

import pytest

import ikepeers
import tlspeers as P

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/
sys.path.insert(0, os.path.join(ROOT, "tools"))
import deploy  # noqa: E402
import vboard  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.interop,
              pytest.mark.skipif(not shutil.which("socat"), reason="socat not installed")]

IKE_PSK = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def on_board(dev, code, timeout=120):
    """Run code on the board (mpremote exec); returns its output."""
    r = subprocess.run([deploy.mpremote_bin(), "connect", dev, "resume", "exec", code], capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def board_cli(dev, sub, args):
    code = "from microticket.__main__ import main\nprint('exit', main(%r))\n" % ([sub] + list(args),)
    return on_board(dev, code)


def fields(text):
    return P.parse_client_output(text)


def test_board_resumes_tls_and_ike_across_a_reboot(tmp_path):
    d = str(tmp_path / "board")
    openssl = P.start_openssl_psk_server()
    tls_port = openssl.port
    gateway = ikepeers.GatewayProcess(["--psk", IKE_PSK, "--id", "gw", "--tickets", "value",
                                       "--keys", str(tmp_path / "gwkeys.json")]).start()
    tls_args = ["127.0.0.1", str(tls_port), "--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX,
                "--cache", "tls-cache.json", "--send", "ping"]
    ike_args = ["127.0.0.1", str(gateway.port), "--psk", IKE_PSK, "--id", "board-7", "--remote-id", "gw",
                "--store", "ike-store.json"]
    try:
        dev = vboard.start(d, heapsize="512k")
        deploy.deploy(dev, part="all", via="cp", mpy=True, log=lambda *a: None)
        assert "ok" in on_board(dev, "import microticket.tls.client, microticket.ike.initiator\nprint('ok')")

        first = fields(board_cli(dev, "tls-client", tls_args))
        second = fields(board_cli(dev, "tls-client", tls_args))
        assert first["resumed"] == "no" and first["ticket"] == "yes", first
        assert second["resumed"] == "yes", second

        full = board_cli(dev, "ike-initiate", ike_args)
        assert "established: full" in full and "ticket: lifetime" in full, full
        resumed = board_cli(dev, "ike-initiate", ike_args)
        assert "established: resumed" in resumed and "ticket: lifetime" in resumed, resumed

        # the board's flash is its directory: the cache and the store are files there
        assert os.path.exists(os.path.join(d, "tls-cache.json")) and os.path.exists(os.path.join(d, "ike-store.json"))
        vboard.stop(d)
        dev = vboard.start(d, heapsize="512k")  # reboot: new interpreter, same flash

        after = fields(board_cli(dev, "tls-client", tls_args))
        assert after["resumed"] == "yes", after
        again = board_cli(dev, "ike-initiate", ike_args)
        assert "established: resumed" in again, again
    finally:
        vboard.stop(d)
        openssl.stop()
        gateway.stop()
