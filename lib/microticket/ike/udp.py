"""Thin blocking UDP drivers around the sans-IO engines (same code on MicroPython and CPython).

    run_initiator(ini, host, port, timeout=30, done=None) -> list of events

The gateway's loop is gateway.serve(gw, port, host="0.0.0.0", ready=None, stop=None, after=None) (not here:
an initiator does not load it). With it, the only places in microticket.ike that read a clock or touch a
socket. On MicroPython (no recv_into) each datagram is received with recv(n), n taken from a MSG_PEEK of its
IKE header where the port has MSG_PEEK (the unix port does), so no MTU-sized block is allocated per datagram.
"""

import socket
import select
import time
from micropython import const

from microticket.ike import initiator as I
from microticket.ike import keys as K

_MAX_DGRAM = const(3000)  # gateway side: bounded like the codec (message.MAX_MESSAGE)
_MAX_RECV = const(1500)  # initiator side on MicroPython (no recv_into there): one Ethernet MTU; the largest response of
# this profile (IKE_SA_INIT with a group-14 KE, IKE_AUTH with a ticket) is under 600 bytes


now = time.time  # (an alias, not a function: one less object in the heap)


def open_udp(host, port):
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
    s = socket.socket(ai[0], socket.SOCK_DGRAM)
    s.connect(ai[-1])
    return s


def local_addrs(s, host, port):
    """(local_ip4, local_port, remote_ip4, remote_port) for NAT detection when the socket can tell
    (CPython); None on ports without getsockname (the MicroPython unix port)."""
    if not hasattr(s, "getsockname"):
        return None
    try:
        lip, lport = s.getsockname()[:2]
        rip = s.getpeername()[0]
        return (K.ip4_bytes(lip), lport, K.ip4_bytes(rip), port)
    except (OSError, ValueError):
        return None


def pump(ini, s, timeout, done=None, start=True):
    """Drive ``ini`` over the connected socket ``s`` until ``done(ini)`` (default: settled) or timeout.
    Returns the events seen."""
    events = []
    t0 = now()
    if start:
        ini.start(t0)
    poller = select.poll()
    poller.register(s, select.POLLIN)
    end = t0 + timeout
    # CPython: one receive buffer for the whole run. MicroPython sockets have no recv_into (their readinto
    # follows the no-short-reads stream policy and would merge datagrams), so recv() is used there, sized
    # by a MSG_PEEK of the header where the port has one (no 1500-byte block per datagram), else bounded by
    # one MTU.
    recv_into = getattr(s, "recv_into", None)
    mv = memoryview(bytearray(_MAX_DGRAM)) if recv_into is not None else None
    peek = None if recv_into is not None else getattr(socket, "MSG_PEEK", None)
    while True:
        for d in ini.datagrams():
            try:
                s.send(d)
            except OSError:
                pass
        events.extend(ini.events())
        if done(ini) if done is not None else (ini.state >= I.ESTABLISHED and ini.state != I.INFO_SENT
                                               and ini.deadline() is None):
            return events
        t = now()
        if t >= end:
            events.append(("failed", "driver timeout"))
            return events
        dl = ini.deadline()
        wait = end - t if dl is None else min(dl, end) - t
        ms = int(wait * 1000) + 1
        if ms < 1:
            ms = 1
        if poller.poll(ms):
            try:
                if recv_into is not None:
                    data = mv[:recv_into(mv)]
                elif peek is not None:
                    # receive the IKE length field (after a non-ESP marker) plus one byte, so a datagram longer
                    # than its length field still arrives longer and the codec drops it as before; a short
                    # one is taken whole
                    h = s.recv(32, peek)
                    o = 4 if h[:4] == b"\x00\x00\x00\x00" else 0
                    n = len(h) + 1
                    if n > o + 28:
                        n = o + ((h[o + 24] << 24) | (h[o + 25] << 16) | (h[o + 26] << 8) | h[o + 27]) + 1
                    data = s.recv(_MAX_RECV if n > _MAX_RECV or n < 1 else n)
                else:
                    data = s.recv(_MAX_RECV)
            except TypeError:  # a port whose recv takes no flags: the datagram is still queued
                peek = None
                continue
            except OSError:
                continue
            if data:
                ini.receive(data, now())
        else:
            ini.on_timer(now())


def run_initiator(ini, host, port, timeout=30, done=None):
    s = open_udp(host, port)
    try:
        if ini.addrs is None and ini.marker:
            a = local_addrs(s, host, port)
            if a is not None:  # (None: the instance keeps the class default)
                ini.addrs = a
        return pump(ini, s, timeout, done)
    finally:
        s.close()

