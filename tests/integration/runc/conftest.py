"""Fixtures for whale-runc tests: a private state root, bundles on the busybox rootfs, and a check
that every test leaves nothing behind (state directories, cgroups, mounts, processes)."""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from corelib.runc.commands.spec import example
from tests.support import cleanup
from tests.support.env import require_root, venv_bin

_ids = itertools.count()
PR_SET_CHILD_SUBREAPER = 36


class Runtime:
    """One runtime binary with its own --root; `__call__` runs a command and returns the result."""

    def __init__(self, binary: str, root: str, log: str | None = None):
        self.binary, self.root, self.log = binary, root, log

    def argv(self, *args: str, log_format: str = "json") -> list[str]:
        extra = ["--log", self.log, "--log-format", log_format] if self.log else []
        return [self.binary, "--root", self.root, *extra, *args]

    def __call__(self, *args: str, check: bool = True, timeout: float = 60, stdin=None, stdout=None,
                 input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess[str]:
        """Output goes through files, not pipes: a created container's init inherits them and keeps
        them open, so a pipe would never reach EOF."""
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            result = subprocess.run(self.argv(*args), input=input, stdin=stdin if input is None else None,
                                    stdout=stdout if stdout is not None else out, stderr=err, text=True,
                                    timeout=timeout, env=env)
            out.seek(0)
            err.seek(0)
            result.stdout, result.stderr = out.read(), err.read()
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(self.argv(*args))} -> {result.returncode}\n{result.stdout}\n"
                                 f"{result.stderr}")
        return result

    def state(self, container_id: str) -> dict:
        return json.loads(self("state", container_id).stdout)

    def log_lines(self) -> list[dict]:
        if not self.log or not os.path.exists(self.log):
            return []
        return [json.loads(line) for line in Path(self.log).read_text().splitlines() if line.strip()]


def new_id(prefix: str = "wbr") -> str:
    return f"{prefix}-{os.getpid()}-{next(_ids)}"


def write_config(bundle: Path, spec: dict) -> None:
    (bundle / "config.json").write_text(json.dumps(spec, indent=1))


def make_spec(args: list[str], **changes) -> dict:
    """runc's example spec running `args`, without a terminal and with a writable rootfs; keyword
    changes replace top-level keys."""
    spec = example()
    spec["process"]["terminal"] = False
    spec["root"]["readonly"] = False
    spec["process"]["args"] = args
    for key, value in changes.items():
        spec[key] = value
    return spec


@pytest.fixture(scope="session")
def whale_bin() -> str:
    return venv_bin("whale-runc")


@pytest.fixture
def reaper():
    """Make this process the child subreaper while the test runs, as a shim is: the container's init
    comes back to us when `create` exits, and is reaped here instead of by the machine's pid 1."""
    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        reap_all()


def reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.fixture
def workdir():
    require_root()
    path = Path(tempfile.mkdtemp(prefix="wb-runc-", dir="/tmp"))
    yield path
    cleanup.kill_and_wait(cleanup.pids_with_marker(str(path)))
    cleanup.unmount_all_under(str(path))
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture
def whale(whale_bin, workdir, reaper) -> Runtime:
    """whale-runc with a private root and a JSON log; after the test, no container of it may remain."""
    runtime = Runtime(whale_bin, str(workdir / "root"), str(workdir / "log.json"))
    yield runtime
    leftovers = sorted(os.listdir(runtime.root)) if os.path.isdir(runtime.root) else []
    reap_all()
    for container_id in leftovers:
        runtime("delete", "--force", container_id, check=False)
        cleanup.remove_cgroups_named(container_id)
    assert not leftovers, f"containers left behind: {leftovers}"


@pytest.fixture
def bundle(rootfs_copy: Path):
    """`bundle(args, **changes)` writes config.json next to a private busybox rootfs."""
    directory = rootfs_copy.parent

    def make(args: list[str] | None = None, **changes) -> Path:
        write_config(directory, make_spec(args or ["sleep", "100"], **changes))
        return directory

    return make


@pytest.fixture
def public_bundle(busybox_rootfs: Path, workdir: Path):
    """Like `bundle`, in a directory every user can traverse (for user namespaces and rootless)."""
    import shutil

    workdir.chmod(0o755)
    directory = workdir / "bundle"
    shutil.copytree(busybox_rootfs, directory / "rootfs", symlinks=True)

    def make(args: list[str] | None = None, **changes) -> Path:
        write_config(directory, make_spec(args or ["sleep", "100"], **changes))
        return directory

    return make


def cgroup_dirs(name: str) -> list[str]:
    """Every cgroup directory, in every hierarchy, whose name is `name`."""
    found = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        if name in dirs:
            found.append(os.path.join(top, name))
    return found


def cgroup_value(container_id: str, subsystem: str, name: str) -> str:
    """A file of the container's v1 cgroup (found by name, wherever the creator's own cgroup is)."""
    paths = [d for d in cgroup_dirs(container_id) if d.startswith(f"/sys/fs/cgroup/{subsystem}/")]
    assert len(paths) == 1, paths
    return Path(paths[0], name).read_text().strip()


def assert_nothing_left(container_id: str, runtime: Runtime, bundle: Path | None = None) -> None:
    assert not os.path.exists(os.path.join(runtime.root, container_id)), "state directory left behind"
    assert cgroup_dirs(container_id) == [], "cgroups left behind"
    if bundle is not None:
        assert cleanup.mounts_under(str(bundle)) == [], "mounts left behind"
        assert cleanup.pids_with_marker(str(bundle)) == [], "processes left behind"


@contextlib.contextmanager
def started(runtime: Runtime, bundle: Path, container_id: str | None = None, stdout=None):
    """A created and started container, deleted (forcibly) on the way out."""
    container_id = container_id or new_id()
    runtime("create", "--bundle", str(bundle), container_id, stdout=stdout)
    try:
        runtime("start", container_id)
        yield container_id
    finally:
        reap_all()  # a dead process of the container stays until reaped, and holds its pid namespace
        runtime("delete", "--force", container_id, check=False)


def run_in_pty(argv: list[str], stdin_text: bytes = b"", timeout: float = 60) -> tuple[int, str]:
    """Run `argv` with a pty as its controlling terminal and stdio; (exit code, what it printed)."""
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    if stdin_text:
        os.write(fd, stdin_text)
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], 0.5)[0]:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace").replace("\r", "")
