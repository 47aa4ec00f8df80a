"""The cgroup v2 manager on a real v2 hierarchy. This machine mounts its controllers as v1 (hybrid):
the unified hierarchy (/sys/fs/cgroup/unified) has only the core files and hugetlb, so joining,
listing, freezing, eBPF device rules and hugetlb limits are tested here for real, and the other
limits (memory, cpu, pids, io) against a directory tree shaped like one (tests/unit/test_runc_cgroups.py).
On a host booted in unified mode the same tests exercise /sys/fs/cgroup itself."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from corelib.runc.cgroups import is_unified
from corelib.runc.cgroups.devices import Rule
from corelib.runc.cgroups.v2 import Manager
from tests.support.env import missing, require_root


def unified_mountpoint() -> str:
    if is_unified():
        return "/sys/fs/cgroup"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    missing("no cgroup v2 hierarchy mounted")
    return ""


@pytest.fixture
def manager():
    require_root()
    root = unified_mountpoint()
    name = f"wb-v2-{os.getpid()}-{time.monotonic_ns() % 100000}"
    subtree = Path(root, "cgroup.subtree_control").read_text().split()
    m = Manager.for_path(root, f"/{name}", rootless=False, explicit=True)
    yield m
    for pid in m.pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while m.pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    m.destroy()
    assert not os.path.exists(m.path)
    for controller in set(Path(root, "cgroup.subtree_control").read_text().split()) - set(subtree):
        with contextlib.suppress(OSError):  # put the root as it was, unless others use it meanwhile
            Path(root, "cgroup.subtree_control").write_text(f"-{controller}")


def spawn(manager: Manager, script: str, prepare=None) -> int:
    """A child running `script` in /bin/sh, moved into the manager's cgroup (and `prepare()` called)
    before it execs."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(write_end)
        os.read(read_end, 1)
        os.execv("/bin/sh", ["sh", "-c", script])
    os.close(read_end)
    manager.apply(pid)
    if prepare:
        prepare()
    os.write(write_end, b"x")
    os.close(write_end)
    return pid


def test_apply_lists_and_destroys(manager):
    pid = spawn(manager, "sleep 100")
    assert manager.pids() == [pid]
    assert str(pid) in Path(manager.path, "cgroup.procs").read_text().split()
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    assert manager.pids() == []


def test_freeze_and_thaw_for_real(manager, tmp_path):
    counter = tmp_path / "ticks"
    pid = spawn(manager, f"while true; do echo x >> {counter}; sleep 0.01; done")
    deadline = time.monotonic() + 10
    while (not counter.exists() or counter.stat().st_size < 4) and time.monotonic() < deadline:
        time.sleep(0.01)
    manager.freeze(True)
    assert manager.frozen() and "frozen 1" in Path(manager.path, "cgroup.events").read_text()
    size = counter.stat().st_size
    time.sleep(0.2)
    assert counter.stat().st_size == size
    manager.freeze(False)
    assert not manager.frozen()
    deadline = time.monotonic() + 10
    while counter.stat().st_size == size and time.monotonic() < deadline:
        time.sleep(0.01)
    assert counter.stat().st_size > size
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def test_device_rules_as_an_ebpf_program(manager, tmp_path):
    """The default-deny list runc makes, compiled to BPF_PROG_TYPE_CGROUP_DEVICE and attached."""
    rules = [Rule("a", -1, -1, "rwm", False), Rule("c", 1, 3, "rwm", True), Rule("c", 1, 5, "r", True),
             Rule("c", 1, 9, "rwm", True), Rule("c", 1, 9, "w", False)]
    out = tmp_path / "out"
    script = ("for t in 'r /dev/null' 'w /dev/null' 'r /dev/zero' 'w /dev/zero' 'r /dev/full' 'r /dev/urandom' "
              "'w /dev/urandom'; do set -- $t; if [ $1 = r ]; then head -c1 $2 >/dev/null 2>&1; "
              f"else echo > $2 2>/dev/null; fi; echo \"$1 $2 $?\" >> {out}; done")
    pid = spawn(manager, script, prepare=lambda: manager.set({}, rules))
    os.waitpid(pid, 0)
    results = {tuple(line.split()[:2]): line.split()[2] for line in out.read_text().splitlines()}
    allowed = {k for k, code in results.items() if code == "0"}
    # /dev/null itself stays usable for the redirections: the rule c 1:3 allows it
    assert allowed == {("r", "/dev/null"), ("w", "/dev/null"), ("r", "/dev/zero"), ("r", "/dev/urandom")}


def test_hugetlb_limit_on_v2(manager):
    controllers = Path(manager.root, "cgroup.controllers").read_text().split()
    if "hugetlb" not in controllers:
        missing("the v2 hierarchy offers no hugetlb controller")
    pid = spawn(manager, "sleep 100")
    manager.set({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]})
    assert Path(manager.path, "hugetlb.2MB.max").read_text().strip() == str(4 << 20)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
