"""tshark (Wireshark 4.x) dissects what we put on the wire: IKE_SESSION_RESUME (38) and the RFC 5723 notifies by
name, the encrypted payloads decrypted with our debug key dump (ICVs shown as correct), no malformed packet."""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import ikepeers

pytestmark = [pytest.mark.interop]

from consts import IKE_PSK_HEX as PSK


def _capture(port, path):
    p = subprocess.Popen(["tshark", "-i", "lo", "-f", "udp port %d" % port, "-w", path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    end = time.time() + 20
    while time.time() < end:
        line = p.stderr.readline()
        if "Capturing on" in line or not line:
            break
    return p


def _stop(p):
    time.sleep(0.5)
    os.kill(p.pid, signal.SIGTERM)
    p.wait(10)
    p.stderr.close()


def _keys(stdout):
    return dict(l.split()[1:3] for l in stdout.splitlines() if l.startswith("key: "))


def test_tshark_dissects_resumption(tmp_path):
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    gw = ikepeers.GatewayProcess(["--psk", PSK, "--id", "gw.example"])
    gw.start()
    pcap = str(tmp_path / "ike.pcap")
    store = str(tmp_path / "s.json")
    cap = _capture(gw.port, pcap)
    runs = []
    try:
        args = ["127.0.0.1", str(gw.port), "--psk", PSK, "--id", "client.example", "--remote-id", "gw.example",
                "--store", store, "--debug-keys"]
        for _ in range(2):  # full, then resumed
            r = ikepeers.run_initiator(args)
            assert r.returncode == 0, r.stdout
            runs.append(_keys(r.stdout))
        saved = open(store).read()
        r = ikepeers.run_initiator(args)  # resumed again; the used ticket is then put back
        runs.append(_keys(r.stdout))
        with open(store, "w") as f:
            f.write(saved)
        r = ikepeers.run_initiator(args)
        assert "established: full (resume failed: TICKET_NACK)" in r.stdout
    finally:
        _stop(cap)
        gw.stop()
    cmd = ["tshark", "-r", pcap, "-d", "udp.port==%d,udpencap" % gw.port, "-V"]
    for k in runs:
        cmd += ["-o", 'uat:ikev2_decryption_table:%s,%s,%s,%s,"AES-CBC-128 [RFC3602]",%s,%s,'
                      '"HMAC_SHA2_256_128 [RFC4868]"' % (k["SPIi"], k["SPIr"], k["SK_ei"], k["SK_er"], k["SK_ai"],
                                                         k["SK_ar"])]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    assert "Malformed" not in out and "[incorrect]" not in out
    assert out.count("Exchange type: IKE_SESSION_RESUME (38)") == 6  # 3 requests + 2 answers + 1 NACK
    assert "Notify Message Type: TICKET_OPAQUE (16413)" in out
    assert "Notify Message Type: TICKET_NACK (16412)" in out  # the unprotected refusal
    # inside SK{}, decrypted with our keys: the request and the ticket with its lifetime
    assert out.count("Notify Message Type: TICKET_REQUEST (16410)") >= 3
    assert out.count("Notify Message Type: TICKET_LT_OPAQUE (16409)") >= 3
    assert "TICKET OPAQUE Lifetime: 3600" in out
    assert len(re.findall(r"HMAC_SHA2_256_128 \[RFC4868\]>\[correct\]", out)) >= 6
    errs = subprocess.run(["tshark", "-r", pcap, "-d", "udp.port==%d,udpencap" % gw.port, "-Y",
                           "_ws.malformed || _ws.expert.severity == error"], capture_output=True, text=True)
    assert errs.stdout.strip() == ""
