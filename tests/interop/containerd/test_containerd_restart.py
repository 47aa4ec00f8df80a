"""Restart whale-containerd while containers run (SIGTERM, then kill -9): they keep running, and the
restarted daemon finds their shims again: the tasks are listed, exec-able, killable and deletable.
A shim that died while the daemon was down is cleaned up at start."""

from __future__ import annotations

import os
import signal

from tests.integration.containerd.harness import wait_for
from tests.interop.containerd.conftest import IMAGE
from tests.interop.containerd.test_containerd_ctr import bundles, no_bundles_left, shim_pid, task_status


def task_pids(ctd) -> dict[str, int]:  # noqa: ANN001
    rows = [line.split() for line in ctd.ctr("task", "ls").stdout.splitlines()[1:]]
    return {row[0]: int(row[1]) for row in rows}


def test_running_tasks_survive_sigterm_and_kill_9(whale):
    for name in ("keep1", "keep2"):
        whale.ctr("run", "-d", IMAGE, name, "sleep", "1000")
    before = task_pids(whale)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        whale.restart(sig)
        assert task_pids(whale) == before
        assert all(os.path.exists(f"/proc/{pid}") for pid in before.values())
        assert {task_status(whale, name) for name in before} == {"RUNNING"}
        probe = whale.ctr("task", "exec", "--exec-id", f"after-{sig.name.lower()}", "keep1", "echo", "still here")
        assert probe.stdout == "still here\n"
    for name in before:
        whale.ctr("task", "kill", "-s", "SIGKILL", name)
        wait_for(lambda n=name: task_status(whale, n) == "STOPPED", message=f"{name} to stop")
        whale.ctr("task", "delete", name)
        whale.ctr("containers", "rm", name)
    assert whale.ctr("task", "ls", "-q").stdout == ""
    no_bundles_left(whale)


def test_a_shim_that_died_while_the_daemon_was_down_is_cleaned_up_at_start(whale):
    whale.ctr("run", "-d", IMAGE, "orphan", "sleep", "1000")
    task_pid = task_pids(whale)["orphan"]
    shim = shim_pid(whale, "orphan")
    whale.kill(signal.SIGKILL)
    os.kill(shim, signal.SIGKILL)
    whale.start()
    assert "orphan" not in whale.ctr("task", "ls", "-q").stdout.split()
    assert bundles(whale) == []
    wait_for(lambda: not os.path.exists(f"/proc/{task_pid}"), message="the container of the dead shim to go")
    failed = whale.ctr("task", "delete", "orphan", check=False)
    assert failed.returncode != 0 and "not found" in failed.stderr
    whale.ctr("containers", "rm", "orphan")
