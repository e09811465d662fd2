"""Headless Chromium (Debian's, --headless=new, the test CA trusted through an NSS db) opens the board's HTTPS
page: our `tls-server` with the test PKI's ECDSA P-256 or RSA leaf, on CPython and under MicroPython. The page
shows what its connection agreed and fetches /connection on a second connection (every answer closes its
connection): that one resumed from the ticket. Shown three ways: the DOM, the server's log lines, and a
tshark capture in which the second connection's handshake is abbreviated (ServerHello, NewSessionTicket,
ChangeCipherSpec, Finished: no Certificate, no key exchange). A screenshot is written."""

import re
import time

import pytest

import tlspeers as P
import webpeers as W

pytestmark = pytest.mark.interop

RUNTIMES = ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return W.make_pki(str(tmp_path_factory.mktemp("pki")))


@pytest.mark.parametrize("runtime,kind", [("cpython", "ec"), ("cpython", "rsa"),
                                          pytest.param("micropython", "ec", marks=pytest.mark.micropython)])
def test_chromium_opens_the_page_and_resumes(runtime, kind, pki, tmp_path):
    if W.chromium_bin() is None:
        pytest.skip("chromium not installed")
    if runtime == "micropython" and P.micropython_bin() is None:
        pytest.skip("micropython missing")
    cert, key = (pki.ec_cert, pki.ec_key) if kind == "ec" else (pki.rsa_cert, pki.rsa_key)
    srv = P.start_our_server(["--cert", cert, "--key", key], runtime)
    pcap = str(tmp_path / "browser.pcapng")
    cap = W.start_capture(srv.port, pcap) if P.have("tshark") else None
    shot = str(tmp_path / "page.png")
    try:
        r = W.chromium_fetch("https://localhost:%d/" % srv.port, pki.ca_pem, screenshot=shot, budget_ms=5000,
                             window_size=(900, 300))
        time.sleep(0.5)
    finally:
        log = srv.stop()
        if cap is not None:
            cap.stop()
    suite = "TLS_ECDHE_%s_WITH_AES_128_GCM_SHA256" % ("ECDSA" if kind == "ec" else "RSA")
    first = re.search(r"<b id=\"?first\"?>([^<]*)</b>", r.dom)
    second = re.search(r"<b id=\"?second\"?>([^<]*)</b>", r.dom)
    assert first and second, r.dom + r.log[-2000:] + log
    assert first.group(1) == "TLS 1.2, %s, resumed: no, new ticket: yes" % suite, r.dom
    assert second.group(1) == "TLS 1.2, %s, resumed: from a ticket, new ticket: yes" % suite, r.dom + log
    done = re.findall(r"connection \d+: TLS 1.2, (\S+), resumed: ([^,]+),", log)
    assert (suite, "no") in done and (suite, "from a ticket") in done, log
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    if cap is not None:
        hs = W.tls_handshakes(pcap)
        # a full handshake (Certificate), then the abbreviated one (RFC 5077 figure 2): ClientHello, ServerHello,
        # NewSessionTicket, and the Finished messages encrypted (not dissected without keys): no Certificate,
        # no key exchange
        full, resumed = W.full_handshakes(hs), W.ticket_resumptions(hs)
        assert full and resumed and min(full) < min(resumed), hs
