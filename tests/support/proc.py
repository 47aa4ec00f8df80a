"""A process tree read from /proc: children, descendants, command lines, and which processes are
standbys (started ahead of their command, corelib/standby.py)."""

from __future__ import annotations

import os

from corelib import standby


def parents() -> dict[int, int]:
    """{pid: parent pid} of every process now."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    found[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return found


def children(pid: int) -> list[int]:
    return [child for child, parent in parents().items() if parent == pid]


def descendants(pid: int) -> list[int]:
    tree = parents()
    found, frontier = [], [pid]
    while frontier:
        frontier = [child for child, parent in tree.items() if parent in frontier]
        found += frontier
    return found


def cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read()


def standbys(pids: list[int]) -> list[int]:
    """Those of `pids` started as standbys (WHALE_STANDBY_FD in the environment they began with)."""
    marker = f"\0{standby.ENV}=".encode()
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker in b"\0" + f.read():
                    found.append(pid)
        except OSError:
            continue
    return found
