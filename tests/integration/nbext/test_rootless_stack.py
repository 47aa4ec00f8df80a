"""The embedded stack for a user who is not root: whaled and its whale-containerd in a user namespace
(nbext.rootlesskit), a busybox container run through the whale client, and nothing left afterwards.

The test, as root, picks a uid of its own (no passwd entry, no process), and runs a driver script as
that uid with setpriv. The user may not read this checkout nor the venv's interpreter (root's pyenv
is mode 700; CI clones anywhere), so the test copies into a fresh /tmp/wb-rl-* directory what the
stack needs: the `corelib` and `nbext` packages, the installed distributions they depend on (by
their recorded files), and wrappers for the console scripts, run by Debian's /usr/bin/python3."""

from __future__ import annotations

import contextlib
import importlib.metadata as metadata
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import cleanup
from tests.support.env import missing, require_binary, require_root

REPO = Path(__file__).resolve().parents[3]
PYTHON = "/usr/bin/python3"
SCRIPTS = {"whale": "corelib.client.main", "whaled": "corelib.daemon.main",
           "whale-containerd": "corelib.containerd.main", "containerd-shim-whale-v2": "corelib.shim.main",
           "whale-runc": "corelib.runc.main"}

DRIVER = '''
import json, os, sys, time
from corelib.client.cli import run
from nbext.stack import EmbeddedStack

def whale(stack, *args):
    out = stack.dir / "out"
    with open(out, "w") as f:
        status = run(["-H", stack.host, *args], stdout=f)
    return status, out.read_text()

stack = EmbeddedStack().start()
report = {"dir": str(stack.dir), "containerd": stack.containerd_address, "launcher": stack.procs[0].pid}
if sys.argv[1] == "hang":
    print(json.dumps(report), flush=True)
    time.sleep(600)
try:
    report["echo"] = whale(stack, "run", "--rm", "--network", "none", "busybox", "echo", "hello", "rootless")
    report["inside"] = whale(stack, "run", "--rm", "busybox", "sh", "-c",
                             "id -u; cat /proc/self/uid_map; ip -o link show | cut -d: -f2")
    report["info"] = whale(stack, "info", "--format", "{{json .SecurityOptions}}")
    report["containerd_serves"] = os.path.exists(stack.containerd_address)
finally:
    stack.stop()
print(json.dumps(report), flush=True)
'''


@dataclass
class Rootless:
    uid: int
    base: Path
    env: dict[str, str]

    def run(self, argv: list[str], **kwargs: object) -> subprocess.Popen:
        return subprocess.Popen(["setpriv", "--reuid", str(self.uid), "--regid", str(self.uid), "--clear-groups",
                                 *argv], env=self.env, cwd=self.base, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, **kwargs)

    def pids(self) -> list[int]:
        """Every process of this uid (the uid is the test's own, so all of them are ours)."""
        return [pid for pid in _all_pids() if _real_uid(pid) == self.uid]


def _all_pids() -> list[int]:
    return [int(e.name) for e in os.scandir("/proc") if e.name.isdigit()]


def _real_uid(pid: int) -> int | None:
    with contextlib.suppress(OSError, StopIteration, IndexError, ValueError):
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Uid:")).split()[1])
    return None


def free_uid() -> int:
    """A uid with no passwd entry and no process: the test's own."""
    in_use = {_real_uid(pid) for pid in _all_pids()}
    for uid in range(61000 + os.getpid() % 3000, 65000):
        with contextlib.suppress(KeyError):
            pwd.getpwuid(uid)
            continue
        if uid not in in_use:
            return uid
    missing("no free uid in 61000-65000")
    return 0


