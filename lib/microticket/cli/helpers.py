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


def psk_file(path):
    """The pre-shared key in the file ``path`` as hex digits (whitespace ignored): ``--psk-file``, for keys
    that do not belong on a command line (the process list shows it) or do not fit one (MicroPython's
    unix port takes arguments of at most 255 characters: a key of 128 bytes or more). An unreadable file
    is an OSError naming it; anything but hex, or nothing, a ValueError."""
    try:
        with open(path) as f:
            text = f.read(2 * 65535 + 4096)
    except OSError as e:
        raise OSError("--psk-file %s: %s" % (path, e))
    try:
        key = bytes.fromhex("".join(text.split()))
    except ValueError:
        key = b""
    if not key:
        raise ValueError("--psk-file %s: not a key in hex digits" % path)
    return key


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


def suite_list(text):
    """--suites: comma-separated IANA names (TLS_..._WITH_...) or 4-digit hex numbers -> [suite numbers], in
    the order given (the preference order). microticket.tls.const names them; loaded only for this."""
    from microticket.tls import const
    from microticket.tls.engine import suite_info
    out = []
    for name in text.split(","):
        name = name.strip()
        n = getattr(const, name[4:], None) if name[:4] == "TLS_" else None
        if n is None and len(name) == 4:
            try:
                n = int(name, 16)
            except ValueError:
                n = None
        if n is None or not suite_info(n):
            raise ValueError("--suites: not a suite of ours: %r" % name)
        out.append(n)
    return out
