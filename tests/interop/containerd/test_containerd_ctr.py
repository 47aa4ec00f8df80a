"""The real ctr (containerd 1.6) against whale-containerd, with the real containerd-shim-runc-v2 and runc."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import tarfile
from pathlib import Path

from tests.integration.containerd.harness import CtrEvents, real_containerd, wait_for
from tests.interop.containerd.conftest import IMAGE
from tests.support import cleanup


def task_status(ctd, task_id: str) -> str | None:  # noqa: ANN001
    for line in ctd.ctr("task", "ls").stdout.splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == task_id:
            return fields[2]
    return None


def content(ctd) -> list[tuple[str, list[str]]]:  # noqa: ANN001
    """`ctr content ls` as (digest, sorted labels)."""
    rows = [line.split("\t") for line in ctd.ctr("content", "ls").stdout.splitlines()[1:]]
    return [(row[0], sorted(row[-1].split(","))) for row in rows]


def bundles(ctd) -> list[str]:  # noqa: ANN001
    path = ctd.state / "io.containerd.runtime.v2.task" / ctd.namespace
    return sorted(os.listdir(path)) if path.exists() else []


def no_bundles_left(ctd) -> None:  # noqa: ANN001
    """Bundles go once the deleted task's shim is cleaned up, which finishes after Tasks.Delete answers."""
    wait_for(lambda: bundles(ctd) == [], message="the bundles to be removed")


def test_import_gives_the_same_images_content_and_snapshots_as_the_real_containerd(whale, busybox_tar):
    with real_containerd() as real:
        real.ctr("images", "import", str(busybox_tar))
        for args in (("images", "ls"), ("snapshots", "ls")):
            assert whale.ctr(*args).stdout == real.ctr(*args).stdout
        ours = content(whale)
        # The import's index blob is garbage: ours collects it at once, the real one a little later.
        wait_for(lambda: content(real) == ours, timeout=30, message="the same content in both")
    assert IMAGE in whale.ctr("images", "ls", "-q").stdout.split()


def test_run_rm_prints_output_returns_the_exit_code_and_leaves_nothing(whale):
    result = whale.ctr("run", "--rm", IMAGE, "rm-check", "sh", "-c", "echo hello; echo oops >&2; exit 3", check=False)
    assert (result.returncode, result.stdout, result.stderr) == (3, "hello\n", "oops\n")
    assert whale.ctr("task", "ls", "-q").stdout == ""
    assert whale.ctr("containers", "ls", "-q").stdout == ""
    assert [line.split()[-1] for line in whale.ctr("snapshots", "ls").stdout.splitlines()[1:]] == ["Committed"]
    no_bundles_left(whale)
    assert cleanup.mounts_under(str(whale.dir)) == []


def test_detached_task_lifecycle_with_live_events(whale):
    with CtrEvents(whale) as events:
        whale.ctr("run", "-d", IMAGE, "life", "sleep", "1000")
        assert task_status(whale, "life") == "RUNNING"
        pid = int(whale.ctr("task", "ls").stdout.split("\n")[1].split()[1])
        assert os.path.exists(f"/proc/{pid}")
        assert whale.ctr("containers", "ls", "-q").stdout.split() == ["life"]
        execd = whale.ctr("task", "exec", "--exec-id", "probe", "life", "sh", "-c", "echo from-exec; exit 4",
                          check=False)
        assert (execd.returncode, execd.stdout) == (4, "from-exec\n")
        assert str(pid) in whale.ctr("task", "ps", "life").stdout
        whale.ctr("task", "kill", "-s", "SIGKILL", "life")
        wait_for(lambda: task_status(whale, "life") == "STOPPED", message="the task to stop")
        whale.ctr("task", "delete", "life")
        assert whale.ctr("task", "ls", "-q").stdout == ""
        whale.ctr("containers", "rm", "life")
        assert whale.ctr("containers", "ls", "-q").stdout == ""
        wait_for(lambda: "/containers/delete" in events.topics(whale.namespace), message="the events to arrive")
        topics = events.topics(whale.namespace)
        for topic in ("/containers/create", "/tasks/create", "/tasks/start", "/tasks/exec-added",
                      "/tasks/exec-started", "/tasks/exit", "/tasks/delete", "/snapshot/remove", "/containers/delete"):
            assert topic in topics, (topic, events.lines)
        assert topics.index("/tasks/create") < topics.index("/tasks/start") < topics.index("/containers/delete")
        exits = events.matching("/tasks/exit", '"id":"life"')
        assert len(exits) == 1 and '"exit_status":137' in exits[0]
    no_bundles_left(whale)


