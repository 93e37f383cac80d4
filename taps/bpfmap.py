"""eBPF maps read by file descriptor with the bpf(2) system call: no bcc, no compiler.

A tap compiles and attaches its program with bcc, then replaces itself (exec)
with a small reader that inherits the maps' descriptors, so the running tap
does not keep LLVM resident::

    counters = Map(fd, key_size=4, value_size=8, per_cpu=True)
    counters.lookup(struct.pack("I", 0))   # one bytes value per CPU, concatenated
    flows = Map(fd, 16, 16)
    for key, value in flows.items(): ...
"""

import ctypes
import errno
import os
import platform

SYS_BPF = {"x86_64": 321, "aarch64": 280}[platform.machine()]
MAP_LOOKUP_ELEM, MAP_GET_NEXT_KEY = 1, 4
_libc = ctypes.CDLL(None, use_errno=True)


def bpf(cmd: int, attr) -> int:
    """The bpf(2) system call with attr (a ctypes object): its result, -1 with errno set
    on failure."""
    return _libc.syscall(SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))


class _ElemAttr(ctypes.Structure):
    """The bpf_attr member of the map element commands."""

    _fields_ = [
        ("map_fd", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("key", ctypes.c_uint64),
        ("value", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
    ]


def possible_cpus() -> int:
    """How many CPUs the kernel sizes per-CPU values for (``0-1`` -> 2)."""
    with open("/sys/devices/system/cpu/possible") as f:
        spans = f.read().strip().split(",")
    return sum(int(s.split("-")[-1]) - int(s.split("-")[0]) + 1 for s in spans)


class Map:
    """One map, by descriptor, with its key and value sizes."""

    def __init__(self, fd: int, key_size: int, value_size: int, per_cpu: bool = False):
        self.fd, self.key_size = fd, key_size
        self.value_size = ((value_size + 7) // 8 * 8) * possible_cpus() if per_cpu else value_size

    def _call(self, cmd: int, key: bytes | None, out: ctypes.Array) -> bool:
        """False when the key is not there (or, for next key, was the last)."""
        key_buf = ctypes.create_string_buffer(key, self.key_size) if key is not None else None
        attr = _ElemAttr(
            map_fd=self.fd,
            key=ctypes.addressof(key_buf) if key_buf else 0,
            value=ctypes.addressof(out),
        )
        if bpf(cmd, attr) == 0:
            return True
        err = ctypes.get_errno()
        if err == errno.ENOENT:
            return False
        raise OSError(err, f"bpf map command {cmd} on fd {self.fd}: {os.strerror(err)}")

    def lookup(self, key: bytes) -> bytes | None:
        out = ctypes.create_string_buffer(self.value_size)
        return out.raw if self._call(MAP_LOOKUP_ELEM, key, out) else None

    def keys(self) -> list[bytes]:
        """Every key; a walk that comes back to a key it saw (the kernel restarts it when
        the current key was evicted meanwhile) ends there."""
        found, key = {}, None
        out = ctypes.create_string_buffer(self.key_size)
        while self._call(MAP_GET_NEXT_KEY, key, out) and out.raw not in found:
            key = out.raw
            found[key] = None
        return list(found)

    def items(self) -> list[tuple[bytes, bytes]]:
        """Every (key, value); a key evicted meanwhile is left out."""
        pairs = ((key, self.lookup(key)) for key in self.keys())
        return [(key, value) for key, value in pairs if value is not None]
