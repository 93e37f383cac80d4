# node: pod1
# keep running
"""Exercise 07: the published sidecar tap.

Runs in the pod's namespace next to the application: reads every frame on eth0
(AF_PACKET, ETH_P_ALL: both directions), prepends a VXLAN header (VNI 42) in user
space and sends it to the collector on UDP 4789, skipping its own copies.
Start it (it keeps running; running it again restarts it):
    sudo taplab exercise run 07 sidecar.py
"""

import socket
import struct  # noqa: F401 - for TODO 1 and 2

ETH_P_ALL = 0x0003
COLLECTOR = ("10.244.1.4", 4789)
VNI = 42
# TODO 1: the 8-byte VXLAN header (RFC 7348): flags byte 0x08 (the VNI is valid),
#         3 reserved bytes, the 24-bit VNI, 1 reserved byte (struct.pack("!II", ...)).
VXLAN_HEADER = b""
OWN = socket.inet_aton(COLLECTOR[0])


def is_own_copy(frame: bytes) -> bool:
    """An IPv4 UDP datagram to the collector's VXLAN port: one of ours."""
    # TODO 2: True for IPv4 (EtherType 0x0800 at bytes 12-13) UDP (protocol 17, byte 23)
    #         to OWN (IPv4 destination, bytes 30-33) port 4789 (after the IP header,
    #         whose length is (frame[14] & 0x0F) * 4). Until then: nothing is sent,
    #         because sending our own copies would copy them again, forever.
    return True


def main() -> None:
    capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    capture.bind(("eth0", 0))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    print("sidecar ready: copying eth0 to", COLLECTOR, flush=True)
    while True:
        frame = capture.recv(65535)
        if not is_own_copy(frame):
            out.sendto(VXLAN_HEADER + frame, COLLECTOR)


if __name__ == "__main__":
    main()
