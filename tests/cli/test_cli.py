"""The command line (microticket.cli) on CPython and MicroPython: --help and -h on the top level and on
every command (usage on stdout, exit 0), exactly one line ``error: ...`` on stderr for every bad argument
(exit 2) and for an unreadable or damaged file (exit 1), never a traceback; --port 0 binds a free port and
names it in the first line; the parser's typed values in-process."""

import os
import socket
import subprocess
import sys

import pytest

import tlspeers as P
from microticket.cli import parse

RUNTIMES = P.runtimes()
COMMANDS = ["tls-server", "tls-client", "keys", "ike-gateway", "ike-initiate"]


def run(runtime, args, cwd=None, timeout=60):
    if runtime == "micropython" and P.micropython_bin() is None:
        pytest.skip("micropython missing")
    exe = [P.micropython_bin()] if runtime == "micropython" else [sys.executable]
    return subprocess.run(exe + ["-m", "microticket"] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=P.our_env(runtime), cwd=cwd)


def one_error_line(r, status, text):
    assert r.returncode == status, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: ") and text in r.stderr, r.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_everywhere(runtime, flag):
    top = run(runtime, [flag])
    assert top.returncode == 0 and top.stdout.startswith("usage: python -m microticket COMMAND") and not top.stderr
    for c in COMMANDS:
        assert c in top.stdout
        r = run(runtime, [c, flag])
        assert r.returncode == 0 and not r.stderr, (c, r.stderr)
        assert r.stdout.startswith("usage: " + c) and len(r.stdout.splitlines()) > 5, r.stdout
    # --help wins wherever it stands, even after a bad option; `ike-initiate logout --help` too
    r = run(runtime, ["tls-client", "--bogus", flag])
    assert r.returncode == 2 and r.stderr == "error: unknown option --bogus\n"
    r = run(runtime, ["tls-client", "host", flag, "--bogus"])
    assert r.returncode == 0 and r.stdout.startswith("usage: tls-client")
    r = run(runtime, ["ike-initiate", "logout", flag])
    assert r.returncode == 0 and "ike-initiate logout --store FILE" in r.stdout


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_port_zero_is_documented(runtime):
    for c in ("tls-server", "ike-gateway"):
        assert "0 binds a free port, and the first line names the port bound" in run(runtime, [c, "-h"]).stdout


