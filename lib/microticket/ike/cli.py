"""Command line for the IKEv2 engine (argv parsed by hand: boards have no argparse).

    ike-gateway --port P --psk HEX --id ID [--tickets value|reference] [--keys KEYFILE] [--host H]
                [--lifetime S] [--reauth S] [--cookie] [--auth-mode signed|message]
                [--ticket-policy issue|ack|nack] [--rotate]
    ike-initiate HOST PORT --psk HEX --id ID --remote-id ID --store F [--group 14|31] [--nat-t] [--full]
                [--groups 31,14] [--child] [--auth-mode signed|message] [--no-ticket] [--ticket-later] [--delete]
                [--timeout S] [--debug-keys]
    ike-initiate logout --store F

ike-initiate prints ``established: full|resumed`` then ``ticket: lifetime N|ack|nack|none`` (exit 0), or
``failed: REASON`` (exit 1). With a stored, unexpired ticket for HOST:PORT it resumes (RFC 5723) unless
--full; a refused ticket prints ``resume: rejected`` and falls back to a full exchange. The process exits
without deleting the SA (an "interrupted" session, what resumption is for) unless --delete, which sends
Delete and drops the ticket (RFC 5723 section 6.2). The non-ESP marker (RFC 3948) is used with --nat-t or
on any port other than 500 (strongSwan expects it there). --debug-keys prints SKEYSEED, SK_* and AUTH in
hex (tests compare them with charon's log): never use it in production. Only --group is offered
(RFC 7815: one proposal, one group) unless --groups lists more (then INVALID_KE_PAYLOAD is retried).

ike-gateway answers on --port until killed; --keys loads the ticket key ring (microticket.ticket.KeyRing
key file) or creates it; --rotate adds a new sealing key to that file first. Events are printed, secrets
never.
"""

import sys

# Heap (a board resuming runs this module): few functions, short strings (strings of more than 10
# characters are heap objects even when the .mpy runs from ROMFS), option names shared with the gateway.


def _out(line):
    print(line)
    try:
        sys.stdout.flush()
    except AttributeError:
        pass


def _parse(argv, flags, values):
    """(positional, {name: value}) for --name value options and --flag switches."""
    pos = []
    opts = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a[:2] == "--":
            name = a[2:]
            if name in flags:
                opts[name] = True
            elif name in values and i + 1 < len(argv):
                i += 1
                opts[name] = argv[i]
            else:
                raise ValueError(a)
        else:
            pos.append(a)
        i += 1
    return pos, opts


def gateway_main(argv):
    from microticket.ike.gateway import main  # the responder's code: not loaded by ike-initiate
    return main(argv)


def initiate_main(argv):
    from microticket.ike import initiator as I, ticketstore, udp
    # Heap (MicroPython): a collection after every 768 bytes allocated instead of only when the heap is full. A
    # resumption requests ~60 KB in small transient objects; collected late, their garbage lies between the
    # objects that stay, and a 300-400 byte request (a datagram, an AES context, the new ticket's hex) then
    # finds no hole although several KB are free. Collected early, the heap stays packed in allocation order:
    # the smallest heap that works drops by ~1 KB (ROMFS 33.0-35.2 KB with pockets -> ~31.8 KB, every size
    # above it working), for ~80 collections of a small heap per resumption. Restored on return.
    import gc
    th = gc.threshold() if hasattr(gc, "threshold") else None  # (CPython's gc has no threshold())
    if th is not None:
        gc.threshold(768)
    s = None
    try:
        try:
            # (option names as one string split here, not tuples: a tuple of strings is one heap object per
            # string, made when the module is loaded)
            pos, o = _parse(argv, "nat-t full child no-ticket ticket-later delete debug-keys".split(),
                            "psk id remote-id store group groups auth-mode timeout".split())
            store = ticketstore.TicketStore(o["store"])
            if pos[:1] == ["logout"]:
                store.logout()
                _out("logout: tickets deleted")
                return 0
            host, port = pos
            port = int(port)
            psk = bytes.fromhex(o["psk"])
            group = int(o.get("group", 31))
            groups = [int(g) for g in o.get("groups", str(group)).split(",")]
            auth_mode = o.get("auth-mode", "signed")
            if not psk or group not in groups or [g for g in groups if g != 14 and g != 31] \
                    or auth_mode != "signed" and auth_mode != "message":
                raise ValueError("--psk, --group(s) or --auth-mode")
            groups = tuple(groups)
            timeout = float(o.get("timeout", 20))
            idi = o["id"]
        except (ValueError, KeyError) as e:
            # a missing option or value, bad hex, no HOST PORT, a group or mode not offered
            _out("usage error: %s" % e)
            return 2
        peer = "%s:%d" % (host, port)
        now = udp.now()
        later = "ticket-later" in o
        ini = I.Initiator(psk, idi, idr=o.get("remote-id"), group=group, groups=groups,
                          ticket=None if "full" in o else store.take(peer, now),
                          request_ticket="no-ticket" not in o and not later, child="child" in o,
                          marker="nat-t" in o or port != 500, auth_mode=auth_mode, debug_keys="debug-keys" in o)
        up = False
        s = udp.open_udp(host, port)
        a = udp.local_addrs(s, host, port) if ini.marker else None
        if a is not None:
            ini.addrs = a
        step = 0
        while True:
            for ev in udp.pump(ini, s, timeout, start=not step):
                # each event prints as "<kind>: <text>" (the kinds' own names, so few string constants)
                k = ev[0]
                if k == "ticket":
                    store.put(peer, ev[2])
                    _out("ticket: lifetime %d" % ev[1])
                elif k[:7] == "ticket_":   # ticket_ack|nack|none|expired|unusable|invalidated
                    k = k[7:]
                    if len(k) > 8:   # invalidated
                        store.delete(peer)
                    elif len(k) > 4:   # expired|unusable
                        _out("resume: " + k + " ticket not presented")
                    else:
                        _out("ticket: " + k)
                elif k == "keys":
                    from microticket.ike.dh import KEY_NAMES  # not loaded without --debug-keys
                    for name in KEY_NAMES:
                        _out("key: %s %s" % (name, ev[1][name]))
                    _out("key: group %d" % ini.group)
                elif k in "established failed closed resume_rejected child_refused".split():
                    # "established: full", "failed: WHY", "closed: WHY", "resume: rejected", "child: NAME"
                    if k[0] == "e":
                        up = True
                    i = k.find("_")
                    _out(k + ": " + ev[1] if i < 0 else k[:i] + ": " + (ev[1] if len(ev) > 1 else k[i + 1:]))
            if ini.state != I.ESTABLISHED:
                break
            if step == 0 and not ini.want_ticket and not later:
                _out("ticket: none")
            step += 1
            if step == 1 and later:
                ini.request_ticket(udp.now())
            elif step <= 2 and "delete" in o:
                step = 2
                ini.delete(udp.now())
            else:
                break
    finally:
        if s is not None:
            s.close()
        if th is not None:
            gc.threshold(th)
    return 0 if up and ini.state != I.FAILED else 1
