"""The real dockerd 20.10 on whale-containerd (`dockerd --containerd=<our socket>`): it runs containers
through our Tasks API and learns their exits only from our /tasks/exit events."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import pytest

from tests.integration.containerd.harness import WhaleContainerd, wait_for
from tests.support.real_dockerd import DOCKER_CLI_28, RealDockerd


@pytest.fixture(scope="module")
def dockerd(busybox_tar) -> Iterator[tuple[RealDockerd, WhaleContainerd]]:  # noqa: ANN001
    with WhaleContainerd() as ctd, RealDockerd(containerd_address=ctd.address) as docker:
        docker.docker("load", "-i", str(busybox_tar))
        yield docker, ctd


def test_run_rm_prints_hi(dockerd):
    docker, ctd = dockerd
    result = docker.docker("run", "--rm", "--network", "none", "busybox", "echo", "hi", cli=DOCKER_CLI_28)
    assert result.stdout == "hi\n"
    assert ctd.ctr("task", "ls", "-q", namespace="moby").stdout == ""
    assert ctd.ctr("containers", "ls", "-q", namespace="moby").stdout == ""


def test_exit_codes_come_back_through_events(dockerd):
    docker, _ = dockerd
    result = docker.docker("run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; exit 7", check=False)
    assert (result.returncode, result.stdout) == (7, "out\n")


def test_run_detached_stop_and_rm(dockerd):
    docker, ctd = dockerd
    since = _now(docker)
    cid = docker.docker("run", "-d", "--network", "none", "busybox", "sleep", "1000").stdout.strip()
    assert ctd.ctr("task", "ls", "-q", namespace="moby").stdout.split() == [cid]
    assert json.loads(docker.docker("inspect", cid).stdout)[0]["State"]["Running"] is True
    docker.docker("stop", "-t", "1", cid)
    state = json.loads(docker.docker("inspect", cid).stdout)[0]["State"]
    assert (state["Running"], state["ExitCode"]) == (False, 137)
    assert docker.docker("wait", cid).stdout.strip() == "137"
    docker.docker("rm", cid)
    events = docker.docker("events", "--since", since, "--until", _now(docker), "--filter", f"container={cid}",
                           "--format", "{{.Action}} {{index .Actor.Attributes \"exitCode\"}}").stdout.split("\n")
    assert "die 137" in events
    assert ctd.ctr("task", "ls", "-q", namespace="moby").stdout == ""
    assert ctd.ctr("containers", "ls", "-q", namespace="moby").stdout == ""


def _now(docker: RealDockerd) -> str:
    return docker.docker("info", "-f", "{{.SystemTime}}").stdout.strip()


def test_exec_top_pause_stats_update_restart(dockerd):
    docker, ctd = dockerd
    cid = docker.docker("run", "-d", "--network", "none", "busybox", "sleep", "1000").stdout.strip()
    assert docker.docker("exec", cid, "echo", "exec-ok").stdout == "exec-ok\n"
    assert docker.docker("exec", cid, "sh", "-c", "exit 3", check=False).returncode == 3
    assert "sleep 1000" in docker.docker("top", cid).stdout
    docker.docker("pause", cid)
    assert ctd.ctr("task", "ls", namespace="moby").stdout.split()[-1] == "PAUSED"
    docker.docker("unpause", cid)
    assert "/" in docker.docker("stats", "--no-stream", "--format", "{{.MemUsage}}", cid, cli=DOCKER_CLI_28).stdout
    docker.docker("update", "--memory", "64m", "--memory-swap", "128m", cid)
    first_pid = json.loads(docker.docker("inspect", cid).stdout)[0]["State"]["Pid"]
    docker.docker("restart", "-t", "0", cid)
    state = json.loads(docker.docker("inspect", cid).stdout)[0]["State"]
    assert state["Running"] and state["Pid"] != first_pid
    docker.docker("rm", "-f", cid)
    assert ctd.ctr("task", "ls", "-q", namespace="moby").stdout == ""


def test_dockerd_carries_on_across_a_kill_9_of_whale_containerd(dockerd):
    docker, ctd = dockerd
    cid = docker.docker("run", "-d", "--network", "none", "busybox", "sleep", "1000").stdout.strip()
    ctd.restart(signal.SIGKILL)
    assert ctd.ctr("task", "ls", "-q", namespace="moby").stdout.split() == [cid]
    wait_for(lambda: docker.docker("stop", "-t", "1", cid, check=False).returncode == 0,
             message="dockerd to reach containerd again")
    state = json.loads(docker.docker("inspect", cid).stdout)[0]["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 137)  # the exit came through the new subscription
    docker.docker("rm", cid)
    assert docker.docker("run", "--rm", "--network", "none", "busybox", "echo", "still", cli=DOCKER_CLI_28).stdout \
        == "still\n"
