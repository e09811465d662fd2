# Runs ON THE BOARD (a MicroPython board, or the virtual board): a microticket TLS 1.2 server with session
# tickets that measures, per handshake, the server's CPU time inside the TLS engine and its heap use.
# tools/board_demo.py sends it with `mpremote ... exec` after a line that sets CONFIG = {...}.
import gc
import socket
import time
import micropython
from microticket.ticket import KeyRing
from microticket.tls.server import TlsServer, ServerConfig


def now_s():
    return int(time.time())


def serve(cfg, lsock, report):
    conn, _ = lsock.accept()
    conn.settimeout(10)
    srv = TlsServer(cfg)
    gc.collect()
    live0 = gc.mem_alloc()
    total0 = micropython.mem_total()
    peak = live0
    cpu_us = 0
    hs_cpu = None
    hs_alloc = None
    try:
        while not srv.closed:
            data = conn.recv(2048)
            if not data:
                break
            t0 = time.ticks_us()
            events = srv.receive_data(data, now_s())
            out = srv.data_to_send()
            cpu_us += time.ticks_diff(time.ticks_us(), t0)
            live = gc.mem_alloc()
            if live > peak:
                peak = live
            for e in events:
                if e[0] == "handshake_done" and hs_cpu is None:
                    hs_cpu = cpu_us
                    hs_alloc = micropython.mem_total() - total0
                elif e[0] == "data" and not srv.closed:
                    srv.send(b"board says: " + e[1])
                    out = out + srv.data_to_send()
            if out:
                conn.write(out)
    except OSError:
        pass
    conn.close()
    report.append(("resumed" if srv.resumed else "full", hs_cpu, hs_alloc, peak - live0,
                   srv.suite_name(), srv.ticket_issued))


def main(cfg_dict):
    ring = KeyRing.load(cfg_dict["keys"]) if cfg_dict.get("keys") else KeyRing.generate(now_s())
    psk = {cfg_dict["identity"].encode(): bytes.fromhex(cfg_dict["psk"])}
    chain, key = None, None
    if cfg_dict.get("cert"):
        from microticket.pk import der, pem, rsa, rsa_sign
        with open(cfg_dict["cert"]) as f:
            chain = pem.read_pem_certs(f.read())
        with open(cfg_dict["key"]) as f:
            key = rsa_sign.load_private_key_pem(f.read())
        psk = None
    cfg = ServerConfig(ring, psk=psk, cert_chain=chain, key=key, max_fragment=cfg_dict.get("max_record", 2048))
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(socket.getaddrinfo("127.0.0.1", cfg_dict["port"])[0][-1])
    lsock.listen(1)
    print("listening", cfg_dict["port"])
    report = []
    for _ in range(cfg_dict.get("count", 2)):
        serve(cfg, lsock, report)
    lsock.close()
    for r in report:
        print("handshake %s cpu_us %s alloc %s live_peak %s suite %s ticket_issued %s" % r)
    gc.collect()
    print("heap after: mem_alloc %d mem_free %d" % (gc.mem_alloc(), gc.mem_free()))


main(CONFIG)  # noqa: F821 - set by the line tools/board_demo.py puts before this file