PSK = ["--psk", "00112233"]
USAGE_ERRORS = [
    ([], "no command (commands: ike-gateway, ike-initiate, keys, tls-client, tls-server"),
    (["frob"], "unknown command 'frob'"),
    # tls-server
    (["tls-server"] + PSK, "need --port"),
    (["tls-server", "--port", "1"], "need --psk or --cert/--key"),
    (["tls-server", "--port", "http"] + PSK, "--port must be a number 0..65535, not 'http'"),
    (["tls-server", "--port", "70000"] + PSK, "--port must be a number 0..65535, not '70000'"),
    (["tls-server", "--port", "1", "--psk", "xyz"], "--psk must be hex digits, not 'xyz'"),
    (["tls-server", "--port", "1", "--psk", ""], "--psk must be hex digits, not ''"),
    (["tls-server", "--port", "1", "--psk"], "option --psk needs a value"),
    (["tls-server", "--port", "1", "--max-record", "100"] + PSK, "--max-record must be a number 512..16384"),
    (["tls-server", "--port", "1", "--reissue", "sometimes"] + PSK, "--reissue must be always, renew or never"),
    (["tls-server", "--port", "1", "--verbose"] + PSK, "unknown option --verbose"),
    (["tls-server", "--port", "1", "-v"] + PSK, "unknown option -v"),
    (["tls-server", "--port", "1", "extra"] + PSK, "unexpected argument 'extra'"),
    # tls-client
    (["tls-client", "h"] + PSK, "need HOST PORT (got 1 argument(s))"),
    (["tls-client", "h", "https"] + PSK, "PORT must be a number 1..65535, not 'https'"),
    (["tls-client", "h", "1"], "need --psk, --pin-sha256 or --ca-file"),
    (["tls-client", "h", "1", "--psk", "0g"], "--psk must be hex digits, not '0g'"),
    (["tls-client", "h", "1", "--pin-sha256", "00" * 31], "--pin-sha256 must be 64 hex digits"),
    (["tls-client", "h", "1", "--mfl", "5"] + PSK, "--mfl must be a number 1..4, not '5'"),
    (["tls-client", "h", "1", "--timeout", "soon"] + PSK, "--timeout must be a number 1..86400, not 'soon'"),
    (["tls-client", "h", "1", "--cache", "c.json", "--psk"], "option --psk needs a value"),
    (["tls-client", "h", "1", "--no-such"] + PSK, "unknown option --no-such"),
    # keys
    (["keys"], "need new|rotate|show KEYFILE (got 0 argument(s))"),
    (["keys", "make", "k.json"], "unknown action 'make' (new, rotate or show)"),
    (["keys", "new", "k.json", "--profile", "rfc9999"], "--profile must be rfc5077 or draft07"),
    (["keys", "new", "k.json", "--lifetime", "-5"], "--lifetime must be a number 1..1000000000, not '-5'"),
    (["keys", "new", "k.json", "--lifetime"], "option --lifetime needs a value"),
    (["keys", "show", "k.json", "--lifetime", "5"], "--profile and --lifetime are for keys new"),
    # ike-gateway
    (["ike-gateway", "--psk", "00", "--id", "gw"], "need --port"),
    (["ike-gateway", "--port", "500", "--id", "gw"], "need --psk"),
    (["ike-gateway", "--port", "isakmp", "--psk", "00", "--id", "gw"], "--port must be a number 0..65535"),
    (["ike-gateway", "--port", "500", "--psk", "0", "--id", "gw"], "--psk must be hex digits, not '0'"),
    (["ike-gateway", "--port", "500", "--psk", "00", "--id", "gw", "--tickets", "both"],
     "--tickets must be value or reference"),
    (["ike-gateway", "--port", "500", "--psk", "00", "--id", "gw", "--lifetime", "0"],
     "--lifetime must be a number 1..1000000000, not '0'"),
    (["ike-gateway", "--port", "500", "--psk", "00", "--id", "gw", "--ticket-policy", "maybe"],
     "--ticket-policy must be issue, ack or nack"),
    # ike-initiate
    (["ike-initiate", "h", "500", "--psk", "zz", "--id", "a", "--store", "s"], "--psk must be hex digits"),
    (["ike-initiate", "h", "ike", "--psk", "00", "--id", "a", "--store", "s"], "PORT must be a number 1..65535"),
    (["ike-initiate", "h", "500", "--psk", "00", "--id", "a"], "need --store"),
    (["ike-initiate", "h", "500", "--psk", "00", "--store", "s"], "need --id"),
    (["ike-initiate", "h", "500", "--psk", "00", "--id", "a", "--store", "s", "--group", "19"],
     "--group and --groups offer 14 or 31"),
    (["ike-initiate", "h", "500", "--psk", "00", "--id", "a", "--store", "s", "--groups", "31,x"],
     "--group and --groups offer 14 or 31"),
    (["ike-initiate", "h", "500", "--psk", "00", "--id", "a", "--store", "s", "--auth-mode", "sloppy"],
     "--auth-mode must be signed or message"),
    (["ike-initiate", "h", "500", "--psk", "00", "--id", "a", "--store", "s", "--timeout", "1.5x"],
     "--timeout must be a number 1..86400"),
    (["ike-initiate", "logout"], "need --store"),
    (["ike-initiate", "logout", "--store", "s", "--psk", "00"], "unknown option --psk"),
    (["ike-initiate", "h"], "need HOST PORT (got 1 argument(s))"),
]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_bad_argument_is_one_error_line(runtime, tmp_path):
    for args, text in USAGE_ERRORS:
        r = run(runtime, args, cwd=str(tmp_path))
        one_error_line(r, 2, text)
        assert not r.stdout, (args, r.stdout)
    assert os.listdir(str(tmp_path)) == []  # nothing was written by a refused command


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unreadable_or_damaged_files_are_one_error_line(runtime, tmp_path):
    d = str(tmp_path)
    missing = os.path.join(d, "missing.pem")
    garbage = os.path.join(d, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("not a PEM file\n")
    damaged = os.path.join(d, "keys.json")
    with open(damaged, "w") as f:
        f.write('{"format": ')
    nodir = os.path.join(d, "no", "such", "dir", "k.json")
    import time
    from microticket import keyfile
    from microticket.ticket import KeyRing
    future = os.path.join(d, "future.json")
    with open(future, "w") as f:
        f.write(keyfile.dumps(KeyRing.generate(int(time.time()) + 3600)))  # a clock an hour fast
    cases = [
        (["keys", "show", future], future + ": key file: a key created in the future"),
        (["tls-server", "--port", "0", "--keys", future] + PSK, "--keys " + future + ": key file: a key created"),
        (["tls-server", "--port", "0", "--cert", missing], "--cert " + missing + ": "),
        (["tls-client", "127.0.0.1", "1", "--ca-file", missing], "--ca-file " + missing + ": "),
        (["tls-server", "--port", "0", "--cert", garbage, "--key", garbage], "--cert " + garbage + ": "),
        (["tls-server", "--port", "0", "--keys", damaged] + PSK, "--keys " + damaged + ": key file: not JSON"),
        (["tls-server", "--port", "0", "--keys", nodir] + PSK, "--keys " + nodir + ": "),
        (["keys", "show", missing], missing + ": "),
        (["keys", "rotate", damaged], damaged + ": key file: not JSON"),
        (["keys", "new", nodir], nodir + ": "),
        (["ike-gateway", "--port", "0", "--psk", "00", "--id", "gw", "--keys", damaged],
         "--keys " + damaged + ": key file: not JSON"),
        (["ike-gateway", "--port", "0", "--psk", "00", "--id", "gw", "--keys", nodir], "--keys " + nodir + ": "),
    ]
    for args, text in cases:
        one_error_line(run(runtime, args), 1, text)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_network_failures_are_one_error_line(runtime):
    # a port bound but never listening: a connection is refused, a server cannot bind it
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    try:
        r = run(runtime, ["tls-client", "127.0.0.1", str(port)] + PSK)
        one_error_line(r, 1, "127.0.0.1:%d: " % port)
        r = run(runtime, ["tls-server", "--port", str(port)] + PSK)  # in use
        one_error_line(r, 1, "127.0.0.1:%d: " % port)
    finally:
        s.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_port_zero_binds_a_free_port_and_prints_it(runtime, tmp_path):
    cmd = P.our_cmd(runtime, "tls-server", ["--port", "0", "--count", "1"] + PSK)
    srv = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=P.our_env(runtime))
    try:
        first = srv.stdout.readline()
        assert first.startswith("listening on 127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        assert port > 0
        r = run(runtime, ["tls-client", "127.0.0.1", str(port), "--send", "ping"] + PSK)
        assert "reply: ping" in r.stdout, r.stdout + r.stderr
        assert srv.wait(timeout=30) == 0
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
        srv.stdout.close()
        srv.stderr.close()
    cmd = P.our_cmd(runtime, "ike-gateway", ["--port", "0", "--psk", "00112233", "--id", "gw"])
    gw = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=P.our_env(runtime))
    try:
        first = gw.stdout.readline()
        assert first.startswith("ike-gateway: listening on ") and first.endswith(" (tickets=value)\n"), first
        port = int(first.split("listening on ")[1].split()[0])
        assert port > 0
        import ikepeers
        r = ikepeers.run_initiator(["127.0.0.1", str(port), "--psk", "00112233", "--id", "c", "--remote-id",
                                    "gw", "--store", str(tmp_path / "s.json")], runtime=runtime)
        assert r.stdout.startswith("established: full"), r.stdout + r.stderr
    finally:
        gw.kill()
        gw.wait()
        gw.stdout.close()
        gw.stderr.close()


