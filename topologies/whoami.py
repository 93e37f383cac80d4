"""A service backend that answers with the pod's name, for many pods in one process.

``python -m taplab.topologies.whoami NETNS:POD:PORT:PROTO ...`` opens, for each
argument, a listening socket inside that network namespace (``setns`` on the
calling thread, then back), and answers every TCP connection with a short HTTP
response whose body is the pod name (``curl 10.96.0.10`` prints ``pod3``), and
every UDP datagram with the pod name. One process serves a whole cluster::

    $ curl -s 10.96.0.10
    pod3
"""

import ctypes
import os
import selectors
import socket
import sys

CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


def open_socket(netns: str, port: int, proto: str) -> socket.socket:
    """A socket bound to port inside named namespace netns."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        _setns(target)
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        if proto == "tcp":
            sock.listen(64)
        return sock
    finally:
        _setns(home)
        os.close(target)
        os.close(home)


def reply(name: str) -> bytes:
    body = f"{name}\n".encode()
    return (
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )


def serve(specs: list[str]) -> None:
    sel = selectors.DefaultSelector()
    for spec in specs:
        netns, pod, port, proto = spec.split(":")
        sel.register(open_socket(netns, int(port), proto), selectors.EVENT_READ, (pod, proto))
    print("serving", len(specs), "endpoints", flush=True)
    while True:
        for key, _ in sel.select():
            pod, proto = key.data
            if proto == "udp":
                _data, peer = key.fileobj.recvfrom(2048)
                key.fileobj.sendto(f"{pod}\n".encode(), peer)
                continue
            conn, _ = key.fileobj.accept()
            with conn:
                conn.settimeout(1.0)
                try:
                    conn.recv(4096)
                    conn.sendall(reply(pod))
                except OSError:
                    pass


if __name__ == "__main__":
    serve(sys.argv[1:])
