"""The shim binary under a stand-in for containerd: the start/delete actions, the task lifecycle
with its events, stdio, exec, signals, pause, stats, a terminal, with real runc and whale-runc."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from corelib.api.cgroups.v1 import metrics_pb2
from corelib.api.containerd.events import task_pb2 as events
from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.api.containerd.types.task import task_pb2
from tests.integration.shim.conftest import process_gone, wait_until
from tests.support import cleanup
from tests.support.proc import children, standbys

GO_ZERO_TIME = -62135596800


def event(envelope, message_type):
    assert envelope.event.type_url == message_type.DESCRIPTOR.full_name
    return message_type.FromString(envelope.event.value)


def read_fifo(path: Path) -> tuple[threading.Thread, list[bytes]]:
    """A reader that waits for the fifo's writer and reads to EOF (as containerd's fifo package does)."""
    chunks: list[bytes] = []

    def drain() -> None:
        with open(path, "rb") as f:
            chunks.append(f.read())

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return thread, chunks


def fifo(shim, name: str) -> Path:
    path = shim.work / name
    os.mkfifo(path, 0o700)
    return path


def test_start_prints_only_the_address_and_leaves_a_detached_subreaper_server(shim):
    address = shim.start()
    assert address.startswith("unix:///run/containerd/s/") and "\n" not in address
    assert (shim.bundle / "address").read_text() == address
    path = address.removeprefix("unix://")
    assert stat.S_ISSOCK(os.stat(path).st_mode) and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    pid = shim.server_pid()
    assert os.getpgid(pid) == pid, "the server leads its own process group"
    fds = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert not any(link.startswith("pipe:") for link in fds), f"kept a pipe of containerd's: {fds}"
    # a second start for the same task finds the running shim instead of starting another
    again = subprocess.run(shim.argv("start"), cwd=shim.bundle, capture_output=True, timeout=30)
    assert again.returncode == 0 and again.stdout.decode() == address


def make_cgroup(path: str, unified: bool) -> None:
    """`path` in every hierarchy, each level's cpuset (where there is one) given its parent's cpus and mems."""
    hierarchies = [cleanup.CGROUP_ROOT] if unified else [
        h for h in cleanup.CGROUP_ROOT.iterdir() if not h.is_symlink() and (h / "cgroup.procs").exists()]
    parts = path.strip("/").split("/")
    for hierarchy in hierarchies:
        for depth in range(1, len(parts) + 1):
            directory = hierarchy.joinpath(*parts[:depth])
            directory.mkdir()
            for name in ("cpuset.cpus", "cpuset.mems"):
                if (directory / name).exists():
                    (directory / name).write_text((directory.parent / name).read_text())


def test_start_moves_the_server_and_its_standbys_into_the_shim_cgroup(shim):
    """containerd's runtime options may name a cgroup for the shim (shim_cgroup, CRI's sandbox cgroup): the
    server goes there, and so do the whale-runc standbys it has started, which become its runc commands."""
    cgroup = f"/{shim.cgroup_parent}/shim"
    unified = (cleanup.CGROUP_ROOT / "cgroup.controllers").exists()
    make_cgroup(cgroup, unified)
    shim.start(shim.options(shim_cgroup=cgroup).SerializeToString())
    server = shim.server_pid()
    waiting = wait_until(lambda: len(standbys(children(server))) == 2 and standbys(children(server)))
    for pid in [server, *waiting]:
        lines = [line.split(":", 2) for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()]
        # the v1 hierarchies, as the runc shim's cgroups.Load; the v2 one on a unified machine
        paths = {path for _, controllers, path in lines if controllers or unified}
        assert paths == {cgroup}, (pid, lines)


def test_lifecycle_states_exit_status_and_events(shim):
    shim.write_spec(["sh", "-c", "read line; exit 3"])
    stdin = fifo(shim, "stdin")
    writer = os.open(stdin, os.O_RDWR)  # containerd's client holds the write end
    shim.start()
    created = shim.create(stdin=str(stdin))
    assert created.pid > 0
    state = shim.call("State", shim_pb2.StateRequest(id=shim.id))
    assert (state.status, state.pid, state.bundle) == (task_pb2.CREATED, created.pid, str(shim.bundle))
    assert state.exited_at.seconds == GO_ZERO_TIME

    assert shim.call("Start", shim_pb2.StartRequest(id=shim.id)).pid == created.pid
    assert shim.call("State", shim_pb2.StateRequest(id=shim.id)).status == task_pb2.RUNNING
    # the container's init is ours now (runc, its parent, has exited): we are its subreaper
    assert int(Path(f"/proc/{created.pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == shim.server_pid()

    os.write(writer, b"go\n")
    os.close(writer)
    waited = shim.call("Wait", shim_pb2.WaitRequest(id=shim.id))
    assert waited.exit_status == 3 and waited.exited_at.seconds > 0
    state = shim.call("State", shim_pb2.StateRequest(id=shim.id))
    assert (state.status, state.exit_status) == (task_pb2.STOPPED, 3)

    deleted = shim.call("Delete", shim_pb2.DeleteRequest(id=shim.id))
    assert (deleted.pid, deleted.exit_status) == (created.pid, 3)
    assert not os.path.ismount(shim.bundle / "rootfs")
    shim.events.wait_for("/tasks/delete")
    assert shim.events.topics() == ["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"]
    create, start, exit_, delete = shim.events.envelopes
    assert all(e.namespace == shim.namespace and e.timestamp.seconds > 0 for e in shim.events.envelopes)
    assert event(create, events.TaskCreate).pid == created.pid
    assert event(create, events.TaskCreate).io.stdin == str(stdin)
    assert event(start, events.TaskStart) == events.TaskStart(container_id=shim.id, pid=created.pid)
    exited = event(exit_, events.TaskExit)
    assert (exited.container_id, exited.id, exited.pid, exited.exit_status) == (shim.id, shim.id, created.pid, 3)
    assert event(delete, events.TaskDelete).exit_status == 3

    server = shim.server_pid()
    shim.call("Shutdown", shim_pb2.ShutdownRequest(id=shim.id))
    wait_until(lambda: process_gone(server))
    assert not os.path.exists(shim.address.removeprefix("unix://"))


def test_output_reaches_the_fifos_and_readers_see_eof(shim):
    shim.write_spec(["sh", "-c", "echo out; echo err >&2"])
    stdout, stderr = fifo(shim, "stdout"), fifo(shim, "stderr")
    out_thread, out = read_fifo(stdout)
    err_thread, err = read_fifo(stderr)
    shim.start()
    shim.create(stdout=str(stdout), stderr=str(stderr))
    shim.call("Start", shim_pb2.StartRequest(id=shim.id))
    assert shim.call("Wait", shim_pb2.WaitRequest(id=shim.id)).exit_status == 0
    out_thread.join(10)
    err_thread.join(10)
    assert (out, err) == ([b"out\n"], [b"err\n"])


def test_exec_kill_pids_pause_resume(shim):
    shim.write_spec(["sleep", "1000"])
    shim.start()
    init_pid = shim.create().pid
    shim.call("Start", shim_pb2.StartRequest(id=shim.id))

    stdout = fifo(shim, "exec-out")
    reader, output = read_fifo(stdout)
    process = {"args": ["sh", "-c", "echo from-exec; sleep 1000"], "cwd": "/", "env": ["PATH=/bin:/usr/bin"],
               "user": {"uid": 0, "gid": 0}}
    spec = shim_pb2.ExecProcessRequest(id=shim.id, exec_id="e1", stdout=str(stdout))
    spec.spec.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process"
    spec.spec.value = __import__("json").dumps(process).encode()
    shim.call("Exec", spec)
    with pytest.raises(Exception) as duplicate:
        shim.call("Exec", spec)
    assert (duplicate.value.code, duplicate.value.message) == (6, "id e1: already exists")
    exec_pid = shim.call("Start", shim_pb2.StartRequest(id=shim.id, exec_id="e1")).pid

    pids = shim.call("Pids", shim_pb2.PidsRequest(id=shim.id)).processes
    assert {p.pid for p in pids} >= {init_pid, exec_pid}
    details = next(p.info for p in pids if p.pid == exec_pid)
    assert details.type_url == "containerd.runc.v1.ProcessDetails"

    shim.call("Pause", shim_pb2.PauseRequest(id=shim.id))
    assert shim.call("State", shim_pb2.StateRequest(id=shim.id)).status == task_pb2.PAUSED
    assert shim.call("State", shim_pb2.StateRequest(id=shim.id, exec_id="e1")).status == task_pb2.PAUSED
    shim.call("Resume", shim_pb2.ResumeRequest(id=shim.id))
    assert shim.call("State", shim_pb2.StateRequest(id=shim.id)).status == task_pb2.RUNNING

    shim.call("Kill", shim_pb2.KillRequest(id=shim.id, exec_id="e1", signal=15))
    assert shim.call("Wait", shim_pb2.WaitRequest(id=shim.id, exec_id="e1")).exit_status == 143
    reader.join(10)
    assert output == [b"from-exec\n"]
    shim.call("Delete", shim_pb2.DeleteRequest(id=shim.id, exec_id="e1"))
    with pytest.raises(Exception) as gone:
        shim.call("State", shim_pb2.StateRequest(id=shim.id, exec_id="e1"))
    assert (gone.value.code, gone.value.message) == (5, "process does not exist e1: not found")

    shim.call("Kill", shim_pb2.KillRequest(id=shim.id, signal=9))
    assert shim.call("Wait", shim_pb2.WaitRequest(id=shim.id)).exit_status == 137
    shim.events.wait_for("/tasks/exit", count=2)
    assert shim.events.topics()[:7] == ["/tasks/create", "/tasks/start", "/tasks/exec-added", "/tasks/exec-started",
                                        "/tasks/paused", "/tasks/resumed", "/tasks/exit"]
    exec_exit = event(shim.events.wait_for("/tasks/exit")[0], events.TaskExit)
    assert (exec_exit.id, exec_exit.pid, exec_exit.exit_status) == ("e1", exec_pid, 143)


def test_stats_are_cgroup_v1_metrics(shim):
    shim.write_spec(["sleep", "1000"])
    shim.start()
    shim.create()
    shim.call("Start", shim_pb2.StartRequest(id=shim.id))
    stats = shim.call("Stats", shim_pb2.StatsRequest(id=shim.id)).stats
    assert stats.type_url == "io.containerd.cgroups.v1.Metrics"
    metrics = metrics_pb2.Metrics.FromString(stats.value)
    assert metrics.pids.current >= 1
    assert metrics.memory.usage.usage > 0
    assert metrics.cpu.usage.total > 0


def test_terminal_output_and_resize(shim):
    shim.write_spec(["sh", "-c", "tty; read x; stty size"], terminal=True)
    stdin, stdout = fifo(shim, "tin"), fifo(shim, "tout")
    writer = os.open(stdin, os.O_RDWR)
    reader, output = read_fifo(stdout)
    shim.start()
    shim.create(stdin=str(stdin), stdout=str(stdout), terminal=True)
    shim.call("Start", shim_pb2.StartRequest(id=shim.id))
    shim.call("ResizePty", shim_pb2.ResizePtyRequest(id=shim.id, width=101, height=33))
    os.write(writer, b"\n")
    assert shim.call("Wait", shim_pb2.WaitRequest(id=shim.id)).exit_status == 0
    os.close(writer)
    reader.join(10)
    lines = b"".join(output).decode().replace("\r", "").split("\n")
    assert "/dev/pts/0" in lines  # the terminal's echo of our newline may come first
    assert lines[-2:] == ["33 101", ""]
    assert shim.call("State", shim_pb2.StateRequest(id=shim.id)).terminal


def test_shared_pid_namespace_children_are_killed_with_init(shim):
    shim.write_spec(["sh", "-c", "sleep 1000 & exit 7"], pid_namespace=False)
    shim.start()
    shim.create()
    shim.call("Start", shim_pb2.StartRequest(id=shim.id))
    assert shim.call("Wait", shim_pb2.WaitRequest(id=shim.id)).exit_status == 7
    wait_until(lambda: shim.call("Pids", shim_pb2.PidsRequest(id=shim.id)).processes == [])


def test_delete_action_cleans_up_after_a_dead_shim(shim):
    shim.write_spec(["sleep", "1000"])
    shim.start()
    pid = shim.create().pid
    shim.call("Start", shim_pb2.StartRequest(id=shim.id))
    os.kill(shim.server_pid(), 9)
    result = shim.delete_action()
    assert result.returncode == 0, result.stderr
    response = shim_pb2.DeleteResponse.FromString(result.stdout)
    assert (response.pid, response.exit_status) == (pid, 137) and response.exited_at.seconds > 0
    assert not os.path.ismount(shim.bundle / "rootfs")
    assert not os.path.exists(shim.address.removeprefix("unix://")), "the dead shim's socket is removed"
    wait_until(lambda: process_gone(pid))
    # and again, with nothing left to clean up
    again = shim.delete_action()
    assert again.returncode == 0 and shim_pb2.DeleteResponse.FromString(again.stdout).exit_status == 137


def test_oom_kill_is_published(shim):
    limit = 16 << 20
    shim.write_spec(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
                    resources={"memory": {"limit": limit}})
    shim.start()
    shim.create()
    shim.call("Start", shim_pb2.StartRequest(id=shim.id))
    assert shim.call("Wait", shim_pb2.WaitRequest(id=shim.id)).exit_status == 137
    (oom,) = shim.events.wait_for("/tasks/oom")
    assert event(oom, events.TaskOOM).container_id == shim.id


def test_update_changes_the_cgroup(shim):
    shim.write_spec(["sleep", "1000"])
    shim.start()
    shim.create()
    shim.call("Start", shim_pb2.StartRequest(id=shim.id))
    request = shim_pb2.UpdateTaskRequest(id=shim.id)
    request.resources.type_url = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"
    request.resources.value = b'{"memory": {"limit": 33554432}}'
    shim.call("Update", request)
    limit = Path("/sys/fs/cgroup/memory", shim.cgroup_parent, shim.id, "memory.limit_in_bytes")
    assert limit.read_text().strip() == "33554432"
