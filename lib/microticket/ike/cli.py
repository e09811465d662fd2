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
        if a.startswith("--"):
            name = a[2:]
            if name in flags:
                opts[name] = True
            elif name in values:
                if i + 1 >= len(argv):
                    raise ValueError("missing value for " + a)
                opts[name] = argv[i + 1]
                i += 1
            else:
                raise ValueError("unknown option " + a)
        else:
            pos.append(a)
        i += 1
    return pos, opts


def _hex(s, name):
    try:
        b = bytes.fromhex(s)
    except ValueError:
        raise ValueError(name + " must be hex")
    if not b:
        raise ValueError(name + " is empty")
    return b


def gateway_main(argv):
    from microticket.ike.gateway import main  # the responder's code: not loaded by ike-initiate
    return main(argv)




def initiate_main(argv):
    try:
        pos, o = _parse(argv, ("nat-t", "full", "child", "no-ticket", "ticket-later", "delete", "debug-keys"),
                        ("psk", "id", "remote-id", "store", "group", "groups", "auth-mode", "timeout"))
        if pos[:1] == ["logout"]:
            if "store" not in o:
                raise ValueError("--store is required")
            from microticket.ike.ticketstore import TicketStore
            TicketStore(o["store"]).logout()
            _out("logout: tickets deleted")
            return 0
        if len(pos) != 2:
            raise ValueError("HOST PORT expected")
        host = pos[0]
        port = int(pos[1])
        for need in ("psk", "id", "store"):
            if need not in o:
                raise ValueError("--" + need + " is required")
        psk = _hex(o["psk"], "--psk")
        group = int(o.get("group", "31"))
        if group not in (14, 31):
            raise ValueError("--group must be 14 or 31")
        groups = (group,)
        if "groups" in o:
            groups = tuple([int(g) for g in o["groups"].split(",")])
            if group not in groups or [g for g in groups if g not in (14, 31)]:
                raise ValueError("--groups must list 14 and/or 31, --group among them")
        auth_mode = o.get("auth-mode", "signed")
        if auth_mode not in ("signed", "message"):
            raise ValueError("--auth-mode must be signed or message")
        timeout = float(o.get("timeout", "20"))
    except (ValueError, IndexError) as e:
        _out("usage error: " + str(e))
        return 2
    from microticket.ike.initiator import Initiator, ESTABLISHED, INFO_SENT, FAILED, CLOSED
    from microticket.ike.ticketstore import TicketStore
    from microticket.ike import udp
    store = TicketStore(o["store"])
    peer = "%s:%d" % (host, port)
    now = udp.now()
    rec = None if o.get("full") else store.take(peer, now)
    later = bool(o.get("ticket-later"))
    ini = Initiator(psk, o["id"], idr=o.get("remote-id"), group=group, groups=groups, ticket=rec,
                    request_ticket=not o.get("no-ticket") and not later, child=bool(o.get("child")),
                    marker=bool(o.get("nat-t")) or port != 500, auth_mode=auth_mode,
                    debug_keys=bool(o.get("debug-keys")))
    state = [False]  # established

    def report(events):
        for ev in events:
            k = ev[0]
            if k == "established":
                state[0] = True
                _out("established: " + ev[1])
            elif k == "ticket":
                store.put(peer, ev[2])
                _out("ticket: lifetime %d" % ev[1])
            elif k == "ticket_ack":
                _out("ticket: ack")
            elif k == "ticket_nack":
                _out("ticket: nack")
            elif k == "ticket_none":
                _out("ticket: none")
            elif k == "resume_rejected":
                _out("resume: rejected")
            elif k in ("ticket_expired", "ticket_unusable"):
                _out("resume: " + k[7:] + " ticket not presented")
            elif k == "child_refused":
                _out("child: " + ev[1])
            elif k == "ticket_invalidated":
                store.delete(peer)
            elif k == "keys":
                from microticket.ike.dh import KEY_NAMES  # not loaded without --debug-keys
                for name in KEY_NAMES:
                    _out("key: %s %s" % (name, ev[1][name]))
                _out("key: group %d" % ini.group)
            elif k == "failed":
                _out("failed: " + ev[1])
            elif k == "closed":
                _out("closed: " + ev[1])

    s = udp.open_udp(host, port)
    try:
        if ini.marker:
            ini.addrs = udp.local_addrs(s, host, port)
        report(udp.pump(ini, s, timeout))
        if ini.state == ESTABLISHED and not ini.want_ticket and not later:
            _out("ticket: none")
        if ini.state == ESTABLISHED and later:
            ini.request_ticket(udp.now())
            report(udp.pump(ini, s, timeout, start=False))
        if ini.state == ESTABLISHED and o.get("delete"):
            ini.delete(udp.now())
            report(udp.pump(ini, s, timeout, start=False))
    finally:
        s.close()
    if not state[0] or ini.state == FAILED:
        return 1
    return 0
