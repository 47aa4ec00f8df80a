"""Our shim under the real containerd 1.6, driven by the real ctr: run --rm, -d, task ls/exec/kill/
ps/pause/resume/metrics, stdin, and a containerd restart while a container runs."""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.shim.conftest import process_gone, wait_until
from tests.interop.shim.conftest import IMAGE, RUNTIME
from tests.support import cleanup


def run(ctd, *args: str, **kwargs):
    return ctd.ctr("run", "--runtime", RUNTIME, *args, **kwargs)


def tasks(ctd) -> dict[str, str]:
    """{task id: status} from `ctr task ls`."""
    lines = ctd.ctr("task", "ls").stdout.splitlines()[1:]
    return {fields[0]: fields[2] for fields in (line.split() for line in lines)}


def shim_pids(ctd, id: str) -> list[int]:
    """Our shim server for task `id` of this containerd, if it still runs."""
    found = []
    for pid in cleanup.pids_with_marker(ctd.address):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"corelib.shim.main" in b" ".join(argv) and id.encode() in argv:
            found.append(pid)
    return found


def bundle(ctd, id: str) -> Path:
    return Path(ctd.state, "io.containerd.runtime.v2.task", ctd.namespace, id)


def wait_for_status(ctd, id: str, status: str) -> None:
    wait_until(lambda: tasks(ctd).get(id) == status)


def test_run_rm_prints_output_and_returns_the_exit_status(containerd):
    result = run(containerd, "--rm", IMAGE, "rm1", "sh", "-c", "echo hello; echo oops >&2; exit 3", check=False)
    assert result.returncode == 3, result.stderr
    assert result.stdout == "hello\n"
    assert "oops" in result.stderr
    assert tasks(containerd) == {}
    assert shim_pids(containerd, "rm1") == []
    assert cleanup.mounts_under(str(bundle(containerd, "rm1"))) == []


def test_run_reads_stdin(containerd):
    # ctr never closes a task's stdin (no CloseIO; the real shim behaves the same): read one line
    result = run(containerd, "--rm", IMAGE, "stdin1", "sh", "-c", "read line; echo got $line", input=b"piped\n",
                 check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"got piped\n"


def test_detached_task_exec_ps_pause_resume_metrics_kill(containerd):
    ctd = containerd
    run(ctd, "-d", IMAGE, "d1", "sleep", "1000")
    assert tasks(ctd) == {"d1": "RUNNING"}
    exec_result = ctd.ctr("task", "exec", "--exec-id", "x1", "d1", "sh", "-c", "echo in-exec; exit 5", check=False)
    assert (exec_result.returncode, exec_result.stdout) == (5, "in-exec\n")
    init_pid = ctd.ctr("task", "ls").stdout.splitlines()[1].split()[1]
    ps = ctd.ctr("task", "ps", "d1").stdout.split()
    assert init_pid in ps

    ctd.ctr("task", "pause", "d1")
    assert tasks(ctd) == {"d1": "PAUSED"}
    ctd.ctr("task", "resume", "d1")
    assert tasks(ctd) == {"d1": "RUNNING"}
    metrics = ctd.ctr("task", "metrics", "d1").stdout
    assert "memory.usage_in_bytes" in metrics and "pids.current" in metrics

    ctd.ctr("task", "kill", "-s", "SIGKILL", "d1")
    wait_for_status(ctd, "d1", "STOPPED")
    ctd.ctr("task", "rm", "d1")
    ctd.ctr("containers", "rm", "d1")
    assert tasks(ctd) == {}
    assert shim_pids(ctd, "d1") == []


def test_containerd_restart_leaves_the_task_running_and_managed(containerd):
    ctd = containerd
    run(ctd, "-d", IMAGE, "r1", "sleep", "1000")
    (shim,) = shim_pids(ctd, "r1")
    ctd.restart()
    assert tasks(ctd) == {"r1": "RUNNING"}
    assert shim_pids(ctd, "r1") == [shim], "containerd reconnected to the same shim"
    exec_result = ctd.ctr("task", "exec", "--exec-id", "after", "r1", "echo", "still-managed", check=False)
    assert (exec_result.returncode, exec_result.stdout) == (0, "still-managed\n")
    ctd.ctr("task", "kill", "-s", "SIGKILL", "r1")
    wait_for_status(ctd, "r1", "STOPPED")
    ctd.ctr("task", "rm", "r1")
    ctd.ctr("containers", "rm", "r1")
    assert tasks(ctd) == {}
    wait_until(lambda: process_gone(shim))


def test_a_killed_shim_is_cleaned_up_by_containerd_with_its_delete_action(containerd):
    ctd = containerd
    run(ctd, "-d", IMAGE, "k1", "sleep", "1000")
    init_pid = int(ctd.ctr("task", "ls").stdout.splitlines()[1].split()[1])
    (shim,) = shim_pids(ctd, "k1")
    os.kill(shim, 9)
    # containerd notices the hang-up, runs `containerd-shim-whale-v2 ... delete`, which kills the container
    address = (bundle(ctd, "k1") / "address").read_text().removeprefix("unix://")
    wait_until(lambda: process_gone(init_pid))
    wait_until(lambda: cleanup.mounts_under(str(bundle(ctd, "k1"))) == [])
    wait_until(lambda: not os.path.exists(address))
    wait_until(lambda: tasks(ctd).get("k1") in (None, "STOPPED"))
    ctd.ctr("task", "rm", "-f", "k1", check=False)
    ctd.ctr("containers", "rm", "k1")


def test_run_with_a_terminal(containerd):
    """`ctr run -t` from a terminal: the container gets a pty of the size ctr's terminal has."""
    import fcntl
    import pty
    import struct
    import subprocess
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 91, 0, 0))
    ctd = containerd
    argv = [ctd.ctr_binary, "--address", ctd.address, "--namespace", ctd.namespace, "run", "--runtime", RUNTIME,
            "-t", "--rm", IMAGE, "tty1", "sh", "-c",
            # ctr resizes the pty just after Start: wait for that, then report it
            'tty; i=0; until [ "$(stty size 2>&1)" = "24 91" ] || [ $i = 300 ]; do sleep 0.1; i=$((i+1)); done;'
            "stty size; exit 4"]
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    output = b""
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: ctr exited and closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=60) == 4
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    lines = output.decode().replace("\r", "").split("\n")
    assert "/dev/pts/0" in lines and "24 91" in lines, lines
