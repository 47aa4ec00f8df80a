"""The lifecycle through whale-runc's command line, on real containers: create blocks on exec.fifo,
start releases it, state/list/ps/kill/pause/resume/update/exec/delete behave and word errors as runc."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.integration.runc.conftest import assert_nothing_left, cgroup_value, new_id, started


def wait_status(runtime, container_id: str, status: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = runtime.state(container_id)
        if state["status"] == status or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


def test_create_blocks_on_exec_fifo_until_start(whale, bundle, workdir):
    b = bundle(["sh", "-c", "echo started > /tmp/proof; sleep 100"])
    cid = new_id()
    whale("create", "--bundle", str(b), "--pid-file", str(workdir / "pid"), cid)
    state = whale.state(cid)
    assert state["status"] == "created"
    assert state["pid"] == int((workdir / "pid").read_text())
    fifo = os.path.join(whale.root, cid, "exec.fifo")
    assert os.path.exists(fifo)
    assert not (b / "rootfs/tmp/proof").exists()  # the user's process has not run yet
    whale("start", cid)
    assert not os.path.exists(fifo)
    assert wait_status(whale, cid, "running")["status"] == "running"
    deadline = time.monotonic() + 10
    while not (b / "rootfs/tmp/proof").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (b / "rootfs/tmp/proof").read_text() == "started\n"
    whale("kill", cid, "KILL")
    stopped = wait_status(whale, cid, "stopped")
    assert stopped["status"] == "stopped" and stopped["pid"] == 0
    whale("delete", cid)
    assert_nothing_left(cid, whale, b)


def test_state_json_has_runcs_fields(whale, bundle):
    b = bundle(annotations={"org.example/key": "value"})
    with started(whale, b) as cid:
        state = whale.state(cid)
        assert list(state) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "annotations",
                               "owner"]
        assert state["ociVersion"] == "1.0.2-dev"
        assert state["bundle"] == str(b) and state["rootfs"] == str(b / "rootfs")
        assert state["annotations"] == {"org.example/key": "value"}
        assert state["created"].endswith("Z") and state["owner"] == ""
        assert not whale("state", cid).stdout.endswith("\n")


def test_list_table_json_and_quiet(whale, bundle):
    b = bundle()
    with started(whale, b) as cid:
        table = whale("list").stdout.splitlines()
        assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        width = max(12, len(cid) + 3)  # tabwriter: minimum width 12, padding 3
        assert table[0].startswith("ID".ljust(width) + "PID") and table[1].startswith(cid.ljust(width))
        row = table[1].split()
        assert row[0] == cid and row[2] == "running" and row[5] == "root"
        items = json.loads(whale("list", "--format", "json").stdout)
        assert [i["id"] for i in items] == [cid] and items[0]["owner"] == "root"
        assert whale("list", "-q").stdout == cid + "\n"
    assert whale("list", "--format", "json").stdout == "null\n"


def test_start_twice_and_start_stopped_are_refused(whale, bundle):
    b = bundle(["true"])
    cid = new_id()
    whale("create", "--bundle", str(b), cid)
    whale("start", cid)
    wait_status(whale, cid, "stopped")
    again = whale("start", cid, check=False)
    assert again.returncode == 1
    assert whale.log_lines()[-1] == {"level": "error", "msg": "cannot start a container that has stopped",
                                     "time": whale.log_lines()[-1]["time"]}
    whale("delete", cid)
    assert_nothing_left(cid, whale, b)


def wait_for_text(path, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text() == text):
        assert time.monotonic() < deadline, f"{path}: {path.read_text() if path.exists() else None!r}, not {text!r}"
        time.sleep(0.01)


def test_kill_signal_names_numbers_and_errors(whale, bundle, workdir):
    b = bundle(["sh", "-c", "trap 'echo usr1 >> /tmp/got' USR1; trap 'echo term >> /tmp/got; exit 0' TERM; "
                "touch /tmp/ready; while true; do sleep 0.05; done"])
    with started(whale, b) as cid:
        deadline = time.monotonic() + 20
        while not (b / "rootfs/tmp/ready").exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the traps are in place
        got = b / "rootfs/tmp/got"
        whale("kill", cid, "usr1")
        # one at a time: two USR1s pending at once are one signal (the shell runs its trap between sleeps)
        wait_for_text(got, "usr1\n")
        whale("kill", cid, "10")
        wait_for_text(got, "usr1\nusr1\n")
        bad = whale("kill", cid, "FOO", check=False)
        assert bad.returncode == 1 and whale.log_lines()[-1]["msg"] == 'unknown signal "FOO"'
        whale("kill", cid)  # SIGTERM by default
        assert wait_status(whale, cid, "stopped")["status"] == "stopped"
        assert got.read_text() == "usr1\nusr1\nterm\n"
        gone = whale("kill", cid, "KILL", check=False)
        assert gone.returncode == 1 and whale.log_lines()[-1]["msg"] == "container not running"


def test_kill_all_reaches_every_process(whale, bundle):
    spec_ns = [{"type": t} for t in ("network", "ipc", "uts", "mount")]  # host pid namespace
    b = bundle(["sh", "-c", "sleep 100 & sleep 100 & wait"], linux={"namespaces": spec_ns})
    with started(whale, b) as cid:
        deadline = time.monotonic() + 10
        while len(json.loads(whale("ps", "--format", "json", cid).stdout)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        pids = json.loads(whale("ps", "--format", "json", cid).stdout)
        assert len(pids) == 3
        whale("kill", "--all", cid, "KILL")
        deadline = time.monotonic() + 10
        while any(os.path.exists(f"/proc/{p}") and _state(p) != "Z" for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(not os.path.exists(f"/proc/{p}") or _state(p) == "Z" for p in pids)


def _state(pid: int) -> str:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def test_delete_running_needs_force(whale, bundle):
    b = bundle()
    cid = new_id()
    whale("create", "--bundle", str(b), cid)
    whale("start", cid)
    refused = whale("delete", cid, check=False)
    assert refused.returncode == 1
    assert whale.log_lines()[-1]["msg"] == f"cannot delete container {cid} that is not stopped: running"
    whale("delete", "--force", cid)
    assert_nothing_left(cid, whale, b)


def test_delete_of_a_created_container_kills_it(whale, bundle):
    b = bundle()
    cid = new_id()
    whale("create", "--bundle", str(b), cid)
    pid = whale.state(cid)["pid"]
    whale("delete", cid)
    assert _state(pid) in ("Z", "X")
    assert_nothing_left(cid, whale, b)


def test_missing_container_errors(whale):
    for command in (["state"], ["start"], ["kill"], ["pause"], ["ps"], ["delete"]):
        result = whale(*command, "nope", check=False)
        assert result.returncode == 1, command
        assert whale.log_lines()[-1]["msg"] == "container does not exist"
        assert "container does not exist" in result.stderr  # the log is a file: stderr says it too
    assert whale("delete", "--force", "nope", check=False).returncode == 0


def test_ps_table_and_json(whale, bundle):
    b = bundle(["sh", "-c", "sleep 100 & wait"])
    with started(whale, b) as cid:
        deadline = time.monotonic() + 10
        while len(json.loads(whale("ps", "-f", "json", cid).stdout)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        pids = json.loads(whale("ps", "-f", "json", cid).stdout)
        assert whale.state(cid)["pid"] in pids and len(pids) == 2
        table = whale("ps", cid).stdout.splitlines()
        assert table[0].split()[:2] == ["UID", "PID"]
        assert sorted(int(line.split()[1]) for line in table[1:]) == sorted(pids)
        custom = whale("ps", cid, "-o", "pid,comm").stdout.splitlines()
        assert custom[0].split() == ["PID", "COMMAND"]
        assert {line.split()[1] for line in custom[1:]} == {"sh", "sleep"}


def test_pause_and_resume_freeze_the_processes(whale, bundle):
    b = bundle(["sh", "-c", "while true; do date +%s%N > /tmp/tick; sleep 0.01; done"])
    with started(whale, b) as cid:
        tick = b / "rootfs/tmp/tick"
        deadline = time.monotonic() + 10
        while not tick.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        whale("pause", cid)
        assert whale.state(cid)["status"] == "paused"
        assert whale("list").stdout.splitlines()[1].split()[2] == "paused"
        frozen = tick.read_text()
        time.sleep(0.3)
        assert tick.read_text() == frozen
        refused = whale("exec", cid, "true", check=False)
        assert refused.returncode == 255
        assert "cannot exec in a paused container" in whale.log_lines()[-1]["msg"]
        whale("resume", cid)
        assert whale.state(cid)["status"] == "running"
        deadline = time.monotonic() + 10
        while tick.read_text() == frozen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert tick.read_text() != frozen
        again = whale("resume", cid, check=False)
        assert again.returncode == 1 and whale.log_lines()[-1]["msg"] == "container not paused"


def test_update_changes_cgroup_limits(whale, bundle):
    b = bundle(linux={**bundle_linux(), "resources": {"pids": {"limit": 100}}})
    with started(whale, b) as cid:
        assert cgroup_value(cid, "pids", "pids.max") == "100"
        whale("update", "--resources", "-", cid, input=json.dumps({"pids": {"limit": 42},
                                                                    "memory": {"limit": 64 << 20}}))
        assert cgroup_value(cid, "pids", "pids.max") == "42"
        assert cgroup_value(cid, "memory", "memory.limit_in_bytes") == str(64 << 20)
        whale("update", "--pids-limit", "43", "--cpu-share", "512", cid)
        assert cgroup_value(cid, "pids", "pids.max") == "43"
        assert cgroup_value(cid, "cpu", "cpu.shares") == "512"
        # memory untouched by the second update
        assert cgroup_value(cid, "memory", "memory.limit_in_bytes") == str(64 << 20)


def bundle_linux() -> dict:
    from corelib.runc.commands.spec import example

    return example()["linux"]


def test_exec_foreground_detached_and_failures(whale, bundle, workdir):
    b = bundle()
    with started(whale, b) as cid:
        assert whale("exec", cid, "echo", "hi").stdout == "hi\n"
        assert whale("exec", cid, "sh", "-c", "exit 7", check=False).returncode == 7
        assert whale("exec", "--env", "FOO=bar", "--cwd", "/tmp", cid, "sh", "-c", "echo $FOO $(pwd)").stdout == \
            "bar /tmp\n"
        assert whale("exec", "-u", "65534:65534", cid, "id").stdout == "uid=65534(nobody) gid=65534(nogroup)\n"
        failed = whale("exec", cid, "/nonexistent", check=False)
        assert failed.returncode == 255
        assert whale.log_lines()[-1]["msg"] == ('exec failed: unable to start container process: exec: '
                                                '"/nonexistent": stat /nonexistent: no such file or directory')
        pid_file = workdir / "exec.pid"
        whale("exec", "--detach", "--pid-file", str(pid_file), cid, "sleep", "100")
        pid = int(pid_file.read_text())
        assert pid in json.loads(whale("ps", "-f", "json", cid).stdout)
        process = workdir / "process.json"
        process.write_text(json.dumps({"args": ["sh", "-c", "echo from process.json; id -u"], "cwd": "/",
                                       "user": {"uid": 1, "gid": 1}, "env": ["PATH=/bin"]}))
        assert whale("exec", "--process", str(process), cid).stdout == "from process.json\n1\n"
        # the exec'd process is in the container's namespaces
        init = whale.state(cid)["pid"]
        inner = whale("exec", cid, "sh", "-c", "readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt").stdout.split()
        assert inner == [os.readlink(f"/proc/{init}/ns/pid"), os.readlink(f"/proc/{init}/ns/mnt")]
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)  # ours to reap: we are the subreaper, as a shim is


def test_run_returns_the_exit_status_and_cleans_up(whale, bundle):
    b = bundle(["sh", "-c", "echo out; echo err >&2; exit 3"])
    cid = new_id()
    result = whale("run", "--bundle", str(b), cid, check=False)
    assert result.returncode == 3
    assert result.stdout == "out\n" and "err\n" in result.stderr
    assert_nothing_left(cid, whale, b)


def test_run_detached_leaves_it_running(whale, bundle):
    b = bundle()
    cid = new_id()
    whale("run", "--detach", "--bundle", str(b), cid)
    assert whale.state(cid)["status"] == "running"
    whale("delete", "--force", cid)
    assert_nothing_left(cid, whale, b)


def test_hooks_run_in_order_with_the_state_on_stdin(whale, bundle, workdir):
    log = workdir / "hooks.log"
    b = bundle(["true"])

    def hook(name: str) -> dict:
        return {"path": "/bin/sh", "args": ["sh", "-c", f'read -r s; echo "{name} $s" >> {log}']}

    spec = json.loads((b / "config.json").read_text())
    spec["hooks"] = {name: [hook(name)] for name in
                     ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")}
    # createContainer and startContainer run inside the container: the log must be reachable there
    os.makedirs(b / "rootfs" / str(workdir).lstrip("/"), exist_ok=True)
    spec["mounts"].append({"destination": str(workdir), "type": "bind", "source": str(workdir),
                           "options": ["rbind"]})
    (b / "config.json").write_text(json.dumps(spec))
    cid = new_id()
    whale("create", "--bundle", str(b), cid)
    created = [line.split(" ", 1) for line in log.read_text().splitlines()]
    assert [name for name, _ in created] == ["prestart", "createRuntime", "createContainer"]
    states = [json.loads(s) for _, s in created]
    assert all(s["id"] == cid and s["status"] == "creating" and s["bundle"] == str(b) for s in states)
    whale("start", cid)
    wait_status(whale, cid, "stopped")
    whale("delete", cid)
    lines = [line.split(" ", 1) for line in log.read_text().splitlines()]
    names = [name for name, _ in lines]
    assert names[3:] == ["startContainer", "poststart", "poststop"] or \
        names[3:] == ["poststart", "startContainer", "poststop"]
    assert json.loads(lines[-1][1])["status"] == "stopped"
    assert_nothing_left(cid, whale, b)


def test_failing_prestart_hook_fails_create_and_leaves_nothing(whale, bundle):
    b = bundle()
    spec = json.loads((b / "config.json").read_text())
    spec["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 2"]}]}
    (b / "config.json").write_text(json.dumps(spec))
    cid = new_id()
    result = whale("create", "--bundle", str(b), cid, check=False)
    assert result.returncode == 1
    msg = whale.log_lines()[-1]["msg"]
    assert msg.startswith("runc create failed: unable to start container process: error during container init: "
                          "error running hook #0: error running hook: exit status 2")
    assert "stderr: nope" in msg
    assert_nothing_left(cid, whale, b)


def test_phases_in_the_json_log_inside_a_trace(whale, bundle):
    """With TRACEPARENT set (our shim sets it), the lifecycle phases go to the JSON log in the format
    corelib.trace.runtime_log reads; without it, none."""
    from corelib.trace.runtime_log import parse_phases

    b = bundle(["true"])
    traced = {**os.environ, "TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    cid = new_id()
    whale("create", "--bundle", str(b), cid, env=traced)
    whale("start", cid, env=traced)
    phases = parse_phases(Path(whale.log).read_text())
    names = [name for name, _, _ in phases]
    assert names == ["load config", "namespaces", "cgroups", "mounts", "pivot_root", "capabilities",
                     "wait exec.fifo", "start"]
    assert all(0 < start <= end for _, start, end in phases)
    assert [start for _, start, _ in phases[:3]] == sorted(start for _, start, _ in phases[:3])
    wait_status(whale, cid, "stopped")
    whale("delete", cid)
    other = new_id()
    whale("run", "--bundle", str(b), other, env={k: v for k, v in os.environ.items() if k != "TRACEPARENT"})
    assert len(parse_phases(Path(whale.log).read_text())) == len(phases)  # nothing more without a trace
