"""A memory-mapped receive ring for an AF_PACKET socket (TPACKET_V3, PACKET_RX_RING).

The kernel fills blocks of frames in memory shared with the process; the
process reads a whole block without a system call per frame and hands the
block back. A block is retired to the process when full or after
``timeout_ms``::

    ring = PacketRing(sock, block_size=1 << 20, blocks=8, timeout_ms=10)
    for frame in ring.frames(wait_ms=500):   # the frames of the blocks ready now
        ...
"""

import ctypes
import mmap
import select
import socket
import struct
from collections.abc import Iterator

SOL_PACKET = 263
PACKET_RX_RING, PACKET_VERSION = 5, 10
TPACKET_V3 = 2
TP_STATUS_KERNEL, TP_STATUS_USER = 0, 1
FRAME_SIZE = 2048  # the kernel's unit for frame_nr; V3 packs frames of any size in a block
# struct tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1
# (block_status, num_pkts, offset_to_first_pkt, ...)
BLOCK_STATUS, NUM_PKTS = 8, 12
# struct tpacket3_hdr: tp_next_offset, tp_sec, tp_nsec, tp_snaplen, tp_len, tp_status,
# tp_mac (u16), tp_net (u16)
FRAME_HDR = struct.Struct("<IIIIIIHH")


SO_ATTACH_FILTER = 26
_FILTER_INSN = struct.Struct("HBBI")  # struct sock_filter: code, jt, jf, k


def skip_udp_to(sock: socket.socket, addr: str) -> None:
    """A classic BPF filter on sock: IPv4 UDP datagrams (and their fragments) to addr
    never reach it; everything else does, whole."""
    dst = int.from_bytes(socket.inet_aton(addr), "big")
    program = [
        (0x28, 0, 0, 12),  # ldh [12]       ethertype
        (0x15, 0, 5, 0x0800),  # jeq IPv4, else accept
        (0x30, 0, 0, 23),  # ldb [23]       IP protocol
        (0x15, 0, 3, 17),  # jeq UDP, else accept
        (0x20, 0, 0, 30),  # ld [30]        destination address
        (0x15, 0, 1, dst),  # jeq addr, else accept
        (0x06, 0, 0, 0),  # ret 0          drop
        (0x06, 0, 0, 0x40000),
    ]  # ret 256 KiB    accept
    code = ctypes.create_string_buffer(b"".join(_FILTER_INSN.pack(*i) for i in program))
    sock.setsockopt(
        socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack("HL", len(program), ctypes.addressof(code))
    )


class PacketRing:
    """The RX ring of sock (an AF_PACKET socket, before it is bound)."""

    def __init__(
        self, sock: socket.socket, block_size: int = 1 << 20, blocks: int = 8, timeout_ms: int = 10
    ):
        self.sock, self.block_size, self.blocks = sock, block_size, blocks
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, struct.pack("i", TPACKET_V3))
        req = struct.pack(
            "7I",
            block_size,
            blocks,
            FRAME_SIZE,
            block_size // FRAME_SIZE * blocks,
            timeout_ms,
            0,
            0,
        )
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
        self.map = mmap.mmap(
            sock.fileno(), block_size * blocks, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE
        )
        self.view = memoryview(self.map)
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN | select.POLLERR)
        self.current = 0

    def _ready(self, base: int) -> bool:
        return struct.unpack_from("I", self.map, base + BLOCK_STATUS)[0] & TP_STATUS_USER

    def frames(self, wait_ms: int) -> Iterator[memoryview]:
        """The frames of every block ready now (waiting up to wait_ms for the first);
        each frame is valid until the next one is asked for."""
        base = self.current * self.block_size
        if not self._ready(base):
            self.poller.poll(wait_ms)
        while self._ready(base):
            count, offset = struct.unpack_from("II", self.map, base + NUM_PKTS)
            offset += base
            for _ in range(count):
                next_offset, _s, _ns, snaplen, _len, _st, mac, _net = FRAME_HDR.unpack_from(
                    self.map, offset
                )
                yield self.view[offset + mac : offset + mac + snaplen]
                offset += next_offset
            struct.pack_into("I", self.map, base + BLOCK_STATUS, TP_STATUS_KERNEL)
            self.current = (self.current + 1) % self.blocks
            base = self.current * self.block_size

    def close(self) -> None:
        self.view.release()
        self.map.close()
