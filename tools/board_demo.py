"""The main job on the embedded default: a (virtual) board runs the microticket TLS server, OpenSSL connects
twice, and the board reports what each handshake cost it.

    python tools/board_demo.py [--device DEV] [--suite psk|ecdhe-psk|ecdhe-rsa ...] [--heapsize 256k] [--dir D] [--keep]
                                [--json RESULTS.json]  (rows for tools/plot_costs.py)

Without --device a virtual board is started (tools/vboard.py: the MicroPython unix port on a pty, its own
directory as flash) and stopped at the end. The library is put on the board as .mpy (tools/deploy.py, part
"tls"), the server program (tools/board_tls_server.py) is sent with `mpremote ... exec`, and `openssl
s_client` connects once (full handshake: the server issues an RFC 5077 ticket) and again with that session
(abbreviated handshake from the ticket: "Reused"). The board prints, per handshake, its CPU time inside the
TLS engine, the bytes it allocated (mem_total delta) and its live-heap peak; this tool prints the ratio.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import deploy  # noqa: E402
import vboard  # noqa: E402
import procs  # noqa: E402

PSK_ID = "board-demo"
SUITES = {"psk": "PSK-AES128-CBC-SHA256", "ecdhe-psk": "ECDHE-PSK-AES128-CBC-SHA256",
          "ecdhe-rsa": "ECDHE-RSA-AES128-SHA256"}
CERT, KEY = "demo_cert.pem", "demo_key.pem"  # on the board's flash (its working directory)


def s_client(port, psk_hex, cipher, sess_out=None, sess_in=None):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2", "-cipher", cipher]
    if "PSK" in cipher:
        cmd += ["-psk_identity", PSK_ID, "-psk", psk_hex]
    cmd += ["-sess_out", sess_out] if sess_out else ["-sess_in", sess_in]
    out = subprocess.run(cmd, input=b"hello board\n", capture_output=True, timeout=60)
    return out.stdout.decode("utf-8", "replace")


def run(device, suite="psk", log=print):
    cipher = SUITES[suite]
    psk_hex = os.urandom(16).hex()
    with open(os.path.join(ROOT, "tools", "board_tls_server.py")) as f:
        server = f.read()
    mpremote = deploy.mpremote_bin()

    def start(port):
        """The board's server on ``port``, told through CONFIG; ready when it prints "listening" (a probe
        connection would be served as a handshake). A port it cannot bind ends its program with
        EADDRINUSE: PortInUse, and procs.on_free_port tries another."""
        config = {"port": port, "identity": PSK_ID, "psk": psk_hex, "count": 2, "max_record": 2048}
        if suite == "ecdhe-rsa":
            config.update(cert=CERT, key=KEY)
        board = subprocess.Popen([mpremote, "connect", device, "resume", "exec",
                                  "CONFIG = %s\n%s" % (json.dumps(config), server)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen = []
        end = time.time() + 60
        while time.time() < end and not (seen and "listening" in seen[-1]):
            seen.append(board.stdout.readline())
            if not seen[-1] and board.poll() is not None:
                break
        if "listening" in seen[-1]:
            return board, port
        if board.poll() is None:
            board.kill()
        out = "".join(seen) + (board.stdout.read() or "")
        board.wait()
        if procs.ADDR_IN_USE.search(out):
            raise procs.PortInUse(out)
        raise SystemExit("the board did not start its server: " + out)

    board, port = procs.on_free_port(start)
    try:
        sess = os.path.join(tempfile.mkdtemp(prefix="mt-demo-"), "sess.pem")
        first = s_client(port, psk_hex, cipher, sess_out=sess)
        second = s_client(port, psk_hex, cipher, sess_in=sess)
        out, _ = board.communicate(timeout=60)
    finally:
        if board.poll() is None:
            board.kill()
            board.wait()
    rows = []
    for line in out.splitlines():
        p = line.split()
        if p and p[0] == "handshake":
            rows.append({"kind": p[1], "cpu_us": int(p[3]), "alloc": int(p[5]), "live_peak": int(p[7]),
                         "suite": p[9], "ticket_issued": p[11] == "True"})
    heap_line = [l for l in out.splitlines() if l.startswith("heap after")]
    return {"rows": rows, "openssl_first_new": "New, " in first, "openssl_second_reused": "Reused, " in second,
            "heap_after": heap_line[0] if heap_line else "", "board_output": out}


def put_certificate(device):
    """A fresh self-signed RSA-2048 certificate and key, copied to the board's flash."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "microticket board")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    d = tempfile.mkdtemp(prefix="mt-demo-cert-")
    with open(os.path.join(d, CERT), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(d, KEY), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    for name in (CERT, KEY):
        deploy.mpremote(device, ["fs", "cp", os.path.join(d, name), ":" + name])


def report(res, log=print):
    log("%-10s %-38s %12s %14s %14s %8s" % ("handshake", "suite", "server CPU", "allocated", "heap peak",
                                            "ticket"))
    for r in res["rows"]:
        log("%-10s %-38s %9.2f ms %12d B %12d B %8s" % (r["kind"], r["suite"], r["cpu_us"] / 1000.0, r["alloc"],
                                                        r["live_peak"], "issued" if r["ticket_issued"] else "-"))
    full = [r for r in res["rows"] if r["kind"] == "full"]
    resumed = [r for r in res["rows"] if r["kind"] == "resumed"]
    if full and resumed:
        log("ratio full / resumed: CPU %.1fx, allocated %.1fx"
            % (full[0]["cpu_us"] / max(1, resumed[0]["cpu_us"]), full[0]["alloc"] / max(1, resumed[0]["alloc"])))
    log("(allocated: mem_total delta over the handshake; heap peak: highest gc.mem_alloc() above the start,\n"
        " garbage not yet collected included)")
    log("openssl: first connection New (ticket received): %s; second Reused: %s"
        % (res["openssl_first_new"], res["openssl_second_reused"]))
    if res["heap_after"]:
        log("board " + res["heap_after"])


def main(argv):
    device = None
    suites = []
    heapsize = "256k"
    keep = "--keep" in argv
    json_out = None
    board_dir = os.path.join(ROOT, "dist", "demo-board")
    i = 0
    while i < len(argv):
        if argv[i] == "--device":
            device = argv[i + 1]
            i += 1
        elif argv[i] == "--suite":
            suites.append(argv[i + 1])
            i += 1
        elif argv[i] == "--json":
            json_out = argv[i + 1]
            i += 1
        elif argv[i] == "--dir":
            board_dir = argv[i + 1]
            i += 1
        elif argv[i] == "--heapsize":
            heapsize = argv[i + 1]
            i += 1
        i += 1
    suites = suites or ["psk", "ecdhe-psk", "ecdhe-rsa"]
    started = None
    if device is None:
        started = board_dir
        print("starting a virtual board in %s (heap %s)" % (started, heapsize))
        device = vboard.start(started, heapsize=heapsize)
    try:
        print("deploying microticket (part tls, .mpy) to", device)
        deploy.deploy(device, part="tls", via="cp", mpy=True, log=lambda *a: None)
        if "ecdhe-rsa" in suites:
            put_certificate(device)
        ok = True
        plot_rows = []
        for suite in suites:
            print()
            print("== board TLS server, %s; OpenSSL s_client connects twice" % SUITES[suite])
            res = run(device, suite)
            report(res)
            ok = ok and res["openssl_second_reused"] and len(res["rows"]) == 2
            cpu = dict((r["kind"], r["cpu_us"] / 1000.0) for r in res["rows"])
            if "full" in cpu and "resumed" in cpu:
                plot_rows.append({"name": "TLS server " + suite.upper(), "full": cpu["full"],
                                  "resumed": cpu["resumed"]})
        if json_out:
            with open(json_out, "w") as f:
                json.dump({"title": "Board TLS server CPU per handshake (MicroPython unix port, .mpy)",
                           "unit": "ms", "rows": plot_rows}, f, indent=1)
        return 0 if ok else 1
    finally:
        if started and not keep:
            vboard.stop(started)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
