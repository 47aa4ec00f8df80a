"""Bad input: a clear error in runc's words on stderr and in the JSON log, a non-zero exit, and
nothing left behind (state directory, cgroups, mounts, processes). Also after `kill -9` of a
`create` caught midway."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.integration.runc.conftest import assert_nothing_left, make_spec, new_id, write_config


def create_fails(whale, bundle_dir, expected: str, container_id: str | None = None) -> None:
    cid = container_id or new_id()
    result = whale("create", "--bundle", str(bundle_dir), cid, check=False)
    assert result.returncode == 1
    last = whale.log_lines()[-1]
    assert last["level"] == "error" and set(last) == {"level", "msg", "time"}
    assert last["msg"] == expected
    assert result.stderr == expected + "\n"  # with --log FILE, stderr gets the plain message as well
    if container_id is None:
        assert_nothing_left(cid, whale, bundle_dir)


def spec_with(**process_changes) -> dict:
    spec = make_spec(["true"])
    spec["process"].update(process_changes)
    return spec


def test_missing_config(whale, rootfs_copy):
    create_fails(whale, rootfs_copy.parent, "runc create failed: JSON specification file config.json not found")


def test_malformed_config(whale, rootfs_copy):
    (rootfs_copy.parent / "config.json").write_text('{"ociVersion": "1.0.2", "process": {')
    cid = new_id()
    result = whale("create", "--bundle", str(rootfs_copy.parent), cid, check=False)
    assert result.returncode == 1
    assert whale.log_lines()[-1]["msg"].startswith("runc create failed: invalid config.json: ")
    assert_nothing_left(cid, whale, rootfs_copy.parent)


def test_missing_rootfs(whale, rootfs_copy):
    b = rootfs_copy.parent
    spec = make_spec(["true"])
    spec["root"]["path"] = "no-such-rootfs"
    write_config(b, spec)
    create_fails(whale, b, f"runc create failed: invalid rootfs: stat {b}/no-such-rootfs: no such file or directory")


def test_unknown_namespace(whale, bundle):
    b = bundle(["true"])
    spec = json.loads((b / "config.json").read_text())
    spec["linux"]["namespaces"].append({"type": "bogus"})
    write_config(b, spec)
    create_fails(whale, b, 'runc create failed: namespace {"bogus" ""} does not exist')


@pytest.mark.parametrize("args,message", [
    (["/nonexistent"], 'exec: "/nonexistent": stat /nonexistent: no such file or directory'),
    (["nonexistent"], 'exec: "nonexistent": executable file not found in $PATH'),
    (["/etc/passwd"], 'exec: "/etc/passwd": permission denied'),
])
def test_bad_executable(whale, bundle, args, message):
    b = bundle(args)
    create_fails(whale, b, f"runc create failed: unable to start container process: {message}")


def test_bad_process_fields(whale, bundle):
    b = bundle(["true"])
    for changes, message in (({"cwd": "relative"}, "Cwd must be an absolute path"),
                             ({"args": []}, "args must not be empty"),
                             ({"rlimits": [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]},
                              "wrong rlimit value: RLIMIT_FOO")):
        write_config(b, spec_with(**changes))
        create_fails(whale, b, f"runc create failed: {message}")


def test_missing_bind_source(whale, bundle):
    b = bundle(["true"])
    spec = json.loads((b / "config.json").read_text())
    spec["mounts"].append({"destination": "/data", "type": "bind", "source": "/no/such/dir", "options": ["rbind"]})
    write_config(b, spec)
    create_fails(whale, b, 'runc create failed: unable to start container process: error during container init: '
                           'error mounting "/no/such/dir" to rootfs at "/data": stat /no/such/dir: no such file or '
                           'directory')


def test_duplicate_id_keeps_the_first_container(whale, bundle):
    b = bundle()
    cid = new_id()
    whale("create", "--bundle", str(b), cid)
    first = whale.state(cid)
    create_fails(whale, b, "runc create failed: container with given ID already exists", container_id=cid)
    assert whale.state(cid) == first
    whale("delete", "--force", cid)
    assert_nothing_left(cid, whale, b)


@pytest.mark.parametrize("bad_id,message", [("a/b", "invalid container ID format"),
                                            ("..", "invalid container ID format")])
def test_invalid_ids(whale, bundle, bad_id, message):
    b = bundle(["true"])
    result = whale("create", "--bundle", str(b), bad_id, check=False)
    assert result.returncode == 1 and whale.log_lines()[-1]["msg"] == f"runc create failed: {message}"
    assert not os.path.exists(os.path.join(whale.root, "a"))


def test_text_log_on_stderr_without_log_flag(whale_bin, workdir, reaper):
    result = subprocess.run([whale_bin, "--root", str(workdir / "root"), "state", "missing"], capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert result.stderr.startswith('time="') and result.stderr.endswith(
        ' level=error msg="container does not exist"\n')


def test_usage_errors(whale):
    result = whale("create", check=False)
    assert result.returncode == 1
    assert whale.log_lines()[-1]["msg"] == 'whale-runc: "create" requires exactly 1 argument(s)'
    result = whale("kill", "--bogus", "x", check=False)
    assert result.returncode == 1 and "flag provided but not defined: -bogus" in result.stderr
    result = whale("--systemd-cgroup", "create", "x", check=False)
    assert result.returncode == 1 and "systemd cgroup driver is not supported" in whale.log_lines()[-1]["msg"]


def test_kill_9_of_create_midway_leaves_nothing(whale, bundle, workdir):
    """`create` is killed while its prestart hook runs: the init exists, cgroups are made, the state
    directory too. All of it must go."""
    b = bundle()
    state_file = workdir / "hook-state.json"
    spec = json.loads((b / "config.json").read_text())
    spec["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {state_file}; exec sleep 2"]}]}
    write_config(b, spec)
    cid = new_id()
    create = subprocess.Popen(whale.argv("create", "--bundle", str(b), cid), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not (state_file.exists() and state_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    init_pid = json.loads(state_file.read_text())["pid"]
    assert os.path.exists(os.path.join(whale.root, cid))
    create.send_signal(signal.SIGKILL)
    create.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        gone = not os.path.exists(f"/proc/{init_pid}") or _zombie(init_pid)
        if gone and not os.path.exists(os.path.join(whale.root, cid)):
            break
        time.sleep(0.02)
    from tests.integration.runc.conftest import reap_all

    reap_all()
    assert not os.path.exists(f"/proc/{init_pid}")
    deadline = time.monotonic() + 10  # the janitor removes cgroups after the init is gone
    while time.monotonic() < deadline:
        try:
            assert_nothing_left(cid, whale, b)
            break
        except AssertionError:
            time.sleep(0.05)
    assert_nothing_left(cid, whale, b)
    assert whale("state", cid, check=False).returncode == 1


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
