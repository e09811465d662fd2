"""Files that hold secrets (ticket key files, client ticket caches, IKE ticket stores).

``write_private`` writes via a temporary file and a rename, so a reboot in the middle leaves the old file,
and restricts the file to its owner before any secret is written:
- CPython/POSIX: ``os.chmod(tmp, 0o600)``;
- MicroPython unix port (no chmod): ``chmod 600`` through ``os.system``;
- MicroPython boards: FAT/littlefs have no owners or modes; the board itself is the trust boundary.
"""

import os


def _restrict(path):
    chmod = getattr(os, "chmod", None)
    if chmod is not None:
        chmod(path, 0o600)
        return True
    system = getattr(os, "system", None)
    if system is not None and "'" not in path:
        return system("chmod 600 '" + path + "'") == 0
    return False


def write_private(path, data, dump=None):
    """Write ``data`` (text or bytes) to ``path``; with ``dump`` (e.g. json.dump), ``data`` is an object that
    ``dump(data, stream)`` writes piece by piece, so the file's text is never one string in the heap."""
    tmp = path + ".tmp"
    mode = "wb" if isinstance(data, (bytes, bytearray)) else "w"
    with open(tmp, mode) as f:  # empty file: restrict it before the secret goes in
        pass
    _restrict(tmp)
    with open(tmp, mode) as f:
        if dump is None:
            f.write(data)
        else:
            dump(data, f)
    try:
        os.rename(tmp, path)
    except OSError:
        # some filesystems refuse to rename over an existing file
        try:
            os.remove(path)
        except OSError:
            pass
        os.rename(tmp, path)


def read_text(path):
    with open(path) as f:
        return f.read()


def remove(path):
    try:
        os.remove(path)
        return True
    except OSError:
        return False
