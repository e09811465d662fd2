"""The main job's browser: headless Chromium opens the board's HTTPS page, and its second connection resumes
from the ticket the first one got.

    python tools/browser_demo.py [--out DIR]     (the screenshot: DIR/board-page.png; default dist/)

A test PKI (tests/webpeers.make_pki: a root CA and an ECDSA P-256 leaf for localhost, made with openssl); our
``tls-server`` under MicroPython (the unix port: the board) with that leaf; tshark capturing the port on
loopback; Debian's ``chromium --headless=new``, the test CA trusted through an NSS db made by certutil, opens
https://localhost:PORT/ in one browser process: the page shows what its connection agreed and fetches
/connection on a second connection (every answer closes its connection), which shows that it resumed.
Printed: the page's two lines from the DOM, the server's line per connection, and what tshark saw of each
handshake (the abbreviated one: ClientHello, ServerHello, NewSessionTicket; no Certificate, no key exchange).

A missing tool (openssl, micropython, chromium, certutil, tshark) costs one line and its part, never a
traceback; every wait is bounded and every process started here is stopped by its PID. Exit status 1 when
the browser ran but the page, the server or the capture does not show the resumption.
"""

import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (os.path.join(ROOT, "tools"), os.path.join(ROOT, "tests")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import tlspeers  # noqa: E402 (tests/: our server's command line)
import webpeers  # noqa: E402 (tests/: the test PKI, Chromium with an NSS db, the tshark helpers)

OUT_DIR = os.path.join(ROOT, "dist")  # where tools/demo.py writes its plot (costs.png)
SCREENSHOT = "board-page.png"
TICKET = "resumed: from a ticket"
# what can go wrong with a tool outside Python: one line each (webpeers.Missing: a tool not installed)
_FAILURES = (webpeers.Missing, RuntimeError, OSError, subprocess.SubprocessError)


def _why(e):
    text = str(getattr(e, "msg", None) or e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _names(types):
    return ", ".join(tlspeers.HS_NAMES.get(t, str(t)) for t in types)


def page_lines(dom):
    """The page's text lines (its <p> elements) from Chromium's --dump-dom."""
    return [html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()
            for m in re.finditer(r"<p[^>]*>(.*?)</p>", dom, re.S)]


def run(out_dir, log=print):
    """The section; returns 0 (shown, or skipped for a missing tool) or 1 (the resumption not shown)."""
    if webpeers.chromium_bin() is None:
        log("chromium is not installed: no browser (./run installs Debian's chromium)")
        return 0
    if tlspeers.micropython_bin() is None:
        log("micropython is not installed: no board to open")
        return 0
    tmp = tempfile.mkdtemp(prefix="mt-demo-browser-")
    try:
        return _run(out_dir, tmp, log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(out_dir, tmp, log):
    try:
        pki = webpeers.make_pki(os.path.join(tmp, "pki"))
    except _FAILURES as e:
        log("no test PKI: %s" % _why(e))
        return 0 if isinstance(e, webpeers.Missing) else 1
    log("test PKI (openssl): a root CA, an ECDSA P-256 leaf for localhost and 127.0.0.1")
    try:
        # TLS 1.2: tshark shows its abbreviated handshake in clear (a TLS 1.3 resumption is encrypted after
        # the ServerHello)
        srv = tlspeers.start_our_server(["--cert", pki.ec_cert, "--key", pki.ec_key, "--max-version", "1.2"],
                                        "micropython")
    except _FAILURES as e:
        log("the board's tls-server did not start: %s" % _why(e))
        return 1
    url = "https://localhost:%d/" % srv.port
    log("the board: micropython -m microticket tls-server --cert ec.pem --key ec.key --max-version 1.2, pid %d, %s"
        % (srv.pid, url))
    cap, pcap = None, os.path.join(tmp, "browser.pcapng")
    try:
        if not tlspeers.have("tshark"):
            log("tshark is not installed: no capture")
        else:
            cap = webpeers.start_capture(srv.port, pcap)
            if cap is None:
                log("tshark cannot capture on lo: %s" % (webpeers.start_capture.why.splitlines() or ["?"])[-1])
            else:
                log("tshark: capturing tcp port %d on lo, pid %d" % (srv.port, cap.pid))
        os.makedirs(out_dir, exist_ok=True)
        shot = os.path.join(out_dir, SCREENSHOT)
        if os.path.exists(shot):
            os.unlink(shot)  # a screenshot left from an earlier run must not pass for this one's
        log("chromium --headless=new (the test CA in an NSS db made by certutil) opens the page, one process")
        try:
            r = webpeers.chromium_fetch(url, pki.ca_pem, screenshot=shot, budget_ms=5000, window_size=(1100, 200),
                                        timeout=45, tmp=os.path.join(tmp, "chromium"))
        except _FAILURES as e:
            log("chromium could not run: %s" % _why(e))
            return 0 if isinstance(e, webpeers.Missing) else 1
        time.sleep(0.5)  # the server's line for the last connection
    finally:
        server_log = srv.stop()
        if cap is not None:
            webpeers.stop_capture(cap, pcap, lambda hs: webpeers.full_handshakes(hs) and
                                  webpeers.ticket_resumptions(hs))
    ok = True
    lines = page_lines(r.dom)
    log("the page (DOM):")
    for line in lines or ["(no page: chromium rc %s) %s" % (r.rc, " ".join(r.log.strip().splitlines()[-1:]))]:
        log("  " + line)
    ok = ok and len(lines) == 2 and TICKET in lines[1] and "resumed: no" in lines[0]
    if os.path.exists(shot):
        log("screenshot of the page: %s" % shot)
    else:
        log("no screenshot written")
        ok = False
    conns = [l for l in server_log.splitlines() if l.startswith("connection ")]
    log("the board's server, a line per connection (a third one, if any: Chromium's /favicon.ico):")
    for line in conns or ["(none) " + server_log.strip()[-300:]]:
        log("  " + line)
    ok = ok and any(TICKET in l for l in conns)
    if cap is not None:
        ok = _verdict(pcap, log) and ok
    log("the second connection resumed from the ticket: %s" % ("yes" if ok else "NOT SHOWN"))
    return 0 if ok else 1


def _verdict(pcap, log):
    """What tshark saw of each connection's handshake, and whether the second one was abbreviated."""
    try:
        hs = webpeers.tls_handshakes(pcap, timeout=60)
    except _FAILURES as e:
        log("tshark could not read its capture: %s" % _why(e))
        return False
    full, short = webpeers.full_handshakes(hs), webpeers.ticket_resumptions(hs)
    log("tshark, the handshake messages in clear per connection (Finished is encrypted):")
    for n, stream in enumerate(sorted(hs), 1):
        kind = "full" if stream in full else "abbreviated, from the ticket" if stream in short else "?"
        log("  connection %d: %s: %s" % (n, _names(hs[stream]), kind))
    order = sorted(hs)
    ok = len(order) >= 2 and order[0] in full and order[1] in short
    if ok:
        log("tshark: the second connection's handshake is abbreviated: %s; no %s"
            % (_names(hs[order[1]]), _names(webpeers.FULL_ONLY)))
    else:
        log("tshark: the second connection's handshake is NOT the abbreviated one")
    return ok


def main(argv):
    out_dir = OUT_DIR
    if "--out" in argv:
        out_dir = argv[argv.index("--out") + 1]
    return run(out_dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