def dependencies(name: str, seen: set[str]) -> set[str]:
    """The installed distributions `name` needs (not those its markers exclude here: not installed)."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return seen
    key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    if key in seen:
        return seen
    seen.add(key)
    for requirement in dist.requires or []:
        if "extra ==" not in requirement:
            dependencies(re.match(r"[A-Za-z0-9._-]+", requirement).group(0), seen)
    return seen


def copy_distribution(name: str, site: Path) -> None:
    dist = metadata.distribution(name)
    for file in dist.files or []:
        source = Path(dist.locate_file(file))
        if ".." in file.parts or "__pycache__" in file.parts or not source.is_file():
            continue
        target = site / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def build_runtime(base: Path) -> None:
    """base/site: corelib, nbext and their dependencies; base/bin: the console scripts."""
    site, bin_dir = base / "site", base / "bin"
    for package in ("corelib", "nbext"):
        shutil.copytree(REPO / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in sorted(dependencies("whalebone", set()) - {"whalebone"}):
        copy_distribution(name, site)
    bin_dir.mkdir()
    for script, module in SCRIPTS.items():
        wrapper = bin_dir / script
        wrapper.write_text(f"#!{PYTHON}\nimport sys\nfrom {module} import main\nsys.exit(main())\n")
        wrapper.chmod(0o755)
    (base / "driver.py").write_text(DRIVER)


def same_python_version() -> bool:
    if not os.access(PYTHON, os.X_OK):
        return False
    theirs = subprocess.run([PYTHON, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    return theirs.stdout.strip() == str(sys.version_info[:2])


def userns_refusal(user: Rootless) -> str | None:
    """Why this user cannot make a user namespace here (util-linux's unshare, not our launcher), or None."""
    probe = user.run(["unshare", "--user", "--map-root-user", "--mount", "--pid", "--fork", "true"])
    _, err = probe.communicate(timeout=30)
    return None if probe.returncode == 0 else err.strip() or f"exit status {probe.returncode}"


def stack_dirs() -> set[str]:
    return {str(p) for p in Path("/tmp").glob("wb-nb-*")}


def leave_nothing(user: Rootless, dirs: list[str]) -> None:
    cleanup.kill_and_wait(user.pids())
    for directory in dirs:
        cleanup.unmount_all_under(directory)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def rootless_user() -> Iterator[Rootless]:
    require_root()
    for binary in ("setpriv", "unshare"):
        require_binary(binary)
    if not same_python_version():
        missing(f"{PYTHON} (Debian's python3, the venv's version) is needed to run the stack as another user")
    base = Path(tempfile.mkdtemp(prefix="wb-rl-", dir="/tmp"))
    base.chmod(0o755)
    uid = free_uid()
    user = Rootless(uid, base, {"PATH": f"{base}/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": f"{base}/site",
                                "HOME": f"{base}/home", "XDG_RUNTIME_DIR": f"{base}/run", "LANG": "C.UTF-8"})
    before = stack_dirs()
    made: list[str] = [str(base)]
    try:
        for name in ("home", "run"):
            (base / name).mkdir(mode=0o700)
            os.chown(base / name, uid, uid)
        reason = userns_refusal(user)
        if reason:
            missing(f"an unprivileged user cannot create user namespaces here: {reason}")
        build_runtime(base)
        yield user
    finally:
        made += sorted(stack_dirs() - before)
        leave_nothing(user, made)


def _no_mounts_left(directory: str) -> bool:
    return cleanup.mounts_under(directory) == []


def test_a_user_who_is_not_root_gets_a_rootless_stack(rootless_user):
    driver = rootless_user.run([PYTHON, "driver.py", "run"])
    out, err = driver.communicate(timeout=180)
    assert driver.returncode == 0, err
    report = json.loads(out.splitlines()[-1])
    assert report["echo"] == [0, "hello rootless\n"]
    status, inside = report["inside"]
    lines = inside.split()
    assert status == 0 and lines[:4] == ["0", "0", str(rootless_user.uid), "1"]  # root in the stack's namespace
    assert lines[4:] == ["lo"]  # the default network: a namespace of its own, loopback only
    assert "name=rootless" in json.loads(report["info"][1])
    assert report["containerd"].startswith(report["dir"]) and report["containerd_serves"]
    assert not os.path.exists(report["dir"]) and _no_mounts_left(report["dir"])
    assert rootless_user.pids() == []


def test_a_killed_kernel_takes_its_rootless_stack_along(rootless_user):
    driver = rootless_user.run([PYTHON, "driver.py", "hang"])
    try:
        report = json.loads(driver.stdout.readline() or "{}")
        assert report.get("dir"), driver.stderr.read() if driver.poll() is not None else "no report"
        assert len(rootless_user.pids()) >= 4  # driver, launcher and its init, whaled, whale-containerd
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=30)
    deadline = time.monotonic() + 40
    while rootless_user.pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rootless_user.pids() == []  # PR_SET_PDEATHSIG, then the PID namespace's end
    assert _no_mounts_left(report["dir"])