def test_parser():
    spec = ("flag other", "name hexv:hex num:1..10")
    assert parse(["a", "--flag", "--name", "x y", "b", "--hexv", "0aFF", "--num", "10"], "t", *spec) == \
        (["a", "b"], {"flag": True, "name": "x y", "hexv": b"\x0a\xff", "num": 10})
    assert parse(["h", "443"], "t", "", "", "HOST PORT:1..65535") == (["h", 443], {})
    assert parse(["--help", "--bogus"], "tls-client", "", "") is None
    for argv, why in ((["--num", "11"], "--num must be a number 1..10, not '11'"),
                      (["--num", "1.0"], "--num must be a number 1..10, not '1.0'"),
                      (["--hexv", "abc"], "--hexv must be hex digits, not 'abc'"),
                      (["--name"], "option --name needs a value"),
                      (["--flag=1"], "unknown option --flag=1"),
                      (["-x"], "unknown option -x"),
                      (["--"], "unknown option --")):
        with pytest.raises(ValueError) as e:
            parse(argv, "t", *spec)
        assert str(e.value) == why
    with pytest.raises(ValueError) as e:
        parse(["a"], "t", "", "", "HOST PORT")
    assert str(e.value) == "need HOST PORT (got 1 argument(s))"
    with pytest.raises(ValueError) as e:
        parse(["a"], "t", "", "", "")
    assert str(e.value) == "unexpected argument 'a'"


# --- a heap too small: a one-line reason, never a traceback (issue 14, item 2) -----------------------------

def _mp_mpy(args, heap_kb):
    import mpharness
    env = P.env_micropython()
    env["MICROPYPATH"] = mpharness.mpy_dir() + ":.frozen"
    return [P.micropython_bin(), "-X", "heapsize=%dk" % heap_kb, "-m", "microticket"] + list(args), env


