"""`python -m microticket SUBCOMMAND ...` (also `micropython -m microticket ...` with MICROPYPATH=lib).

A table of subcommand -> (module, function); the module is imported only when its subcommand runs, so a
board loads only the part it uses. Each function takes the argument list after the subcommand and returns
an exit status.
"""

import sys

COMMANDS = {
    "keys": ("microticket.keys_cli", "main"),
    "ike-gateway": ("microticket.ike.cli", "gateway_main"),
    "ike-initiate": ("microticket.ike.cli", "initiate_main"),
    "tls-server": ("microticket.tls.cli", "tls_server"),
    "tls-client": ("microticket.tls.cli", "tls_client"),
}


def main(argv):
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m microticket {" + "|".join(sorted(COMMANDS)) + "} ...")
        return 2
    modname, fn = COMMANDS[argv[0]]
    mod = __import__(modname, None, None, [fn])
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
