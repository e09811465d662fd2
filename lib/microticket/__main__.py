"""`python -m microticket COMMAND ...` (also `micropython -m microticket ...` with MICROPYPATH=lib).

A table of command -> (module, function); the module is imported only when its command runs, so a board
loads only the part it uses. Each function takes the argument list after the command and returns an exit
status (0; 1: runtime failure; 2: bad arguments). A board's main.py may call the function directly. The
commands, their one argument parser and their --help texts are in microticket.cli.
"""

import sys

COMMANDS = {
    "keys": ("microticket.cli.keys", "main"),
    "ike-gateway": ("microticket.cli.ike_gateway", "main"),
    "ike-initiate": ("microticket.cli.ike_initiate", "main"),
    "tls-server": ("microticket.cli.tls_server", "main"),
    "tls-client": ("microticket.cli.tls_client", "main"),
}


def main(argv):
    if argv and (argv[0] == "-h" or argv[0] == "--help"):
        from microticket.cli.usage import text
        sys.stdout.write(text(None))
        return 0
    if not argv or argv[0] not in COMMANDS:
        from microticket.cli import fail
        return fail(("unknown command %r" % argv[0] if argv else "no command") + " (commands: " +
                    ", ".join(sorted(COMMANDS)) + "; --help says more)")
    modname, fn = COMMANDS[argv[0]]
    try:
        mod = __import__(modname, None, None, [fn])
    except MemoryError:  # a heap too small even for the command's code: one line, no traceback
        sys.stderr.write("error: out of memory loading %s\n" % argv[0])
        return 1
    return getattr(mod, fn)(argv[1:]) or 0


def _args():
    # CPython: argv[0] is the package path; MicroPython -m leaves the module name or nothing before
    args = list(sys.argv)
    while args and args[0] not in COMMANDS and (args[0].endswith(".py") or "microticket" in args[0]
                                               or args[0] == "-m" or args[0] == ""):
        args.pop(0)
    return args


if __name__ == "__main__":
    sys.exit(main(_args()))
