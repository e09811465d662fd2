"""Put microticket on a board with mpremote, then prove it imports there.

    python tools/deploy.py --device DEV [--part core|tls|ike|all] [--via cp|mip] [--mpy [--dist DIR]]
                           [--no-native] [--keep]

--part     which installable part of boards/parts.json (default all)
--via cp   `mpremote fs cp` file by file into the board's lib directory (default)
--via mip  `mpremote mip install` of the part's package file (package-<part>.json at the top of the repo;
           with --mpy a package file written next to the compiled .mpy files)
--mpy      compile with mpy-cross for the board first: its bytecode version and arch are read from the
           board (sys.implementation._mpy) and every .mpy is checked against them BEFORE anything is copied
--dist DIR use .mpy files already built in DIR (laid out as DIR/microticket/...) instead of compiling
--no-native strip @micropython.native/viper (boards without a native emitter; automatic when the board
           reports none)
--no-space-check  copy even when the board's statvfs says the part will not fit
--keep     do not remove the board's existing lib/microticket first (by default a deploy replaces it, so
           no stale .py shadows a new .mpy: MicroPython imports x.py before x.mpy)

The board's lib directory is the first sys.path entry ending in /lib (/lib on boards, ./lib on the virtual
board of tools/vboard.py), as mip picks it. Exit status: 0 deployed and imported; 2 usage; 3 no device /
board does not answer; 4 board filesystem full; 5 bytecode incompatible with the board; 6 copied but does
not import; 1 anything else.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import build  # noqa: E402  tools/build.py: parts, mpy headers, compile

EXIT_OTHER, EXIT_USAGE, EXIT_DEVICE, EXIT_FULL, EXIT_MPY, EXIT_IMPORT = 1, 2, 3, 4, 5, 6
TIMEOUT = 120


class DeployError(Exception):
    def __init__(self, code, msg):
        Exception.__init__(self, msg)
        self.code = code


def mpremote_bin():
    # MT_MPREMOTE lets the tests put a stand-in mpremote in front (board filesystem full, ...)
    exe = os.environ.get("MT_MPREMOTE")
    if exe:
        return exe
    cand = os.path.join(os.path.dirname(sys.executable), "mpremote")
    return cand if os.path.exists(cand) else (shutil.which("mpremote") or "mpremote")


_FULL = ("ENOSPC", "Errno 28", "No space left", "[Errno 28]")
_NO_DEVICE = ("failed to access", "no device found", "could not enter raw repl", "could not open port",
              "No such file or directory: '/dev", "device reports readiness")


def classify(output):
    """Which known failure an mpremote transcript shows: "full", "device", "mpy" or None."""
    if any(s in output for s in _FULL):
        return "full"
    if "incompatible .mpy" in output:
        return "mpy"
    low = output.lower()
    if any(s.lower() in low for s in _NO_DEVICE):
        return "device"
    return None


def mpremote(device, args, timeout=TIMEOUT, what="mpremote"):
    cmd = [mpremote_bin(), "connect", device, "resume"] + list(args)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeployError(EXIT_DEVICE, "%s: the board at %s did not answer within %d s" % (what, device, timeout))
    except OSError as e:
        raise DeployError(EXIT_OTHER, "cannot run mpremote (%s): %s" % (cmd[0], e))
    out = proc.stdout + proc.stderr
    kind = classify(out)
    if proc.returncode != 0 or kind in ("full", "mpy") or "Traceback" in out:
        tail = "\n".join(out.strip().splitlines()[-6:])
        if kind == "full":
            raise DeployError(EXIT_FULL, "%s: the board's filesystem is full (ENOSPC). Free space on the board "
                                         "(mpremote fs rm ...), deploy a smaller part (--part core) or "
                                         "compiled modules (--mpy).\n%s" % (what, tail))
        if kind == "mpy":
            raise DeployError(EXIT_MPY, "%s: the board refuses the .mpy files (incompatible .mpy); rebuild "
                                        "for it with --mpy and no --dist.\n%s" % (what, tail))
        if kind == "device":
            raise DeployError(EXIT_DEVICE, "%s: cannot reach a board at %s.\n%s" % (what, device, tail))
        raise DeployError(EXIT_OTHER, "%s failed (exit %d):\n%s" % (what, proc.returncode, tail))
    return proc.stdout


# one line of facts from the board: bytecode version/arch, lib directory, free bytes
_INFO = ("import sys,os\n"
         "L=[p for p in sys.path if p.endswith('/lib')]\n"
         "def _du(p):\n"
         " try:\n  st=os.stat(p)\n except OSError:\n  return 0\n"
         " if st[0] & 0x4000:\n  return sum(_du(p+'/'+n) for n in os.listdir(p))\n"
         " return st[6]\n"
         "try:\n s=os.statvfs(L[0] if L else '/')\n f=s[0]*s[4]\n"
         "except Exception:\n f=-1\n"
         "print('MTINFO', getattr(sys.implementation,'_mpy',0), f, _du((L[0] if L else '/lib')+'/%s'), repr(L))\n")


def board_info(device):
    out = mpremote(device, ["exec", _INFO % build.load_parts()["package"]], timeout=30, what="reading the board")
    for line in out.splitlines():
        if line.startswith("MTINFO "):
            _, mpy, free, used, libs = line.split(" ", 4)
            libs = eval(libs, {})  # a repr'd list of str from the board
            return {"mpy": int(mpy), "free": int(free), "used": int(used), "lib": libs[0] if libs else "/lib"}
    raise DeployError(EXIT_DEVICE, "the board at %s did not report sys.implementation: %r" % (device, out[-200:]))


def check_device(device):
    if os.path.sep in device or device.startswith("/dev"):
        if not os.path.exists(device):
            raise DeployError(EXIT_DEVICE, "no device at %s (is the board plugged in / the virtual board "
                                           "started: python tools/vboard.py start?)" % device)


def remote_dirs(files):
    dirs = set()
    for rel in files:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return sorted(dirs)


_CLEAN = ("import os\n"
          "def _rm(p):\n"
          " try:\n  m=os.stat(p)[0]\n except OSError:\n  return\n"
          " if m & 0x4000:\n  for n in os.listdir(p):\n   _rm(p+'/'+n)\n  os.rmdir(p)\n"
          " else:\n  os.remove(p)\n")


def prepare_script(lib, dirs, clean):
    s = _CLEAN
    if clean:
        s += "_rm(%r)\n" % (lib + "/" + build.load_parts()["package"])
    for d in [lib] + [lib + "/" + d for d in dirs]:
        s += "try:\n os.mkdir(%r)\nexcept OSError:\n pass\n" % d
    return s


def import_names(files):
    names = []
    for rel in files:
        mod = rel.rsplit(".", 1)[0].replace("/", ".")
        if mod.endswith(".__init__"):
            mod = mod[:-9]
        names.append(mod)
    return names


def verify_script(names):
    return ("ok=0\nbad=[]\n"
            "for n in %r:\n"
            " try:\n  __import__(n)\n  ok+=1\n"
            " except Exception as e:\n  bad.append(n+': '+repr(e))\n"
            "print('MTIMPORT', ok, len(bad))\n"
            "for b in bad:\n print('MTBAD', b)\n" % (names,))


def compile_for_board(files, info, native, out):
    version, sub, arch = build.decode_sys_mpy(info["mpy"])
    if arch == "none":
        native = False
    only = set(files)
    build.compile_tree(build.LIB, out, arch=None if arch == "none" else arch, native=native, only=only)


def check_mpy_files(dist, files, info):
    board = build.decode_sys_mpy(info["mpy"])
    problems = []
    for rel in files:
        path = os.path.join(dist, rel)
        if not os.path.exists(path):
            raise DeployError(EXIT_OTHER, "%s has no %s (build it: python tools/build.py)" % (dist, rel))
        try:
            why = build.mpy_incompatibility(build.mpy_header(path), board)
        except ValueError:
            why = "not an .mpy file"
        if why:
            problems.append("%s: %s" % (rel, why))
    if problems:
        raise DeployError(EXIT_MPY, "wrong bytecode for this board (it reports _mpy=%d: version %d, arch %s); "
                                    "nothing was copied:\n  %s\nRebuild for it: python tools/deploy.py --mpy "
                                    "(compiles for the board) or python tools/build.py --arch %s"
                          % (info["mpy"], board[0], board[2], "\n  ".join(problems), board[2]))


def deploy(device, part="all", via="cp", mpy=False, dist=None, native=True, keep=False, log=print,
           space_check=True):
    check_device(device)
    doc = build.load_parts()
    if part not in build.installable_parts(doc):
        raise DeployError(EXIT_USAGE, "unknown part %r (choose from %s)" % (part, ", ".join(build.installable_parts(doc))))
    sources = build.part_files(part, doc)              # microticket/....py
    info = board_info(device)
    lib = info["lib"]
    log("board: _mpy=%d (bytecode v%d, arch %s), lib directory %s, %s bytes free"
        % ((info["mpy"],) + build.decode_sys_mpy(info["mpy"])[::2] + (lib, info["free"])))
    tmp = None
    try:
        if mpy:
            files = [f[:-3] + ".mpy" for f in sources]
            if dist is None:
                tmp = tempfile.mkdtemp(prefix="mt-deploy-")
                compile_for_board(sources, info, native, tmp)
                src_root = tmp
            else:
                src_root = os.path.abspath(dist)
            check_mpy_files(src_root, files, info)
        else:
            files, src_root = sources, build.LIB
        size = sum(os.path.getsize(os.path.join(src_root, f)) for f in files)
        # the old lib/microticket is removed first (unless --keep): its bytes count as free
        free = info["free"] + (0 if keep else info["used"])
        if space_check and info["free"] >= 0 and free < size + 4096:
            raise DeployError(EXIT_FULL, "the board's filesystem is full: %d bytes free (with the old copy "
                                         "removed), the %s part needs %d (+ 4 KB slack). Free space, deploy a "
                                         "smaller part (--part core) or use --mpy." % (free, part, size))
        prep = prepare_script(lib, remote_dirs(files), clean=not keep)
        if via == "cp":
            args = ["exec", prep]
            by_dir = {}
            for f in files:
                by_dir.setdefault(f.rsplit("/", 1)[0], []).append(os.path.join(src_root, f))
            for d in sorted(by_dir):
                args += ["+", "fs", "cp"] + by_dir[d] + [":%s/%s/" % (lib, d)]
            mpremote(device, args, what="copying %d files" % len(files))
        elif via == "mip":
            if mpy:
                pj = os.path.join(src_root, "package-%s-mpy.json" % part)
                with open(pj, "w") as fh:
                    fh.write(build.package_json_text(part, doc, src_prefix="", ext=".mpy"))
            else:
                pj = os.path.join(ROOT, build.package_json_name(part))
                stale = build.write_package_jsons(check=True, doc=doc)
                if build.package_json_name(part) in stale:
                    # lib/ changed since the package files were generated: install what lib/ has now from a
                    # fresh package file (URLs relative to it) and say how to bring the committed one up to date
                    log("warning: %s is out of date with lib/ and boards/parts.json (run python tools/build.py "
                        "--package-json); installing from a fresh one" % os.path.basename(pj))
                    os.makedirs(build.DIST, exist_ok=True)
                    tmp = tempfile.mkdtemp(prefix="mt-deploy-", dir=build.DIST)  # dist/ is git-ignored
                    pj = os.path.join(tmp, build.package_json_name(part))
                    with open(pj, "w") as fh:
                        fh.write(build.package_json_text(part, doc, src_prefix="../../lib/"))
            mpremote(device, ["exec", prep, "+", "mip", "install", "--target", lib, pj],
                     what="mip install %s" % os.path.basename(pj))
        else:
            raise DeployError(EXIT_USAGE, "--via must be cp or mip")
        log("copied %d files (%d bytes) to %s via %s" % (len(files), size, lib, via))
        names = import_names(files)
        out = mpremote(device, ["exec", verify_script(names)], what="importing on the board")
        bad = [l[6:] for l in out.splitlines() if l.startswith("MTBAD ")]
        if bad or "MTIMPORT %d 0" % len(names) not in out:
            code = EXIT_MPY if any("incompatible .mpy" in b for b in bad) else EXIT_IMPORT
            raise DeployError(code, "copied, but %d module(s) do not import on the board:\n  %s"
                              % (len(bad), "\n  ".join(bad) or out[-300:]))
        log("imported on the board: %d modules (%s ...)" % (len(names), ", ".join(names[:3])))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return files


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="deploy.py", description="deploy microticket to a board with mpremote")
    ap.add_argument("--device", required=True)
    ap.add_argument("--part", default="all")
    ap.add_argument("--via", default="cp", choices=("cp", "mip"))
    ap.add_argument("--mpy", action="store_true")
    ap.add_argument("--dist", default=None)
    ap.add_argument("--no-native", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--no-space-check", action="store_true",
                    help="copy even when statvfs says it will not fit (filesystems that misreport)")
    args = ap.parse_args(argv)
    if args.dist and not args.mpy:
        ap.error("--dist goes with --mpy")
    try:
        deploy(args.device, args.part, args.via, args.mpy, args.dist, not args.no_native, args.keep,
               space_check=not args.no_space_check)
    except DeployError as e:
        print("deploy: error: " + str(e), file=sys.stderr)
        return e.code
    print("deploy: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
