"""Rootless: an unprivileged user (made for the test, removed after) runs whale-runc the way
`runc --rootless` runs: a user namespace mapping the caller's uid to root, no cgroups unless delegated.
whale-runc's hot path is standard library only, so a copy of corelib/runc (and jsonlite) and an interpreter the
user can execute is all the user needs (the test's own venv may sit in root's 0700 home)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.integration.runc.conftest import cgroup_dirs, new_id
from tests.support import cleanup
from tests.support.env import missing, require_binary, require_root

REPO = Path(__file__).resolve().parents[3]


class User:
    def __init__(self, name: str):
        entry = pwd.getpwnam(name)
        self.name, self.uid, self.gid = name, entry.pw_uid, entry.pw_gid

    def run(self, argv: list[str], check: bool = True, cgroups: list[str] = ()) -> subprocess.CompletedProcess[str]:
        """Run as the user, first placed in `cgroups` (as a login in a delegated cgroup would be);
        output through files (a created container's init keeps a pipe open)."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/"}

        def become_user() -> None:
            for path in cgroups:
                Path(path, "cgroup.procs").write_text(str(os.getpid()))
            os.setgroups([])
            os.setgid(self.gid)
            os.setuid(self.uid)

        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            result = subprocess.run(argv, preexec_fn=become_user, env=env, stdout=out, stderr=err, text=True,
                                    timeout=60)
            out.seek(0)
            err.seek(0)
            result.stdout, result.stderr = out.read(), err.read()
        if check and result.returncode != 0:
            raise AssertionError(f"{argv} as {self.name} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture(scope="module")
def rootless_env(busybox_rootfs):
    """(user, directory, whale-runc launcher): a fresh user and a world-traversable directory holding a
    copy of corelib/runc, a launcher script and a bundle owned by the user."""
    require_root()
    if not shutil.which("useradd"):
        missing("useradd is not installed (Debian package passwd)")
    base = Path(tempfile.mkdtemp(prefix="wb-rootless-", dir="/tmp"))
    base.chmod(0o755)
    name = f"wbrl{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        user = User(name)
        code = base / "code/corelib"
        code.mkdir(parents=True)
        for shared in ("__init__.py", "jsonlite.py"):  # what corelib/runc imports from beside it
            shutil.copy(REPO / "corelib" / shared, code)
        shutil.copytree(REPO / "corelib/runc", code / "runc", ignore=shutil.ignore_patterns("__pycache__"))
        launcher = base / "whale-runc"
        launcher.write_text(f"#!{usable_python(user)} -I\nimport sys\nsys.path.insert(0, {str(base / 'code')!r})\n"
                            "from corelib.runc.main import main\nsys.exit(main())\n")
        launcher.chmod(0o755)
        home = base / "home"
        home.mkdir()
        shutil.copytree(busybox_rootfs, home / "rootfs", symlinks=True)
        subprocess.run(["chown", "-R", f"{user.uid}:{user.gid}", str(home)], check=True)
        yield user, home, str(launcher)
    finally:
        cleanup.kill_and_wait(cleanup.pids_with_marker(str(base)))
        cleanup.unmount_all_under(str(base))
        subprocess.run(["userdel", name], check=False)
        shutil.rmtree(base, ignore_errors=True)


def usable_python(user: User) -> str:
    for candidate in (os.path.realpath(sys.executable), "/usr/bin/python3"):
        try:
            if os.path.exists(candidate) and user.run([candidate, "-c", "pass"], check=False).returncode == 0:
                return candidate
        except PermissionError:
            continue
    missing("no Python interpreter this unprivileged user may run")
    return ""


def rootless_spec(user: User, launcher: str, home: Path, script: str, **linux) -> None:
    config = home / "config.json"
    config.unlink(missing_ok=True)
    user.run([launcher, "spec", "--rootless", "--bundle", str(home)])
    spec = json.loads(config.read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", script]
    spec["root"]["readonly"] = False
    spec["linux"].update(linux)
    config.write_text(json.dumps(spec))


def test_spec_rootless_maps_the_callers_ids(rootless_env):
    user, home, launcher = rootless_env
    rootless_spec(user, launcher, home, "true")
    linux = json.loads((home / "config.json").read_text())["linux"]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": user.uid, "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": user.gid, "size": 1}]
    assert {"type": "user"} in linux["namespaces"] and {"type": "network"} not in linux["namespaces"]


def test_rootless_run_is_root_inside_and_the_user_outside(rootless_env):
    user, home, launcher = rootless_env
    rootless_spec(user, launcher, home, "id; cat /proc/self/uid_map; hostname; echo hi > /tmp/made-inside; echo $$")
    root = home / "state"
    cid = new_id("rl")
    result = user.run([launcher, "--root", str(root), "run", "--bundle", str(home), cid], check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "uid=0(root) gid=0(root)"  # no supplementary groups: setgroups is denied
    assert lines[1].split() == ["0", str(user.uid), "1"]
    assert lines[2:] == ["runc", "1"]
    made = home / "rootfs/tmp/made-inside"
    assert (made.stat().st_uid, made.stat().st_gid) == (user.uid, user.gid)
    assert os.listdir(root) == []
    assert cgroup_dirs(cid) == []  # no cgroup without delegation


def test_rootless_lifecycle(rootless_env):
    user, home, launcher = rootless_env
    rootless_spec(user, launcher, home, "sleep 100")
    base = [launcher, "--root", str(home / "state")]
    cid = new_id("rl")
    user.run([*base, "create", "--bundle", str(home), cid])
    try:
        state = json.loads(user.run([*base, "state", cid]).stdout)
        assert state["status"] == "created"
        user.run([*base, "start", cid])
        listed = json.loads(user.run([*base, "list", "--format", "json"]).stdout)
        assert [(c["id"], c["status"], c["owner"]) for c in listed] == [(cid, "running", user.name)]
        assert user.run([*base, "exec", cid, "id", "-u"]).stdout == "0\n"
        init = state["pid"]
        uids = next(line for line in Path(f"/proc/{init}/status").read_text().splitlines() if line.startswith("Uid:"))
        assert uids.split()[1:] == [str(user.uid)] * 4  # root inside is the user outside
        user.run([*base, "kill", cid, "KILL"])
    finally:
        user.run([*base, "delete", "--force", cid], check=False)
    assert not (home / "state" / cid).exists()


def test_rootless_limits_need_a_delegated_cgroup(rootless_env):
    user, home, launcher = rootless_env
    rootless_spec(user, launcher, home, "cat /sys/fs/cgroup/pids/pids.max", resources={"pids": {"limit": 20}})
    cid = new_id("rl")
    refused = user.run([launcher, "--root", str(home / "state"), "run", "--bundle", str(home), cid], check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith("runc run failed: unable to start container process: error during "
                                           "container init: error setting cgroup config for procHooks process: "
                                           'cannot set pids limit: container could not join or create cgroup"')
    assert cgroup_dirs(cid) == [] and not (home / "state" / cid).exists()


def test_rootless_with_a_delegated_cgroup_gets_its_limits(rootless_env):
    from corelib.runc.cgroups import remove_path
    from corelib.runc.cgroups.v1 import cgroup_mounts

    user, home, launcher = rootless_env
    delegated = f"wbrl-deleg-{os.getpid()}"
    made = []
    try:
        for subsystem, (point, _) in cgroup_mounts().items():
            path = os.path.join(point, delegated)
            os.mkdir(path)
            made.append(path)
            if subsystem == "cpuset":  # a new cpuset is empty and takes no tasks until given cpus and mems
                for name in ("cpuset.cpus", "cpuset.mems"):
                    Path(path, name).write_text(Path(point, name).read_text())
            for name in ("", "cgroup.procs", "tasks"):
                if os.path.exists(os.path.join(path, name)):
                    os.chown(os.path.join(path, name), user.uid, user.gid)
        cid = new_id("rl")
        rootless_spec(user, launcher, home, "cat /sys/fs/cgroup/pids/pids.max",
                      resources={"pids": {"limit": 20}}, cgroupsPath=f"/{delegated}/{cid}")
        result = user.run([launcher, "--root", str(home / "state"), "run", "--bundle", str(home), cid], check=False,
                          cgroups=made)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "20\n"
        assert cgroup_dirs(cid) == []  # removed by the user's own delete
    finally:
        for path in made:
            remove_path(path)


def test_rootless_matches_real_runc(rootless_env):
    user, home, launcher = rootless_env
    runc = require_binary("runc")
    script = "id; cat /proc/self/uid_map /proc/self/gid_map; grep Cap /proc/self/status; cut -d' ' -f5,6,10 " \
             "/proc/self/mountinfo; ls -ln /dev | cut -c1-10; cat /proc/self/setgroups"
    rootless_spec(user, launcher, home, script)
    outputs = []
    for binary, root in ((runc, "runc-state"), (launcher, "state")):
        result = user.run([binary, "--root", str(home / root), "run", "--bundle", str(home), new_id("rl")],
                          check=False)
        outputs.append((result.returncode, result.stdout))
    assert outputs[1] == outputs[0]
