"""`python -m microticket` / `micropython -m microticket`: the command table and the TLS commands' options
(every command's --help and error lines: tests/cli/test_cli.py)."""

import subprocess

import pytest

import tlspeers as P

RUNTIMES = P.runtimes()


def run(runtime, args):
    if runtime == "micropython" and P.micropython_bin() is None:
        pytest.skip("micropython missing")
    exe = [P.micropython_bin()] if runtime == "micropython" else [P.sys.executable]
    return subprocess.run(exe + ["-m", "microticket"] + args, capture_output=True, text=True, timeout=60,
                          env=P.our_env(runtime))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_usage_and_bad_arguments(runtime):
    r = run(runtime, [])
    assert r.returncode == 2 and "tls-client" in r.stderr and "tls-server" in r.stderr and not r.stdout
    r = run(runtime, ["tls-client", "127.0.0.1"])
    assert r.returncode == 2 and r.stderr == "error: need HOST PORT (got 1 argument(s))\n"
    r = run(runtime, ["tls-client", "127.0.0.1", "1", "--bogus"])
    assert r.returncode == 2 and r.stderr == "error: unknown option --bogus\n"
    r = run(runtime, ["tls-server", "--port", "1"])
    assert r.returncode == 2 and r.stderr == "error: need --psk or --cert/--key\n"


def test_dispatcher_table_imports_lazily():
    import microticket.__main__ as m
    import sys
    assert set(m.COMMANDS) >= {"tls-server", "tls-client"}
    for mod, fn in m.COMMANDS.values():
        assert isinstance(mod, str) and isinstance(fn, str)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_client_against_our_server_with_reissue_never(runtime, tmp_path):
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--reissue", "never"],
                             runtime)
    port = srv.port
    cache = str(tmp_path / "c.json")
    args = ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--cache", cache, "--send", "ping"]
    try:
        outs = [P.parse_client_output(P.run_our_client(port, args, runtime).stdout) for _ in range(3)]
    finally:
        log = srv.stop()
    assert [o.get("resumed") for o in outs] == ["no", "yes", "yes"], log
    assert [o.get("ticket") for o in outs] == ["yes", "no", "no"]
    assert all(o.get("reply") == "ping" for o in outs)


def _talk(port, pieces):
    """Our client in-process over a socket: each piece sent as records of its own (a write each), then
    everything the server sends until it closes or goes quiet."""
    import socket
    from microticket.tls import driver
    from microticket.tls.client import Client
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    c = Client("srv", P.PSK_IDENTITY, P.PSK)
    c.start(driver.wall_clock())
    assert driver.run_handshake(s, c)
    got = b""
    for p in pieces:
        driver.write_app(s, c, p)
    s.settimeout(2)
    while not c.closed:
        data = driver.read_app(s, c)
        if not data:
            break
        got += data
    s.close()
    return got


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_http_answer_waits_for_the_whole_header_and_echo_ignores_records(runtime):
    """The command's responder: a GET whose header comes in several records (split even inside "GET ")
    is answered once, when the header is complete; an echo returns everything, whatever the records."""
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX], runtime)
    try:
        page = _talk(srv.port, [b"GE", b"T / HTTP/1.0\r\nHost: board\r\n", b"\r\n"])
        echo = _talk(srv.port, [b"G", b"ood ", b"morning"])
    finally:
        srv.stop()
    assert page.count(b"HTTP/1.0 200 OK") == 1 and page.endswith(b"</html>\r\n"), page
    assert echo == b"Good morning", echo


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_echo_of_many_records_arriving_at_once(runtime):
    """200 KB sent in one go (13 full records, several of them in one read of the server's socket) come back
    whole: every record's reply leaves the output buffer before the next record is answered."""
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX], runtime)
    data = bytes(range(256)) * 800
    try:
        got = _talk(srv.port, [data])
    finally:
        log = srv.stop()
    assert got == data, (len(got), log[-2000:])


# --- many clients at once, deadlines, a bound (issue 14, item 1) ------------------------------------------

@pytest.mark.interop
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_slow_and_idle_clients_do_not_keep_others_out(runtime, tmp_path):
    """While 50 connections sit idle and 5 send their ClientHello a byte every 0.4 s, openssl s_client
    completes a handshake and then resumes from its ticket: the server serves connections at once, each
    with its own deadline, instead of one after another."""
    import socket
    import threading
    import time
    if not P.have("openssl"):
        pytest.skip("openssl missing")
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--timeout", "30",
                              "--max-record", "2048"], runtime)
    held, stop = [], threading.Event()
    hello = bytes([22, 3, 3, 0, 60, 1, 0, 0, 56]) + bytes(56)

    def dribble(sock):
        for b in hello:
            if stop.is_set():
                return
            try:
                sock.send(bytes([b]))
            except OSError:
                return
            time.sleep(0.4)
    try:
        for i in range(55):
            held.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
        threads = [threading.Thread(target=dribble, args=(s,), daemon=True) for s in held[50:]]
        for t in threads:
            t.start()
        time.sleep(0.5)
        sess = str(tmp_path / "s.pem")
        t0 = time.time()
        first = P.run_openssl_psk_client(srv.port, sess_out=sess, data=b"hello\n", timeout=20)
        second = P.run_openssl_psk_client(srv.port, sess_in=sess, data=b"hello\n", timeout=20)
        spent = time.time() - t0
    finally:
        stop.set()
        for s in held:
            s.close()
        log = srv.stop()
    assert b"New, TLSv1.2" in first.stdout or b"New, " in first.stdout, first.stdout.decode() + log
    assert b"Reused, " in second.stdout, second.stdout.decode() + log
    assert spent < 15, spent


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_idle_connections_meet_their_deadline_and_the_excess_is_refused_at_once(runtime):
    """--timeout 2: a connection that sends nothing is closed after about 2 s. --max-connections 2: with
    two held, a third is closed at once (not queued) and the server says so in one line."""
    import socket
    import time
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--timeout", "2",
                              "--max-connections", "2"], runtime)
    try:
        a = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        b = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        time.sleep(0.3)
        t0 = time.time()
        c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        assert c.recv(10) == b"" and time.time() - t0 < 1.5  # refused at once
        c.close()
        assert a.recv(10) == b"" and 1 < time.time() - t0 < 6  # a's handshake deadline
        a.close()
        b.close()
    finally:
        log = srv.stop()
    assert "connection 1: refused (2 being served, no room for more)" in log, log


