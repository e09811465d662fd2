"""tools/build.py: the parts list (boards/parts.json), the mip package files generated from it, the .mpy
build and its size table, --no-native, .mpy headers, and the board manifests and profiles."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/
sys.path.insert(0, os.path.join(ROOT, "tools"))
import build  # noqa: E402

BOARDS = ("unix", "esp32", "rp2")


def test_every_lib_module_is_in_a_part():
    assert build.unassigned_modules() == [], "add the module to a part in boards/parts.json"


def test_parts_are_disjoint_and_close_over_requires():
    doc = build.load_parts()
    seen = {}
    for name in doc["parts"]:
        for rel in build.own_modules(name, doc):
            assert rel not in seen, "%s is in parts %s and %s" % (rel, seen[rel], name)
            seen[rel] = name
    # core: what sealing and opening tickets needs (with the key file); tls and ike carry core, the PRF and
    # x25519, ike the reader/writer (wire); the command line and the gateway only come with "all"
    core = set(build.part_files("core", doc))
    assert {"microticket/errors.py", "microticket/crypto.py", "microticket/ticket.py", "microticket/keyfile.py",
            "microticket/store.py"} <= core
    tls, ike = set(build.part_files("tls", doc)), set(build.part_files("ike", doc))
    assert core < tls and core < ike
    assert {"microticket/pk/x25519.py", "microticket/pk/rsa.py", "microticket/pk/der.py", "microticket/tls/state.py",
            "microticket/prf.py"} <= tls
    assert "microticket/wire.py" not in tls  # (the TLS modules parse by index arithmetic; IKE's payloads use it)
    assert {"microticket/pk/x25519.py", "microticket/ike/modp.py", "microticket/wire.py", "microticket/prf.py"} <= ike
    assert not any(f.startswith("microticket/ike/") for f in tls)
    assert not any(f.startswith("microticket/tls/") for f in ike)
    assert "microticket/ike/gateway.py" not in ike
    assert not any(f.startswith("microticket/cli/") or f == "microticket/__main__.py" for f in tls | ike)
    # "all" is every module but the CPython-only parts (fleet: Redis), which no installable part, board
    # profile or the command line's import statements pull in
    cpython_only = set()
    for name, part in doc["parts"].items():
        if part.get("cpython_only"):
            assert not part.get("installable", True), name
            assert not any(name in p.get("requires", ()) for p in doc["parts"].values()), name
            cpython_only |= set(build.own_modules(name, doc))
    assert {"microticket/fleet/redis_keys.py", "microticket/fleet/redis_ike.py"} <= cpython_only
    assert set(build.part_files("all", doc)) == set(seen) - cpython_only


def test_package_json_files_are_up_to_date():
    stale = build.write_package_jsons(check=True)
    assert stale == [], "run: python tools/build.py --package-json (stale: %s)" % stale
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build.py"), "--package-json", "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_package_json_urls_are_relative_and_exist():
    for part in build.installable_parts():
        with open(os.path.join(ROOT, build.package_json_name(part))) as f:
            doc = json.load(f)
        assert doc["version"] == build.load_parts()["version"]
        assert doc["urls"], part
        for dest, url in doc["urls"]:
            assert not url.startswith("/") and ".." not in url, url
            assert url == "lib/" + dest
            assert os.path.exists(os.path.join(ROOT, url)), url
        assert sorted(d for d, _ in doc["urls"]) == build.part_files(part)


def test_package_json_check_notices_a_new_module(tmp_path):
    lib = tmp_path / "lib"
    import shutil
    shutil.copytree(build.LIB, str(lib), ignore=shutil.ignore_patterns("__pycache__"))
    (lib / "microticket" / "tls" / "newthing.py").write_text("X = 1\n")
    stale = build.write_package_jsons(check=True, lib_root=str(lib))
    assert "package-tls.json" in stale and "package.json" in stale and "package-core.json" not in stale
    (lib / "microticket" / "orphan.py").write_text("X = 1\n")
    assert build.unassigned_modules(lib_root=str(lib)) == ["microticket/orphan.py"]


def test_build_prints_size_table_per_module_and_part(tmp_path):
    out = tmp_path / "x64"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build.py"), "--arch", "x64",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "microticket/ticket.mpy" in text
    rows = {}
    for line in text.splitlines():
        f = line.split()
        if f and f[0] in ("core", "tls", "ike", "all", "x25519") and len(f) == 5:
            rows[f[0]] = f
    assert set(rows) == {"core", "x25519", "tls", "ike", "all"}
    assert rows["core"][3] == str(8 * 1024) and rows["tls"][3] == str(80 * 1024) and rows["ike"][3] == str(40 * 1024)
    for name in ("core", "tls", "ike"):
        inst, target, verdict = int(rows[name][2]), int(rows[name][3]), rows[name][4]
        assert verdict == ("OK" if inst <= target else "OVER")
    # the installed size of a part is the sum of its .mpy files on disk
    core = sum(os.path.getsize(str(out / (f[:-3] + ".mpy"))) for f in build.part_files("core"))
    assert int(rows["core"][2]) == core
    assert int(rows["all"][2]) == sum(os.path.getsize(os.path.join(d, fn)) for d, _, fs in os.walk(str(out))
                                      for fn in fs if fn.endswith(".mpy"))
    assert build.mpy_header(str(out / "microticket" / "ticket.mpy"))[2] == "x64"


@pytest.mark.parametrize("arch", ["armv6m", "xtensawin"])
def test_cross_arch_headers(tmp_path, arch):
    rows = build.compile_tree(build.LIB, str(tmp_path), arch=arch, only={"microticket/ticket.py",
                                                                         "microticket/errors.py"})
    assert len(rows) == 2
    assert build.mpy_header(str(tmp_path / "microticket" / "ticket.mpy")) == (6, 3, arch)
    # no native code in errors.py: an arch-free file that any v6 port loads
    assert build.mpy_header(str(tmp_path / "microticket" / "errors.mpy")) == (6, 0, "none")


def test_mpy_compatibility_rules():
    board = build.decode_sys_mpy(2822)           # this unix port: v6, sub-version 3, x64
    assert board == (6, 3, "x64")
    assert build.mpy_incompatibility((6, 3, "x64"), board) is None
    assert build.mpy_incompatibility((6, 0, "none"), board) is None
    assert "armv6m" in build.mpy_incompatibility((6, 3, "armv6m"), board)
    assert "version 5" in build.mpy_incompatibility((5, 0, "none"), board)
    assert "no native emitter" in build.mpy_incompatibility((6, 3, "x64"), (6, 0, "none"))


def test_strip_native_keeps_line_numbers():
    src = "import micropython\n@micropython.viper\ndef f(p: ptr8) -> int:\n    return p[0]\n  @micropython.native\n"
    out = build.strip_native(src)
    assert out.count("\n") == src.count("\n")
    assert "@micropython" not in out and "def f(p: ptr8) -> int:" in out


@pytest.mark.micropython
def test_no_native_build_runs_the_ticket_roundtrip(mp, tmp_path):
    out = tmp_path / "bytecode"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build.py"), "--no-native",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "(--no-native)" in proc.stdout
    for d, _, files in os.walk(str(out)):
        for fn in files:
            assert build.mpy_header(os.path.join(d, fn))[2] == "none", fn
    build.compile_tree(os.path.join(ROOT, "tests", "scripts"), str(out), only={"ticket_roundtrip.py"})
    run = mp.run_mp("import ticket_roundtrip\nticket_roundtrip.main()\n", path=str(out), heapsize="64k")
    assert run.returncode == 0, run.stderr
    assert "roundtrip ok" in run.stdout


# --- board manifests and profiles -----------------------------------------------------------------------

class StandInManifest:
    """Just enough of MicroPython's tools/manifestfile.py (include/require/add_library/package/module/
    metadata, each manifest run in its own directory, an included file run once) to see what a board
    manifest freezes without a MicroPython source tree. $(PORT_DIR) includes are recorded, not run."""

    def __init__(self):
        self.frozen = []
        self.port_includes = []
        self.libraries = {}
        self.visited = set()
        self.metadata_seen = []

    def _globals(self, kwargs):
        class Options:
            def __init__(self, kw):
                self.__dict__.update(kw)

            def __getattr__(self, name):
                return None
        return {"include": self.include, "require": self.require, "add_library": self.add_library,
                "package": self.package, "module": self.module, "metadata": self.metadata,
                "options": Options(kwargs)}

    def include(self, path, **kwargs):
        if path.startswith("$("):
            self.port_includes.append(path)
            return
        path = os.path.abspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "manifest.py")
        if path in self.visited:
            return
        self.visited.add(path)
        prev = os.getcwd()
        os.chdir(os.path.dirname(path))
        try:
            with open(path) as f:
                exec(f.read(), self._globals(kwargs))
        finally:
            os.chdir(prev)

    def add_library(self, name, path):
        self.libraries[name] = os.path.abspath(path)

    def require(self, name, library=None, **kw):
        base = self.libraries[library]
        for root, _, files in os.walk(base):
            if os.path.basename(root) == name and "manifest.py" in files:
                return self.include(root)
        raise ValueError("no package " + name)

    def package(self, package_path, files=None, base_path="."):
        assert files is not None
        for fn in files:
            full = os.path.join(os.path.abspath(base_path), package_path, fn)
            assert os.path.exists(full), full
            self.frozen.append(package_path + "/" + fn)

    def module(self, path, base_path="."):
        self.frozen.append(path)

    def metadata(self, **kw):
        self.metadata_seen.append(kw)


@pytest.mark.parametrize("board", BOARDS)
def test_board_manifest_freezes_the_profile_parts(board):
    m = StandInManifest()
    m.include(os.path.join(ROOT, "boards", board, "manifest.py"))
    prof = build.board_profile(board)
    want = set()
    for part in prof["parts"]:
        want.update(build.part_files(part))
    assert sorted(m.frozen) == sorted(want), "each module frozen once, exactly the profile's parts"
    assert len(m.port_includes) == 1  # the port's own manifest comes first
    assert all(md["version"] == build.load_parts()["version"] for md in m.metadata_seen)


@pytest.mark.parametrize("board", BOARDS)
def test_board_profile_facts(board):
    prof = build.board_profile(board)
    for key in ("mpy_version", "mpy_arch", "native_emitter", "parts", "heap_budget_kb", "tls", "ticket",
                "entropy", "rtc", "epoch", "cryptolib"):
        assert key in prof, key
    assert prof["mpy_arch"] in build.ARCH_NAMES
    assert set(prof["parts"]) <= set(build.installable_parts())
    assert prof["ticket"]["max_state"] >= 90  # a TLS PSK StatePlaintext is about 90 bytes
    assert prof["tls"]["record_buffer"] > prof["tls"]["max_fragment"]
