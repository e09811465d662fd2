"""Files that hold secrets (ticket key files, client ticket caches, IKE ticket stores).

``write_private`` writes a temporary file, flushes it to the medium (``os.fsync`` where the runtime has
it), and renames it over the old file, so a reboot in the middle leaves the old file or the new one; it
restricts the file to its owner before any secret is written, and refuses to write one it cannot restrict:
- CPython/POSIX: ``os.chmod(tmp, 0o600)``;
- MicroPython unix port (no chmod, no ffi in its builds): ``chmod 600`` through ``os.system``, the path
  quoted for the shell (any character, a quote included);
- MicroPython boards: FAT/littlefs have no owners or modes; the board itself is the trust boundary.
Where a filesystem refuses to rename over a file (FAT), the old file is first renamed to ``PATH.bak`` and
removed only once the new one is in place; ``recover(path)``, called by every reader before it opens the
file, puts the backup back if a power cut came between the two renames.
"""

import os


def _restrict(path):
    """Owner-only mode for ``path``: True, False where the runtime has no modes (a board), OSError when
    it has them and the mode could not be set."""
    chmod = getattr(os, "chmod", None)
    if chmod is not None:
        chmod(path, 0o600)
        return True
    system = getattr(os, "system", None)
    if system is None:
        return False
    # sh single quotes hold any character but the quote itself, written '\'' (close, escaped, reopen)
    if system("chmod 600 -- '" + path.replace("'", "'\\''") + "'") != 0:
        raise OSError("cannot make %s owner-only: not writing a secret into it" % path)
    return True


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
        f.flush()
        fsync = getattr(os, "fsync", None)
        if fsync is not None and hasattr(f, "fileno"):
            fsync(f.fileno())  # on the medium before the rename makes it the file
    try:
        os.rename(tmp, path)
    except OSError:
        # some filesystems (FAT) refuse to rename over an existing file: the old one becomes the backup
        # until the new one is in place, so there is never a moment with neither (recover() reads it)
        bak = path + ".bak"
        remove(bak)
        try:
            os.rename(path, bak)
        except OSError:
            pass
        os.rename(tmp, path)
        remove(bak)


def recover(path):
    """Before reading ``path``: if a power cut came after write_private renamed the old file to its
    backup and before the new one took its place, the backup is the file again."""
    try:
        os.stat(path)
    except OSError:
        try:
            os.rename(path + ".bak", path)
        except OSError:
            pass


def remove(path):
    try:
        os.remove(path)
        return True
    except OSError:
        return False
