"""`python -m microticket` / `micropython -m microticket`: the command table and the TLS commands' options
(every command's --help and error lines: tests/cli/test_cli.py)."""

import subprocess

import pytest

import tlspeers as P

RUNTIMES = ["cpython", pytest.param("micropython", marks=pytest.mark.micropython)]


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