@pytest.mark.micropython
@pytest.mark.interop
def test_client_walking_the_heap_down_never_tracebacks(mp, tmp_path):
    """tls-client (.mpy from a directory, TLS 1.3 offered) with heaps from 96 KB down to 12 KB: each run
    either completes (resumed from the ticket the first run got) or says why in one line; below ~10 KB the
    interpreter cannot load the command dispatcher itself, which is no longer microticket's to report."""
    import shutil
    srv = P.start_our_server(["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX])
    cache0 = str(tmp_path / "c0.json")
    args = ["tls-client", "127.0.0.1", str(srv.port), "--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--mfl", "3"]
    outcomes = []
    try:
        cmd, env = _mp_mpy(args + ["--cache", cache0], 96)
        assert "ticket: yes" in subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60).stdout
        for kb in range(96, 11, -6):
            cache = str(tmp_path / ("c%d.json" % kb))
            shutil.copyfile(cache0, cache)
            cmd, env = _mp_mpy(args + ["--cache", cache], kb)
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
            assert "Traceback" not in r.stdout + r.stderr, (kb, r.stdout, r.stderr)
            if "resumed: yes" in r.stdout:
                outcomes.append("ok")
            else:
                assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), \
                    (kb, r.stdout, r.stderr)
                outcomes.append("refused")
    finally:
        srv.stop()
    assert outcomes[0] == "ok" and outcomes[-1] == "refused", outcomes


@pytest.mark.micropython
@pytest.mark.interop
def test_server_walking_the_heap_down_serves_or_refuses_in_one_line(mp, tmp_path):
    """tls-server (.mpy, PSK, 2 KB records) with heaps from 112 KB down to 16 KB: it starts and serves a
    client, or refuses to start with one line, or (a heap that holds the server but not a handshake)
    ends that connection and says so in one line; never a traceback."""
    outcomes = []
    for kb in range(112, 15, -16):  # (96 before TLS 1.3 joined the server: its .mpy code is ~1.5 KB more)
        cmd, env = _mp_mpy(["tls-server", "--port", "0", "--count", "1", "--max-record", "2048", "--psk-identity",
                            P.PSK_ID, "--psk", P.PSK_HEX], kb)
        srv = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            first = srv.stdout.readline()
            if first.startswith("listening on 127.0.0.1:"):
                port = int(first.rsplit(":", 1)[1])
                r = P.run_our_client(port, ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--send", "x"])
                srv.wait(timeout=30)
                rest = srv.stdout.read() + srv.stderr.read()
                assert "Traceback" not in rest, (kb, rest)
                outcomes.append("served" if "reply: x" in r.stdout else "connection refused")
                assert "reply: x" in r.stdout or "connection 1: " in rest or \
                    rest.endswith("error: out of memory accepting a connection\n"), (kb, r.stdout, rest)
            else:
                srv.wait(timeout=30)
                err = srv.stderr.read()
                assert "Traceback" not in first + err, (kb, first, err)
                assert srv.returncode == 1 and err.count("\n") == 1 and err.startswith("error: "), (kb, err)
                outcomes.append("refused")
        finally:
            if srv.poll() is None:
                srv.kill()
                srv.wait()
            srv.stdout.close()
            srv.stderr.close()
    assert outcomes[0] == "served" and outcomes[-1] == "refused", outcomes


@pytest.mark.micropython
def test_server_defaults_fit_a_small_heap(mp, tmp_path):
    """The default command (no --max-record) on heaps where 16 KB record buffers do not fit (issue 14, item 2:
    at 128 KB it did not start): the record size defaults as the board profiles set it, from the free heap,
    and the server starts and serves a client that asks for max_fragment_length (as boards do)."""
    for kb in (128, 104):  # (96 before TLS 1.3 joined the server; from .mpy it now needs 100 KB, 1.2 below 144 KB)
        cmd, env = _mp_mpy(["tls-server", "--port", "0", "--count", "1", "--psk-identity", P.PSK_ID, "--psk",
                            P.PSK_HEX], kb)
        srv = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            first = srv.stdout.readline()
            assert first.startswith("listening on 127.0.0.1:"), (kb, first, srv.stderr.read() if srv.poll() else "")
            port = int(first.rsplit(":", 1)[1])
            r = P.run_our_client(port, ["--psk-identity", P.PSK_ID, "--psk", P.PSK_HEX, "--mfl", "3", "--send", "x"])
            srv.wait(timeout=30)
            rest = srv.stdout.read() + srv.stderr.read()
            assert "reply: x" in r.stdout and "Traceback" not in rest, (kb, r.stdout, rest)
        finally:
            if srv.poll() is None:
                srv.kill()
                srv.wait()
            srv.stdout.close()
            srv.stderr.close()
