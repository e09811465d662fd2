"""The layers of lib/microticket, read from the source: no import cycles, and only modules MicroPython has.

Every ``import`` of every module counts, function-level ones included: a lazy import keeps a module off a path
(that is what they are for here: a resumption loads no full-exchange code), it does not make a cycle
acceptable. A cycle is a strongly connected component of the import graph with more than one module.

The layers themselves: a module imports only from its own layer and those below it (core < pk < tls, ike <
cli), and the record layer knows no engine.
"""

import ast
import os

LIB = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "lib")

# Modules lib/ may import besides microticket.*: built into MicroPython (unix and board ports) and allowed by the
# house rules (no typing, dataclasses, enum, functools, abc, logging, struct, itertools, contextlib, pathlib,
# hmac, secrets...). A function-level import of anything else must carry CPYTHON_ONLY on its line (code that
# only runs on CPython, e.g. a fleet helper); at module level nothing else is allowed at all.
MICROPYTHON_MODULES = {
    "micropython", "sys", "os", "gc", "time", "json", "socket", "select", "errno", "io", "hashlib", "cryptolib",
    "asyncio", "array", "binascii", "random", "math", "machine", "network", "vfs",
}
CPYTHON_ONLY = "# cpython-only"


def module_files(lib=LIB):
    """{module name: path} of every .py under lib/microticket."""
    out = {}
    for dirpath, _, files in os.walk(os.path.join(lib, "microticket")):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                parts = os.path.relpath(path, lib)[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                out[".".join(parts)] = path
    return out


def imports(name, source, is_package=False):
    """[(imported module, line number, at module level?)] of a module's source. ``from pkg import x`` names
    module pkg.x when x is one (the caller resolves that), else pkg: both are returned as candidates."""
    tree = ast.parse(source)
    top = set(id(n) for n in tree.body)
    # statements at module level, including those nested in module-level if/try blocks
    for n in tree.body:
        if isinstance(n, (ast.If, ast.Try)):
            for sub in ast.walk(n):
                if not isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                    top.add(id(sub))
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            for a in n.names:
                out.append(((a.name,), n.lineno, id(n) in top))
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[:len(pkg) - (n.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            out.append((tuple([base + "." + a.name for a in n.names]) + (base,), n.lineno, id(n) in top))
    return out


def graph(files):
    """{module: {microticket modules it imports}} and [(module, imported name, line, top level, line text)]
    of every import outside microticket."""
    edges = {m: set() for m in files}
    outside = []
    for m, path in files.items():
        with open(path) as f:
            source = f.read()
        lines = source.split("\n")
        for cands, line, top in imports(m, source, path.endswith("__init__.py")):
            if len(cands) == 1:  # import x.y
                target = cands[0]
                if target.split(".")[0] == "microticket":
                    while target not in files and "." in target:
                        target = target.rsplit(".", 1)[0]
                    edges[m].add(target)
                else:
                    outside.append((m, target, line, top, lines[line - 1]))
                continue
            base = cands[-1]
            if base.split(".")[0] != "microticket":
                outside.append((m, base, line, top, lines[line - 1]))
                continue
            for c in cands[:-1]:
                edges[m].add(c if c in files else base)
    for m in edges:
        edges[m].discard(m)
    return edges, outside


def cycles(edges):
    """The strongly connected components with more than one module (Tarjan), as a list of sets."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def bad_imports(outside):
    """The imports of modules outside microticket that lib/ must not make."""
    bad = []
    for m, target, line, top, text in outside:
        if target.split(".")[0] in MICROPYTHON_MODULES:
            continue
        if not top and CPYTHON_ONLY in text:
            continue
        bad.append("%s:%d imports %s%s" % (m, line, target, "" if top else " (function level, not marked %r)"
                                                % CPYTHON_ONLY))
    return bad


# --- the tests ---------------------------------------------------------------------------------------------

def test_no_import_cycles():
    edges, _ = graph(module_files())
    found = sorted(sorted(c) for c in cycles(edges))
    assert not found, "import cycles (break them at their seam, do not hide them behind a lazy import): %r" % found


def test_lib_imports_only_micropython_modules():
    _, outside = graph(module_files())
    assert not bad_imports(outside)


def test_the_graph_sees_function_level_and_from_imports():
    # the graph is what the tests above judge: it must hold the lazy imports and resolve from-imports to modules
    edges, _ = graph(module_files())
    assert "microticket.ike.initiator_full" in edges["microticket.ike.initiator"]  # function level
    assert "microticket.ike.modp" in edges["microticket.ike.dh"]  # function level, from-import of a module
    assert "microticket.errors" in edges["microticket.ike.message"]  # from-import of names: the module
    assert "microticket.ike.initiator" not in edges["microticket.ike.initiator_full"]
    assert "microticket.ticket" not in edges["microticket.keyfile"]
    assert "microticket.pk.rsa" not in edges["microticket.pk.der"]


def test_the_checks_fail_when_they_should(tmp_path):
    # a lazy import that closes a cycle, an unknown module at module level and an unmarked CPython-only
    # import at function level
    pkg = tmp_path / "microticket"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from microticket.sub import b\nimport typing\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from microticket import a\n    import ssl\n")
    (pkg / "c.py").write_text("def f():\n    import ssl  # cpython-only\n    from . import a\n")
    files = module_files(str(tmp_path))
    assert sorted(files) == ["microticket", "microticket.a", "microticket.c", "microticket.sub",
                             "microticket.sub.b"]
    edges, outside = graph(files)
    assert edges["microticket.c"] == {"microticket.a"}
    found = cycles(edges)
    assert found == [{"microticket.a", "microticket.sub.b"}]
    bad = bad_imports(outside)
    assert len(bad) == 2 and "microticket.a:2 imports typing" in bad
    assert any(b.startswith("microticket.sub.b:3 imports ssl (function level") for b in bad)
