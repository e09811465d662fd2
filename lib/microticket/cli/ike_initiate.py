"""`ike-initiate HOST PORT ...` (IKEv2 with RFC 5723 resumption) and `ike-initiate logout --store F`.
Options and output: microticket.cli.usage (``ike-initiate --help``).

Heap (a board resuming runs this module; pinned, tests/ike/test_ike_micropython.py): one function, the
parser's names imported into its locals rather than the module's globals, few string constants (each is a
heap object of ~32-40 bytes even when the .mpy runs from ROMFS), option names as one string each.
"""


def main(argv):
    from microticket.cli import parse, fail, out  # (locals: no module globals to hold)
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
            if argv[:1] == ["logout"]:
                a = parse(argv[1:], "ike-initiate", "", "store", "")
            else:
                a = parse(argv, "ike-initiate", "nat-t full child no-ticket ticket-later delete debug-keys",
                          "psk:hex id remote-id store group:14..31 groups auth-mode timeout:1..86400",
                          "HOST PORT:1..65535")
            if a is None:
                return 0
            pos, o = a
            for k in ("store",) if not pos else ("store", "psk", "id"):
                if k not in o:
                    raise ValueError("need --" + k)
            if pos:
                host, port = pos
                group = o.get("group", 31)
                groups = o.get("groups", str(group)).split(",")
                auth_mode = o.get("auth-mode")  # (None: the reading learned for the peer, else "message")
                if [g for g in groups if g != "14" and g != "31"] or str(group) not in groups:
                    raise ValueError("--group and --groups offer 14 or 31, --group among --groups")
                if auth_mode is not None and auth_mode != "signed" and auth_mode != "message":
                    raise ValueError("--auth-mode must be signed or message, not %r" % auth_mode)
                groups = tuple([int(g) for g in groups])
        except ValueError as e:
            # a missing option or value, bad hex, no HOST PORT, a group or mode not offered
            return fail(e)
        store = ticketstore.TicketStore(o["store"])
        if not pos:
            store.logout()
            out("logout: tickets deleted")
            return 0
        psk = o["psk"]
        timeout = o.get("timeout", 20)
        # the ticket is the gateway's identity's (--remote-id: any gateway of a fleet sharing its tickets
        # resumes it, wherever the board lands next), else HOST:PORT's
        peer = o.get("remote-id") or "%s:%d" % (host, port)
        now = udp.now()
        later = "ticket-later" in o
        ini = I.Initiator(psk, o["id"], idr=o.get("remote-id"), group=group, groups=groups,
                          ticket=None if "full" in o else store.take(peer, now),
                          request_ticket="no-ticket" not in o and not later, child="child" in o,
                          marker="nat-t" in o or port != 500, auth_mode=auth_mode, debug_keys="debug-keys" in o)
        up = False
        why = ""  # " (resume failed: REASON)" after a failed resumption (the engine then runs a full exchange)
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
                    out("ticket: lifetime %d" % ev[1])
                elif k[:7] == "ticket_":   # ticket_ack|nack|none|expired|unusable|invalidated
                    k = k[7:]
                    if len(k) > 8:   # invalidated
                        store.delete(peer)
                    elif len(k) > 4:   # expired|unusable
                        out("resume: " + k + " ticket not presented")
                    else:
                        out("ticket: " + k)
                elif k == "keys":
                    from microticket.ike.dh import KEY_NAMES  # not loaded without --debug-keys
                    for name in KEY_NAMES:
                        out("key: %s %s" % (name, ev[1][name]))
                    out("key: group %d" % ini.group)
                elif k == "resume_failed":
                    why = " (resume failed: %s)" % ev[1]
                elif k in "established failed closed child_refused".split():
                    # "established: full[ (resume failed: WHY)]", "failed: WHY[ (resume failed: WHY)]",
                    # "closed: WHY", "child: NAME"
                    if k[0] == "e":
                        up = True
                    i = k.find("_")
                    out((k if i < 0 else k[:i]) + ": " + ev[1] + (why if k[0] != "c" else ""))
            if ini.state != I.ESTABLISHED:
                break
            if step == 0 and not ini.want_ticket and not later:
                out("ticket: none")
            step += 1
            if step == 1 and later:
                ini.request_ticket(udp.now())
            elif step <= 2 and "delete" in o:
                step = 2
                ini.delete(udp.now())
            else:
                break
    except OSError as e:
        # the store cannot be written, the host does not resolve, the network is unreachable
        return fail(e, 1)
    finally:
        if s is not None:
            s.close()
        if th is not None:
            gc.threshold(th)
    return 0 if up and ini.state != I.FAILED else 1
