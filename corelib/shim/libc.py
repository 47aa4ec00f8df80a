"""The two libc calls the shim's server makes on itself: prctl (to become the child subreaper) and
mallopt (to cap its malloc arenas, as MALLOC_ARENA_MAX would at exec).

Through _ctypes alone: ctypes' Python half (its types, struct, the CDLL machinery) would cost every
shim another 200 kB for two calls in its life.
"""

from __future__ import annotations

import _ctypes

PR_SET_CHILD_SUBREAPER = 36
M_ARENA_MAX = -8


class _Int(_ctypes._SimpleCData):
    _type_ = "i"


class _Function(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Int


class _Process:
    """The symbols already loaded in this process (dlopen(NULL)), where CFuncPtr looks them up."""

    _handle = _ctypes.dlopen(None)


def _call(name: str, *args: int) -> int:
    return _Function((name, _Process))(*args)


def set_child_subreaper() -> None:
    if _call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(_ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def set_arena_max(arenas: int) -> None:
    _call("mallopt", M_ARENA_MAX, arenas)  # returns 1 on success; a libc without it keeps its default
