"""A real redis-server for the fleet tests (Debian's package): on a free loopback port with a private
directory, no persistence, stopped by PID (tools/procs.Peer). The module fixture ``rds`` (tests/fleet/conftest.py)
is {"peer": Peer, "dir": its directory}; a test that stops Redis starts it again with ``start_redis(dir, port)``.
``conf``: a private config file read first (ACL users...); ``tls``: (cert, key) PEM files, the port is then
TLS only (tls-port, no plain port; clients are not asked for certificates)."""

import os
import shutil

from procs import Peer, on_free_port  # tools/procs.py (on the path through tlspeers/ikepeers)

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def redis_cmd(port, d, extra=(), conf=None, tls=None):
    cmd = [REDIS_SERVER] + ([conf] if conf else [])
    if tls:
        cmd += ["--port", "0", "--tls-port", str(port), "--tls-cert-file", tls[0], "--tls-key-file", tls[1],
                "--tls-ca-cert-file", tls[0], "--tls-auth-clients", "no"]
    else:
        cmd += ["--port", str(port)]
    return cmd + ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", d, "--protected-mode", "yes",
                  "--daemonize", "no", "--logfile", ""] + list(extra)


def start_redis(d, port=None, extra=(), conf=None, tls=None):
    """redis-server on ``port`` (one try: a restart on the port the clients know) or on a free one."""
    if port is not None:
        return Peer(redis_cmd(port, d, extra, conf, tls), port=port)
    return on_free_port(lambda p: Peer(redis_cmd(p, d, extra, conf, tls), port=p))


def available():
    return os.path.exists(REDIS_SERVER)