def test_a_shim_killed_under_us_is_cleaned_up_and_its_exit_published(whale):
    with CtrEvents(whale) as events:
        whale.ctr("run", "-d", IMAGE, "doomed", "sleep", "1000")
        task_pid = int(whale.ctr("task", "ls").stdout.split("\n")[1].split()[1])
        os.kill(shim_pid(whale, "doomed"), signal.SIGKILL)
        wait_for(lambda: task_status(whale, "doomed") is None, message="the dead shim's task to go")
        wait_for(lambda: not os.path.exists(f"/proc/{task_pid}") or _zombie(task_pid), message="the container to die")
        no_bundles_left(whale)
        wait_for(lambda: events.matching("/tasks/delete", "doomed"), message="the delete event")
        assert len(events.matching("/tasks/exit", '"id":"doomed"')) == 1
    whale.ctr("containers", "rm", "doomed")


def shim_pid(ctd, task_id: str) -> int:  # noqa: ANN001
    for pid in cleanup.pids_with_marker(ctd.address):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
        if b"-id" in cmdline and cmdline[cmdline.index(b"-id") + 1] == task_id.encode():
            return pid
    raise AssertionError(f"no shim for {task_id}")


def _zombie(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_failures_read_as_the_real_containerds_and_leave_nothing(whale, busybox_tar):
    cases = [("run", "--rm", "--runtime", "io.containerd.nosuch.v2", IMAGE, "bad-runtime", "true"),
             ("run", "--rm", IMAGE, "bad-command", "/nonexistent"),
             ("run", "--rm", "docker.io/library/nosuch:latest", "bad-image", "true"),
             ("task", "start", "no-such-container"),
             ("task", "kill", "no-such-container")]
    with real_containerd() as real:
        real.ctr("images", "import", str(busybox_tar))
        for args in cases:
            ours, theirs = whale.ctr(*args, check=False), real.ctr(*args, check=False)
            assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), args
            assert _neutral(ours.stderr, whale) == _neutral(theirs.stderr, real), args
    assert whale.ctr("containers", "ls", "-q").stdout == ""
    no_bundles_left(whale)
    leftovers = [pid for pid in cleanup.pids_with_marker(whale.address) if pid != whale.proc.pid and not _zombie(pid)]
    assert not leftovers, [Path(f"/proc/{p}/cmdline").read_bytes() for p in leftovers]
    assert cleanup.mounts_under(str(whale.dir)) == []


def _neutral(text: str, ctd) -> str:  # noqa: ANN001
    return text.replace(ctd.address, "ADDR").replace(ctd.namespace, "NS")


def test_snapshot_diff_reads_as_the_real_containerds(whale, busybox_tar):
    script = "echo new > /etc/added; echo changed > /etc/hostname; rm /bin/ls; mkdir -p /opt/x; echo y > /opt/x/f"
    layers = []
    with real_containerd() as real:
        for ctd in (whale, real):
            if ctd is real:
                ctd.ctr("images", "import", str(busybox_tar))
            ctd.ctr("run", IMAGE, "changed", "sh", "-c", script)
            out = subprocess.run([ctd.ctr_binary, "--address", ctd.address, "-n", ctd.namespace, "snapshots", "diff",
                                  "changed"], capture_output=True, check=True).stdout
            with tarfile.open(fileobj=io.BytesIO(out), mode="r:gz") as tar:
                layers.append(sorted((m.name, m.type, m.mode, m.size, tar.extractfile(m).read() if m.isreg() else b"")
                                     for m in tar))
            ctd.ctr("containers", "rm", "changed")
    assert layers[0] == layers[1]
    assert ("bin/.wh.ls", tarfile.REGTYPE, 0, 0, b"") in layers[0]
