"""The command line's one argument parser, shared by every command (microticket.cli.<command>.main).

    a = parse(argv, "tls-client", "no-ems no-etm", "psk:hex cache mfl:1..4", "HOST PORT:1..65535")
    if a is None:
        return 0                    # -h or --help: the command's help was printed
    pos, o = a                      # ["example.org", 443], {"psk": b"...", "mfl": 3, "no-ems": True, ...}

Options are ``--name VALUE`` (``values``) or ``--name`` switches (``flags``), positionals are words, in
any order. Names are given as one string, separated by spaces (one object instead of one per name while
the module is loaded). A value or positional may carry a type: ``name:hex`` (non-empty hex, returned as
bytes) or ``name:LO..HI`` (an integer in that range, returned as int); without one it stays a string.
Options not given are absent from the dict (the command supplies its defaults). Every mistake (unknown
option, missing value, malformed value, wrong number of positionals) raises ValueError with a one-line
reason; the command catches it and returns ``fail(e)``: ``error: REASON`` on stderr, exit status 2.
Runtime failures (an unreadable or damaged file, a refused connection) are ``fail(reason, 1)``. The
--help texts are in microticket.cli.usage, loaded only by --help.

Heap: every top-level def of a module costs its function object (~130 bytes measured from ROMFS) for as
long as the module is loaded, and the resuming clients (tls-client, ike-initiate) are pinned to a 32 KB
heap: hence three functions here, conversions nested inside parse (made only while it runs), and the
helpers that only the servers need in microticket.cli.helpers. (A fourth, setting gc.threshold for the
three commands that do, cost ike-initiate 735 bytes of its smallest ROMFS heap: each does it inline.)
The arguments have one-letter names that other modules already intern: every name of a program is an
interned string on a board's heap for good, and the resuming client sits at the edge of a qstr pool block
(3.7 KB; docs/architecture.md, "Memory rules of thumb").
"""

import sys


def parse(argv, name, f, d, p=None):
    """(positionals, {option: value or True}), or None after printing ``name``'s help for -h/--help. ``f``:
    the flags ("no-ems no-etm"), ``d``: the options with values ("psk:hex cache mfl:1..4"), ``p``: the
    positionals expected ("HOST PORT:1..65535"; None: any words, unchecked)."""

    def conv(v, s, m):
        # the value v of the option or positional m, by its spec s ("name:hex", "name:LO..HI", "name")
        t = s.find(":")
        if t < 0:
            return v
        t = s[t + 1:]
        try:
            if t == "hex":
                b = bytes.fromhex(v)
                if b:
                    return b
            else:
                lo, hi = t.split("..")
                x = int(v)
                if int(lo) <= x <= int(hi):
                    return x
        except ValueError:
            pass
        # (two long texts, not "hex digits" and "a number ": a short str constant is a board's qstr for good)
        raise ValueError("%s must be hex digits, not %r" % (m, v) if t == "hex" else
                         "%s must be a number %s, not %r" % (m, t, v))

    vals = d.split()
    names = [s.split(":")[0] for s in vals]
    pos = []
    o = {}
    i = 0
    n = len(argv)
    while i < n:
        a = argv[i]
        i += 1
        if a == "-h" or a == "--help":
            from microticket.cli.usage import text
            sys.stdout.write(text(name))
            return None
        k = a[2:]
        if a[:2] == "--" and k in f.split():
            o[k] = True
        elif a[:2] == "--" and k in names:
            if i >= n:
                raise ValueError("option %s needs a value" % a)
            o[k] = conv(argv[i], vals[names.index(k)], a)
            i += 1
        elif a[:1] == "-" and len(a) > 1:
            raise ValueError("unknown option %s" % a)
        else:
            pos.append(a)
    if p is not None:
        p = p.split()
        if len(pos) != len(p):
            if not p:
                raise ValueError("unexpected argument %r" % pos[0])
            raise ValueError("need %s (got %d argument(s))" % (" ".join([s.split(":")[0] for s in p]), len(pos)))
        pos = [conv(pos[j], p[j], p[j].split(":")[0]) for j in range(len(p))]
    return pos, o


def fail(e, n=2):
    """Print ``error: E`` (one line: the reason ``e``) on stderr; returns the exit status ``n`` (2: usage,
    1: runtime)."""
    sys.stderr.write("error: %s\n" % (e,))
    return n


def out(s):
    """Print the line ``s`` and flush it (a test or a pipe reads it while the command runs)."""
    print(s)
    try:
        sys.stdout.flush()
    except AttributeError:
        pass

