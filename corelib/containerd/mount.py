"""The few mount(2) calls containerd itself makes (ctypes, no dependency)."""

from __future__ import annotations

import ctypes
import errno
import os
import time

_libc = ctypes.CDLL(None, use_errno=True)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


def unmount(target: str, flags: int = 0) -> None:
    """umount2(target), retrying while busy (OSError otherwise)."""
    for _ in range(50):
        if _libc.umount2(os.fsencode(target), flags) == 0:
            return
        err = ctypes.get_errno()
        if err != errno.EBUSY:
            raise OSError(err, os.strerror(err), target)
        time.sleep(0.05)
    raise OSError(errno.EBUSY, f"failed to unmount target {target}", target)


def unmount_all(target: str) -> None:
    """Unmount everything stacked on `target` until it is no mount point (EINVAL)."""
    if not target or not os.path.exists(target):
        return
    while True:
        try:
            unmount(target)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                return
            raise
