"""What the commands share beside the parser (microticket.cli): loaded by the servers, and by tls-client
only for --keylog, so that the resuming clients pinned to a small heap do not hold it."""

import socket


def keylog(path):
    """A function appending NSS key log lines to ``path`` (None: no key log)."""
    if not path:
        return None

    def log(line):
        f = open(path, "a")
        try:
            f.write(line + "\n")
        finally:
            f.close()
    return log


def bind(s, host, port):
    """Bind the socket ``s`` to (host, port) and return the port bound. Port 0 binds a free port: the
    kernel's choice where the socket can tell it (getsockname, CPython), else (MicroPython has no
    getsockname) a random port of the dynamic range 49152-65535, tried until one is free. The socket
    stays bound, so the port printed is the one served: no window for another process to take it."""
    if port or hasattr(s, "getsockname"):
        s.bind(socket.getaddrinfo(host, port)[0][-1])
        return port or s.getsockname()[1]
    from microticket.crypto import urandom
    for _ in range(64):
        r = urandom(2)
        port = 49152 | (r[0] << 8 | r[1]) & 0x3FFF
        try:
            s.bind(socket.getaddrinfo(host, port)[0][-1])
            return port
        except OSError as e:
            err = e
    raise err
