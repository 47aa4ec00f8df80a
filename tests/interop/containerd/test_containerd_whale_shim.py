"""whale-containerd with our own shim (`io.containerd.whale.v2`, containerd-shim-whale-v2) over whale-runc
(found on PATH, as the shim looks for it): the whole Whalebone stack below ctr."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration.containerd.harness import WhaleContainerd, wait_for
from tests.interop.containerd.conftest import IMAGE
from tests.interop.containerd.test_containerd_ctr import no_bundles_left, task_status
from tests.support.env import venv_bin
from tests.support.proc import children, cmdline, standbys

RUNTIME = "io.containerd.whale.v2"


@pytest.fixture(scope="module")
def whale(busybox_tar) -> Iterator[WhaleContainerd]:  # noqa: ANN001
    venv_bin("containerd-shim-whale-v2")
    with WhaleContainerd(extra_path=[os.path.dirname(venv_bin("whale-runc"))]) as ctd:
        ctd.ctr("images", "import", str(busybox_tar))
        yield ctd


def test_run_rm_through_our_shim(whale):
    result = whale.ctr("run", "--rm", "--runtime", RUNTIME, IMAGE, "ours-rm", "sh", "-c", "echo via-our-shim; exit 5",
                       check=False)
    assert (result.returncode, result.stdout) == (5, "via-our-shim\n"), result.stderr
    assert whale.ctr("containers", "ls", "-q").stdout == ""
    no_bundles_left(whale)


def test_detached_task_survives_a_restart_of_whale_containerd(whale):
    whale.ctr("run", "-d", "--runtime", RUNTIME, IMAGE, "ours-detached", "sleep", "1000")
    pid = whale.ctr("task", "ls").stdout.splitlines()[1].split()[1]
    whale.restart()
    assert whale.ctr("task", "ls").stdout.splitlines()[1].split()[1:] == [pid, "RUNNING"]
    assert whale.ctr("task", "exec", "--exec-id", "probe", "ours-detached", "echo", "alive").stdout == "alive\n"
    whale.ctr("task", "kill", "-s", "SIGKILL", "ours-detached")
    wait_for(lambda: task_status(whale, "ours-detached") == "STOPPED", message="our shim's task to stop")
    whale.ctr("task", "delete", "ours-detached")
    whale.ctr("containers", "rm", "ours-detached")
    no_bundles_left(whale)


def test_the_next_task_takes_the_spare_shim_whose_server_is_ready(whale):
    """Once a task of our shim is torn down, whale-containerd keeps a spare of it: `start` started ahead,
    with its server forked and whale-runc's standbys waiting. The next task's `start` is that spare."""
    whale.ctr("run", "--rm", "--runtime", RUNTIME, IMAGE, "ours-first", "true")
    spare = wait_for(lambda: standbys(children(whale.proc.pid)), message="a spare shim after the first task")[0]
    server = wait_for(lambda: children(spare), message="the spare's server")[0]
    runc_standbys = wait_for(lambda: len(standbys(children(server))) == 2 and standbys(children(server)),
                             message="whale-runc standbys")
    for pid in runc_standbys:  # as ps shows them while they wait: `whale-runc standby`, and blank room
        argv = [a for a in cmdline(pid).split(b"\0") if a.strip()]
        assert argv[-2].endswith(b"whale-runc") and argv[-1] == b"standby"
    whale.ctr("run", "-d", "--runtime", RUNTIME, IMAGE, "ours-spare", "sleep", "1000")
    try:
        assert not os.path.exists(f"/proc/{spare}")  # it was the task's `start`, and has exited
        assert b"ours-spare" in cmdline(server)  # its server serves the task
        assert whale.ctr("task", "exec", "--exec-id", "probe", "ours-spare", "echo", "served").stdout == "served\n"
        assert not any(os.path.exists(f"/proc/{p}") for p in runc_standbys)  # they were create and start
    finally:
        whale.ctr("task", "kill", "-s", "SIGKILL", "ours-spare")
        wait_for(lambda: task_status(whale, "ours-spare") == "STOPPED", message="the task to stop")
        whale.ctr("task", "delete", "ours-spare")
        whale.ctr("containers", "rm", "ours-spare")
    no_bundles_left(whale)
