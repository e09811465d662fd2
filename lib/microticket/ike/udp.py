"""Thin blocking UDP drivers around the sans-IO engines (same code on MicroPython and CPython).

    run_initiator(ini, host, port, timeout=30, done=None) -> list of events
    serve_gateway(gw, port, host="0.0.0.0", ready=None, stop=None)

The only places in microticket.ike that read a clock or touch a socket.
"""

import socket
import select
import time

from microticket.ike import initiator as I
from microticket.ike import keys as K

_MAX_DGRAM = 3000  # gateway side: bounded like the codec (message.MAX_MESSAGE)
_MAX_RECV = 1500  # initiator side on MicroPython (no recv_into there): one Ethernet MTU; the largest response of
# this profile (IKE_SA_INIT with a group-14 KE, IKE_AUTH with a ticket) is under 600 bytes


def now():
    return time.time()


def _settled(ini):
    return ini.state in (I.ESTABLISHED, I.FAILED, I.CLOSED) and ini.deadline() is None


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
    done = done or _settled
    events = []
    t0 = now()
    if start:
        ini.start(t0)
    poller = select.poll()
    poller.register(s, select.POLLIN)
    end = t0 + timeout
    # CPython: one receive buffer for the whole run. MicroPython sockets have no recv_into (their readinto
    # follows the no-short-reads stream policy and would merge datagrams), so recv() is used there.
    recv_into = getattr(s, "recv_into", None)
    mv = memoryview(bytearray(_MAX_DGRAM)) if recv_into is not None else None
    while True:
        for d in ini.datagrams():
            try:
                s.send(d)
            except OSError:
                pass
        events.extend(ini.events())
        if done(ini):
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
        res = poller.poll(ms)
        if res:
            try:
                if recv_into is not None:
                    data = mv[:recv_into(mv)]
                else:
                    data = s.recv(_MAX_RECV)
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
            ini.addrs = local_addrs(s, host, port)
        return pump(ini, s, timeout, done)
    finally:
        s.close()


def _peer_key(addr):
    if isinstance(addr, tuple):
        try:
            return K.ip4_bytes(addr[0]) + bytes((addr[1] >> 8, addr[1] & 0xFF))
        except ValueError:
            return str(addr).encode()
    return bytes(addr)


def serve_gateway(gw, port, host="0.0.0.0", ready=None, stop=None, after=None):
    """Answer IKE datagrams on (host, port) forever (or until ``stop()`` is true); ``after()`` runs after
    each datagram (the CLI prints the gateway's events there)."""
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
    s = socket.socket(ai[0], socket.SOCK_DGRAM)
    s.bind(ai[-1])
    if ready is not None:
        ready()
    poller = select.poll()
    poller.register(s, select.POLLIN)
    try:
        while stop is None or not stop():
            if not poller.poll(500):
                continue
            try:
                data, addr = s.recvfrom(_MAX_DGRAM)
            except OSError:
                continue
            for d in gw.handle(data, now(), _peer_key(addr)):
                try:
                    s.sendto(d, addr)
                except OSError:
                    pass
            if after is not None:
                after()
    finally:
        s.close()
