# node: pod1
# keep running
"""Exercise 07, solution: the published sidecar tap.

Runs in the pod's namespace next to the application: reads every frame on eth0
(AF_PACKET, ETH_P_ALL: both directions), prepends a VXLAN header (VNI 42) in user
space and sends it to the collector on UDP 4789, skipping its own copies.
"""

import socket
import struct

ETH_P_ALL = 0x0003
COLLECTOR = ("10.244.1.4", 4789)
VNI = 42
VXLAN_HEADER = struct.pack("!II", 0x08 << 24, VNI << 8)  # flags: I (VNI valid); VNI
OWN = socket.inet_aton(COLLECTOR[0])


def is_own_copy(frame: bytes) -> bool:
    """An IPv4 UDP datagram to the collector's VXLAN port: one of ours."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return False
    udp = 14 + (frame[14] & 0x0F) * 4
    return frame[30:34] == OWN and frame[udp + 2 : udp + 4] == struct.pack("!H", COLLECTOR[1])


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
