"""Mounting the rootfs containerd's snapshotter describes onto <bundle>/rootfs, and taking it down
(containerd's mount package: options split into flags and data, the same flag names)."""

from __future__ import annotations

import os
import time

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS = 0x1, 0x2, 0x4, 0x8, 0x10
MS_REMOUNT, MS_MANDLOCK, MS_DIRSYNC = 0x20, 0x40, 0x80
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 0x400, 0x800, 0x1000, 0x4000
MS_RELATIME, MS_STRICTATIME = 0x200000, 0x1000000

# option -> (clears the flag?, flag)
FLAGS = {
    "async": (True, MS_SYNCHRONOUS), "atime": (True, MS_NOATIME), "bind": (False, MS_BIND),
    "dev": (True, MS_NODEV), "diratime": (True, MS_NODIRATIME), "dirsync": (False, MS_DIRSYNC),
    "exec": (True, MS_NOEXEC), "mand": (False, MS_MANDLOCK), "noatime": (False, MS_NOATIME),
    "nodev": (False, MS_NODEV), "nodiratime": (False, MS_NODIRATIME), "noexec": (False, MS_NOEXEC),
    "nomand": (True, MS_MANDLOCK), "norelatime": (True, MS_RELATIME), "nostrictatime": (True, MS_STRICTATIME),
    "nosuid": (False, MS_NOSUID), "rbind": (False, MS_BIND | MS_REC), "relatime": (False, MS_RELATIME),
    "remount": (False, MS_REMOUNT), "ro": (False, MS_RDONLY), "rw": (True, MS_RDONLY),
    "strictatime": (False, MS_STRICTATIME), "suid": (True, MS_NOSUID), "sync": (False, MS_SYNCHRONOUS),
    "defaults": (False, 0),
}
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
EINVAL, EBUSY, ENOENT = 22, 16, 2


def parse_options(options: list[str]) -> tuple[int, str]:
    flags, data = 0, []
    for option in options:
        clear, flag = FLAGS.get(option, (False, 0))
        if option not in FLAGS:
            data.append(option)
        elif clear:
            flags &= ~flag
        else:
            flags |= flag
    return flags, ",".join(data)


def mount(type: str, source: str, target: str, options: list[str]) -> None:
    flags, data = parse_options(options)
    if len(data) > PAGE_SIZE:
        raise OSError(EINVAL, "mount options is too long")
    if not flags & MS_REMOUNT or data:
        _mount(source, target, type, flags, data)
    if flags & (MS_BIND | MS_RDONLY) == MS_BIND | MS_RDONLY:  # a bind mount only turns read-only on remount
        _mount("", target, "", flags | MS_REMOUNT, "")


def unmount_all(target: str) -> None:
    """Unmount everything stacked on `target` (nothing mounted, or no target, is fine)."""
    if not target or not os.path.exists(target):
        return
    while True:
        try:
            _unmount(target)
        except OSError as e:
            if e.errno == EINVAL:
                return
            raise


def _unmount(target: str) -> None:
    ctypes, libc = _libc()
    for _ in range(50):
        if libc.umount2(target.encode(), 0) == 0:
            return
        errno = ctypes.get_errno()
        if errno != EBUSY:
            raise OSError(errno, f"unmount {target}: {os.strerror(errno)}")
        time.sleep(0.05)
    raise OSError(EBUSY, f"failed to unmount target {target}: device or resource busy")


def _mount(source: str, target: str, type: str, flags: int, data: str) -> None:
    ctypes, libc = _libc()
    if libc.mount(source.encode(), target.encode(), type.encode(), ctypes.c_ulong(flags),
                  data.encode() if data else None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target} ({type}): {os.strerror(errno)}")


_LIBC: list = []


def _libc():
    if not _LIBC:
        import ctypes  # only shims that mount a rootfs pay for ctypes

        _LIBC.extend((ctypes, ctypes.CDLL(None, use_errno=True)))
    return _LIBC