# --- several processes on one port (issue 15, throughput) ---------------------------------------------------

def test_reuse_port_processes_resume_each_others_tickets(tmp_path):
    """Two `tls-server --reuse-port` processes on one port with one key file: the kernel gives each connection
    to one of them, and a client resumes at whichever answers, from a ticket the other one sealed. Which
    process served a connection is read from the processes' own lines (one per connection, printed when it
    ends), so the test knows, connection by connection, who sealed the ticket offered and who opened it."""
    import re
    import socket
    import time
    from microticket.tls import driver
    from microticket.tls.cache import TicketCache
    keys = str(tmp_path / "keys.json")
    args = ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--keys", keys, "--max-version", "1.2",
            "--reuse-port"]
    a = P.start_our_server(args)
    try:
        b = P.Peer(P.our_cmd("cpython", "tls-server", ["--port", str(a.port)] + args), a.port,
                   env=P.our_env("cpython"))
    except Exception:
        a.stop()
        raise
    cache = TicketCache()
    seen = [0, 0]  # connection lines of a and b so far

    def served_by():
        # the process whose line count grew by one (bounded wait: the line follows the close)
        end = time.time() + 10
        while time.time() < end:
            n = [len(re.findall(r"^connection \d+: ", p.output(), re.M)) for p in (a, b)]
            if sum(n) == sum(seen) + 1:
                who = 0 if n[0] > seen[0] else 1
                seen[:] = n
                line = re.findall(r"^connection \d+: .*$", (a, b)[who].output(), re.M)[-1]
                return who, line
            time.sleep(0.02)
        raise AssertionError("no line for the connection: %s %s" % (a.output(), b.output()))

    crossed = []
    try:
        issuer = None
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
            c = P.psk_client(cache=cache, server_id="fleet:443")
            c.start(driver.wall_clock())
            assert driver.run_handshake(s, c)
            driver.write_app(s, c, b"ping %d" % i)
            assert driver.read_app(s, c) == b"ping %d" % i
            driver.close(s, c)
            who, line = served_by()
            assert ("resumed: from a ticket" in line) == (i > 0) == c.resumed, line
            assert "new ticket: yes" in line, line
            if i and who != issuer:
                crossed.append(i)
            issuer = who  # the ticket this connection issued, sealed by the process that served it
            if len(crossed) >= 2 and seen[0] and seen[1]:
                break
    finally:
        outs = a.stop(), b.stop()
    assert len(crossed) >= 2, outs  # two resumptions opened by the other process (2^-39 to miss by chance)
    assert all("listening on 127.0.0.1:%d" % a.port in o for o in outs)


def test_reuse_port_on_micropython_is_one_error_line():
    """MicroPython's socket module has no SO_REUSEPORT: --reuse-port is refused in one line."""
    r = run("micropython", ["tls-server", "--port", "0", "--psk", P.PSK_HEX, "--reuse-port"])
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "error: --reuse-port: this runtime's socket module has no SO_REUSEPORT\n"


def test_fleet_loop_lines_are_the_commands_lines(capsys):
    """The epoll loop (microticket.fleet.serve) writes its connections' lines itself, several with one write:
    each is the line microticket.cli.tls_server._report prints for the same engine (full, resumed, an alert
    sent, neither)."""
    from microticket import ticket
    from microticket.cli import tls_server
    from microticket.fleet import serve
    from microticket.tls.alerts import ALERT_NAMES
    from microticket.tls.cache import TicketCache
    ring = ticket.KeyRing.generate(1000)
    cache = TicketCache()
    engines = []
    for _ in range(2):  # a full handshake, then resumed from its ticket
        c, s = P.pump(P.psk_client(cache=cache), P.psk_server(ring))
        assert s.handshake_done
        engines.append(s)
    assert engines[1].resumed
    bad = P.psk_server(ring)
    bad.receive_data(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 1000)  # a ClientHello too short: an alert
    assert bad.alert_sent is not None
    engines += [bad, P.psk_server(ring)]  # the last: nothing happened (no line)
    for n, s in enumerate(engines, 1):
        tls_server._report(n, s, ALERT_NAMES)
        assert capsys.readouterr().out == serve._line(n, s, tls_server._agreed)
    assert serve._line(4, engines[3], tls_server._agreed) == ""
