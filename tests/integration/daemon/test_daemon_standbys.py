"""Standby processes through the whole stack (corelib/standby.py): whaled's own whale-containerd keeps a spare
shim once a task is torn down, and the shims keep whale-runc standbys; with WHALE_STANDBY=0 in whaled's
environment (which its whale-containerd and the shims inherit) every binary is exec'd as before."""

from __future__ import annotations

import os

from tests.integration.daemon.harness import Whaled, wait_for
from tests.support.proc import cmdline, descendants, standbys


def spare_shims(pid: int) -> list[int]:
    found = []
    for standby in standbys(descendants(pid)):
        argv = cmdline(standby).split(b"\0")
        if any(a.endswith(b"containerd-shim-whale-v2") for a in argv) and b"standby" in argv:
            found.append(standby)
    return found


def test_a_stack_with_standbys_keeps_a_spare_shim_after_a_run():
    whaled = Whaled(prefix="wb-wds-").start()
    try:
        assert whaled.docker("run", "--rm", "busybox", "echo", "warm").stdout == "warm\n"
        spare = wait_for(lambda: spare_shims(whaled.proc.pid), what="a spare shim")[0]
        assert wait_for(lambda: len(standbys(descendants(spare))) == 3, what="its server and two whale-runc standbys")
        waiting = [cmdline(pid).split(b"\0") for pid in standbys(descendants(spare))]
        assert sum(any(a.endswith(b"whale-runc") for a in argv) for argv in waiting) == 2
        assert all(b"standby" in argv for argv in waiting)  # what ps shows for them until their order comes
        assert whaled.docker("run", "--rm", "busybox", "echo", "taken").stdout == "taken\n"
        assert not os.path.exists(f"/proc/{spare}")  # the spare was the second run's shim `start`
    finally:
        whaled.stop()


def test_a_stack_without_standbys_execs_every_binary(monkeypatch):
    monkeypatch.setenv("WHALE_STANDBY", "0")
    whaled = Whaled(prefix="wb-wds-").start()
    try:
        for word in ("plain", "again"):  # the second would take a spare shim, if there were one
            assert whaled.docker("run", "--rm", "busybox", "echo", word).stdout == f"{word}\n"
        assert standbys(descendants(whaled.proc.pid)) == []
    finally:
        whaled.stop()
