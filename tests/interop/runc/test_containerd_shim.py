"""The real containerd-shim-runc-v2 driving whale-runc: a real containerd started by the test with its
own root, state and socket; `ctr run --runc-binary whale-runc --rootfs DIR` runs the container, prints
its output, returns its exit status, and the shim's exec/ps/pause/kill/tty paths work through it."""

from __future__ import annotations

import os
import time

import pytest

from tests.integration.runc.conftest import run_in_pty
from tests.support.real_containerd import RealContainerd


@pytest.fixture(scope="module")
def containerd():
    with RealContainerd() as ctd:
        yield ctd


def shim_root(ctd: RealContainerd) -> str:
    """Where containerd-shim-runc-v2 tells its runtime to keep state (`--root`)."""
    return f"/run/containerd/runc/{ctd.namespace}"


def left_behind(ctd: RealContainerd, container_id: str) -> list[str]:
    found = []
    if os.path.isdir(os.path.join(shim_root(ctd), container_id)):
        found.append("state directory")
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        if container_id in dirs:
            found.append(os.path.join(top, container_id))
    return found


def test_ctr_run_prints_output_and_returns_exit_status(containerd, whale_bin, rootfs_copy):
    result = containerd.ctr("run", "--rm", "--runc-binary", whale_bin, "--rootfs", str(rootfs_copy), "shim-run",
                            "/bin/sh", "-c", "echo hello from whale-runc; echo to stderr >&2; exit 5", check=False)
    assert result.stdout == "hello from whale-runc\n"
    assert "to stderr" in result.stderr
    assert result.returncode == 5
    assert left_behind(containerd, "shim-run") == []
    assert containerd.ctr("task", "ls", "-q").stdout.strip() == ""


def test_runtime_errors_reach_ctr_in_runcs_words(containerd, whale_bin, rootfs_copy):
    """(ctr --rootfs gives no PATH: a bare `sh` is not found, by runc as by whale-runc; hence /bin/...)"""
    result = containerd.ctr("run", "--rm", "--runc-binary", whale_bin, "--rootfs", str(rootfs_copy), "shim-bad",
                            "/nonexistent", check=False)
    assert result.returncode != 0
    assert ('OCI runtime create failed: runc create failed: unable to start container process: exec: '
            '"/nonexistent": stat /nonexistent: no such file or directory') in result.stderr
    containerd.ctr("containers", "rm", "shim-bad", check=False)
    assert left_behind(containerd, "shim-bad") == []


def test_detached_task_exec_ps_pause_resume_kill(containerd, whale_bin, rootfs_copy):
    cid = "shim-detached"
    containerd.ctr("run", "-d", "--runc-binary", whale_bin, "--rootfs", str(rootfs_copy), cid, "/bin/sleep", "100")
    try:
        tasks = containerd.ctr("task", "ls").stdout
        assert cid in tasks and "RUNNING" in tasks
        assert os.path.exists(os.path.join(shim_root(containerd), cid, "state.json"))  # whale-runc's own state
        exec_result = containerd.ctr("task", "exec", "--exec-id", "e1", cid, "/bin/sh", "-c", "echo $$; exit 4",
                                     check=False)
        assert exec_result.returncode == 4 and exec_result.stdout.strip().isdigit()
        ps = containerd.ctr("task", "ps", cid).stdout.split()
        assert ps[:2] == ["PID", "INFO"] and len(ps) >= 3
        containerd.ctr("task", "pause", cid)
        assert "PAUSED" in containerd.ctr("task", "ls").stdout
        containerd.ctr("task", "resume", cid)
        assert "RUNNING" in containerd.ctr("task", "ls").stdout
        containerd.ctr("task", "kill", "--signal", "SIGKILL", cid)
        deadline = time.monotonic() + 20
        while "STOPPED" not in containerd.ctr("task", "ls").stdout and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "STOPPED" in containerd.ctr("task", "ls").stdout
    finally:
        containerd.ctr("task", "rm", "-f", cid, check=False)
        containerd.ctr("containers", "rm", cid, check=False)
    assert left_behind(containerd, cid) == []


def test_tty_through_the_shims_console_socket(containerd, whale_bin, rootfs_copy):
    """ctr -t: the shim gives whale-runc a console socket; the pty master must arrive there."""
    argv = [containerd.ctr_binary, "--address", containerd.address, "--namespace", containerd.namespace, "run",
            "--rm", "-t", "--runc-binary", whale_bin, "--rootfs", str(rootfs_copy), "shim-tty", "/bin/sh", "-c",
            "tty; test -t 1 && echo IS-A-TTY"]
    code, text = run_in_pty(argv)
    assert "/dev/pts/0" in text and "IS-A-TTY" in text, text
    assert code == 0
    assert left_behind(containerd, "shim-tty") == []
