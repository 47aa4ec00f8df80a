"""Mounting the rootfs containerd's snapshotter describes onto <bundle>/rootfs, and taking it down.

Done by util-linux's mount(8) and umount(8), which split the options into flags and data as
containerd's mount package does (and remount a read-only bind): the syscalls themselves would need
ctypes, which costs every shim half a megabyte of memory for two calls in its life.
"""

from __future__ import annotations

import os
import time

from corelib.shim.reaper import Reaper


class MountError(OSError):
    pass


def mount(reaper: Reaper, type: str, source: str, target: str, options: list[str]) -> None:
    argv = ["mount", "-n", "-t", type, *(["-o", ",".join(options)] if options else []), source, target]
    status, output = reaper.run(argv)
    if status != 0:
        raise MountError(output.decode(errors="replace").strip() or f"mount exited {status}")


def mounted(target: str) -> bool:
    target = os.path.realpath(target)
    with open("/proc/self/mountinfo", errors="surrogateescape") as f:
        return any(unescape(line.split()[4]) == target for line in f)


def unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in a path as octal escapes (\\040...)."""
    if "\\" not in field:
        return field
    raw, out, i = field.encode(errors="surrogateescape"), bytearray(), 0
    while i < len(raw):
        if raw[i] == 0x5C and raw[i + 1:i + 4].isdigit():
            out.append(int(raw[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return out.decode(errors="surrogateescape")


def unmount_all(reaper: Reaper, target: str) -> None:
    """Unmount everything stacked on `target` (nothing mounted, or no target, is fine)."""
    if not target or not os.path.exists(target):
        return
    while mounted(target):
        _unmount(reaper, target)


def _unmount(reaper: Reaper, target: str) -> None:
    for _ in range(50):  # busy for a moment while the container's last processes go (containerd waits too)
        status, output = reaper.run(["umount", target])
        if status == 0 or not mounted(target):
            return
        if b"busy" not in output:
            break
        time.sleep(0.05)
    raise MountError(output.decode(errors="replace").strip() or f"failed to unmount target {target}")
