"""whaled on the real containerd 1.6: containers go through their lifecycle for real (the real
shim and runc run them), and the Engine API answers as dockerd does."""

from __future__ import annotations

import json
import os
import socket
import time

from corelib.daemon.stdcopy import Demuxer
from tests.integration.daemon.harness import Whaled, wait_for


def run(whaled: Whaled, *args: str, **kw) -> object:
    return whaled.docker("run", *args, check=False, **kw)


def cid_of(whaled: Whaled, name: str) -> str:
    return whaled.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()


def leftovers(whaled: Whaled, cid: str) -> list[str]:
    """What a removed container must not leave behind: mounts, cgroups, fifos, files."""
    found = []
    with open("/proc/self/mountinfo") as f:
        found += [line.split()[4] for line in f if cid in line]
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        for dirpath, _, _ in os.walk(os.path.join("/sys/fs/cgroup", hierarchy)):
            if cid in dirpath:
                found.append(dirpath)
    for root in (whaled.data_root / "containers" / cid, whaled.exec_root / "containerd" / cid):
        if root.exists():
            found.append(str(root))
    return found


def test_run_output_streams_and_exit_codes(whaled):
    result = run(whaled, "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (result.returncode, result.stdout, result.stderr.splitlines()[-1]) == (3, "out\n", "err")
    missing = run(whaled, "--rm", "busybox", "/nonexistent")
    assert missing.returncode == 127
    assert ('exec: "/nonexistent": stat /nonexistent: no such file or directory' in missing.stderr)
    not_executable = run(whaled, "--rm", "busybox", "/etc/passwd")
    assert not_executable.returncode == 126 and "permission denied" in not_executable.stderr
    assert whaled.docker("ps", "-aq").stdout == ""


def test_a_failed_start_of_an_autoremove_container_leaves_nothing(whaled):
    status, created = whaled.api_json("POST", "/v1.41/containers/create",
                                      {"Image": "busybox", "Cmd": ["/nonexistent"], "HostConfig": {"AutoRemove": True}})
    assert status == 201
    cid = created["Id"]
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(30)
    sock.connect(whaled.socket)
    sock.sendall(f"POST /v1.41/containers/{cid}/wait?condition=removed HTTP/1.1\r\nHost: d\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200 OK")  # the headers come before the start is even asked for
    start_status, _, body = whaled.api("POST", f"/v1.41/containers/{cid}/start")
    assert start_status == 400 and b"no such file or directory" in body
    rest = head.split(b"\r\n\r\n", 1)[1]
    while not rest.endswith(b"0\r\n\r\n"):
        rest += sock.recv(4096)
    sock.close()
    assert b'{"Error":null,"StatusCode":127}' in rest
    assert whaled.api("GET", f"/v1.41/containers/{cid}/json")[0] == 404
    assert leftovers(whaled, cid) == []


def test_create_inspect_list_rename_remove(whaled):
    created = whaled.docker("create", "--name", "lc1", "--label", "tier=web", "busybox", "sleep", "30").stdout.strip()
    info = json.loads(whaled.docker("inspect", "lc1").stdout)[0]
    assert info["Id"] == created and info["Name"] == "/lc1" and info["State"]["Status"] == "created"
    assert info["Path"] == "sleep" and info["Args"] == ["30"] and info["Config"]["Hostname"] == created[:12]
    host = info["HostConfig"]
    assert (host["ShmSize"], host["IpcMode"], host["LogConfig"]["Type"], host["NetworkMode"]) == \
        (67108864, "private", "json-file", "default")
    assert info["Image"].startswith("sha256:") and info["LogPath"].endswith(f"{created}-json.log")
    assert whaled.docker("ps", "-q").stdout == ""
    listed = whaled.docker("ps", "-a", "--filter", "label=tier=web", "--format", "{{.Names}} {{.Status}}").stdout
    assert listed == "lc1 Created\n"
    assert whaled.docker("ps", "-aq", "--filter", "status=running").stdout == ""
    whaled.docker("rename", "lc1", "lc2")
    assert whaled.docker("ps", "-a", "--filter", "name=lc2", "--format", "{{.ID}}").stdout.strip() == created[:12]
    conflict = whaled.docker("create", "--name", "lc2", "busybox", check=False)
    assert conflict.returncode == 1 and f'The container name "/lc2" is already in use by container "{created}"' \
        in conflict.stderr
    whaled.docker("rm", "lc2")
    assert leftovers(whaled, created) == []


def test_stop_kill_pause_top_and_their_events(whaled):
    since = str(int(time.time()) - 1)
    cid = whaled.docker("run", "-d", "--name", "ev1", "busybox", "sleep", "1000").stdout.strip()
    top = whaled.docker("top", "ev1").stdout.splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"] and top[1].endswith("sleep 1000")
    whaled.docker("pause", "ev1")
    assert whaled.docker("inspect", "-f", "{{.State.Status}}", "ev1").stdout.strip() == "paused"
    rm_paused = whaled.docker("rm", "ev1", check=False)
    assert f"You cannot remove a paused container {cid}. Unpause and then stop the container" in rm_paused.stderr
    whaled.docker("unpause", "ev1")
    whaled.docker("stop", "-t", "1", "ev1")  # sleep ignores SIGTERM as PID 1: killed after a second
    assert whaled.docker("inspect", "-f", "{{.State.ExitCode}}", "ev1").stdout.strip() == "137"
    assert whaled.docker("stop", "ev1").returncode == 0  # already stopped: 304, and the CLI is fine with it
    whaled.docker("rm", "ev1")
    events = whaled.docker("events", "--since", since, "--until", str(int(time.time()) + 1), "--filter",
                           "container=ev1", "--format", "{{.Action}} {{json .Actor.Attributes}}").stdout.splitlines()
    actions = [line.split(" ", 1)[0] for line in events]
    assert actions == ["create", "start", "top", "pause", "unpause", "kill", "kill", "die", "stop", "destroy"]
    assert '"signal":"15"' in events[5] and '"signal":"9"' in events[6] and '"exitCode":"137"' in events[7]


def test_wait_conditions(whaled):
    cid = whaled.docker("create", "busybox", "sh", "-c", "sleep 1; exit 4").stdout.strip()
    assert whaled.api_json("POST", f"/v1.41/containers/{cid}/wait")[1] == {"Error": None, "StatusCode": 0}
    whaled.docker("start", cid)
    assert whaled.api_json("POST", f"/v1.41/containers/{cid}/wait?condition=next-exit")[1]["StatusCode"] == 4
    assert whaled.api_json("POST", f"/v1.41/containers/{cid}/wait?condition=not-running")[1]["StatusCode"] == 4
    assert whaled.docker("wait", cid).stdout.strip() == "4"
    whaled.docker("rm", cid)
    assert whaled.api("POST", "/v1.41/containers/nosuch/wait")[0] == 404


def test_logs_tail_since_timestamps_and_follow(whaled):
    script = "echo one; echo two >&2; sleep 1; echo three"
    cid = whaled.docker("run", "-d", "busybox", "sh", "-c", script).stdout.strip()
    followed = whaled.docker("logs", "-f", cid)
    assert followed.stdout == "one\nthree\n" and followed.stderr == "two\n"
    assert whaled.docker("logs", "--tail", "1", cid).stdout == "three\n"
    stamped = whaled.docker("logs", "-t", cid).stdout.splitlines()
    assert stamped[0].endswith("Z one") and len(stamped[0].split(" ")[0]) == 30  # nine digits of fraction
    status, _, raw = whaled.api("GET", f"/v1.41/containers/{cid}/logs?stdout=1&stderr=1&since={int(time.time()) + 60}")
    assert (status, raw) == (200, b"")
    _, _, raw = whaled.api("GET", f"/v1.41/containers/{cid}/logs?stdout=0&stderr=1")
    assert Demuxer().feed(raw) == [(2, b"two\n")]
    whaled.docker("rm", cid)


def attach_socket(whaled: Whaled, cid: str, query: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(30)
    sock.connect(whaled.socket)
    sock.sendall(f"POST /v1.41/containers/{cid}/attach?{query} HTTP/1.1\r\nHost: \r\nConnection: Upgrade\r\n"
                 f"Upgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head == (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                    b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while more := sock.recv(65536):
        data += more
    return data


def test_attach_before_start_with_stdin_and_half_close(whaled):
    status, created = whaled.api_json("POST", "/v1.41/containers/create",
                                      {"Image": "busybox", "Cmd": ["sh", "-c", "cat; echo done >&2"],
                                       "OpenStdin": True, "StdinOnce": True, "AttachStdin": True})
    cid = created["Id"]
    sock = attach_socket(whaled, cid, "stdin=1&stdout=1&stderr=1&stream=1")
    sock.sendall(b"typed before start\n")  # buffered until the process is there
    sock.shutdown(socket.SHUT_WR)  # EOF: closes the container's stdin (StdinOnce, no TTY)
    assert whaled.api("POST", f"/v1.41/containers/{cid}/start")[0] == 204
    frames = Demuxer().feed(read_until_closed(sock))
    sock.close()
    # stdout and stderr are two pipes: their relative order is not kept (by dockerd neither)
    assert sorted(frames) == [(1, b"typed before start\n"), (2, b"done\n")]
    assert whaled.api_json("POST", f"/v1.41/containers/{cid}/wait")[1]["StatusCode"] == 0
    whaled.docker("rm", cid)


def test_attach_with_a_tty_is_raw_and_logs_replay(whaled):
    status, created = whaled.api_json("POST", "/v1.41/containers/create",
                                      {"Image": "busybox", "Cmd": ["sh", "-c", "echo tty-out; echo tty-err >&2"],
                                       "Tty": True})
    cid = created["Id"]
    sock = attach_socket(whaled, cid, "stdout=1&stderr=1&stream=1")
    whaled.api("POST", f"/v1.41/containers/{cid}/start")
    assert read_until_closed(sock).replace(b"\r\n", b"\n") == b"tty-out\ntty-err\n"
    sock.close()
    replay = attach_socket(whaled, cid, "logs=1&stdout=1&stream=0")
    assert read_until_closed(replay).replace(b"\r\n", b"\n") == b"tty-out\ntty-err\n"
    replay.close()
    whaled.docker("rm", cid)


def test_exec_create_start_inspect(whaled):
    whaled.docker("run", "-d", "--name", "ex1", "busybox", "sleep", "1000")
    result = whaled.docker("exec", "-e", "GREETING=hi", "-w", "/tmp", "ex1", "sh", "-c", 'echo $GREETING $PWD; exit 5',
                           check=False)
    assert (result.returncode, result.stdout) == (5, "hi /tmp\n")
    assert whaled.docker("exec", "-i", "ex1", "cat", input="piped\n").stdout == "piped\n"
    assert whaled.docker("exec", "-u", "nobody", "ex1", "id", "-u").stdout == "65534\n"
    status, made = whaled.api_json("POST", "/v1.41/containers/ex1/exec", {"Cmd": ["true"]})
    assert status == 201
    exec_info = whaled.api_json("GET", f"/v1.41/exec/{made['Id']}/json")[1]
    assert exec_info["Running"] is False and exec_info["ExitCode"] is None
    assert whaled.api_json("POST", "/v1.41/containers/ex1/exec", {"Cmd": []}) == \
        (400, {"message": "No exec command specified"})
    whaled.docker("rm", "-f", "ex1")
    assert whaled.api_json("GET", f"/v1.41/exec/{made['Id']}/json")[0] == 404


def test_restart_policies(whaled):
    whaled.docker("run", "-d", "--name", "rp1", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1")
    wait_for(lambda: whaled.docker("inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "rp1").stdout.strip()
             == "2 exited", what="two restarts, then exited")
    whaled.docker("run", "-d", "--name", "rp2", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 0")
    wait_for(lambda: int(whaled.docker("inspect", "-f", "{{.RestartCount}}", "rp2").stdout) >= 2,
             what="an always container restarted")
    whaled.docker("stop", "-t", "1", "rp2")
    count = whaled.docker("inspect", "-f", "{{.RestartCount}}", "rp2").stdout.strip()
    time.sleep(1)  # long enough for a restart the policy would have made
    assert whaled.docker("inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "rp2").stdout.strip() == \
        f"{count} exited"
    whaled.docker("rm", "rp1", "rp2")


def test_autoremove_of_a_detached_container(whaled):
    cid = whaled.docker("run", "-d", "--rm", "busybox", "sh", "-c", "sleep 0.5").stdout.strip()
    wait_for(lambda: whaled.api("GET", f"/v1.41/containers/{cid}/json")[0] == 404, what="the container removed")
    assert leftovers(whaled, cid) == []


def test_resize_reaches_the_terminal(whaled):
    status, created = whaled.api_json("POST", "/v1.41/containers/create",
                                      {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 1; stty size"], "Tty": True})
    cid = created["Id"]
    assert whaled.api("POST", f"/v1.41/containers/{cid}/resize?h=30&w=100")[0] == 409  # not running yet
    whaled.api("POST", f"/v1.41/containers/{cid}/start")
    status, _, body = whaled.api("POST", f"/v1.41/containers/{cid}/resize?h=30&w=100")
    assert (status, body) == (200, b"")
    assert whaled.api_json("POST", f"/v1.41/containers/{cid}/wait")[1]["StatusCode"] == 0
    assert whaled.docker("logs", cid).stdout.replace("\r", "") == "30 100\n"
    assert whaled.api_json("POST", f"/v1.41/containers/{cid}/resize?h=x&w=1") == \
        (400, {"message": 'strconv.Atoi: parsing "x": invalid syntax'})
    whaled.docker("rm", cid)


def test_added_runtime(real_containerd):
    with Whaled(containerd=real_containerd.address, namespace=real_containerd.namespace,
                extra_args=["--add-runtime", "myrunc=/usr/sbin/runc", "--default-runtime", "myrunc"]) as daemon:
        info = daemon.api_json("GET", "/v1.41/info")[1]
        assert info["DefaultRuntime"] == "myrunc" and info["Runtimes"]["myrunc"] == {"path": "/usr/sbin/runc"}
        assert daemon.docker("run", "--rm", "--runtime", "runc", "busybox", "echo", "ran").stdout == "ran\n"
        cid = daemon.docker("create", "busybox", "true").stdout.strip()
        assert daemon.docker("inspect", "-f", "{{.HostConfig.Runtime}}", cid).stdout.strip() == "myrunc"
        unknown = daemon.docker("run", "--rm", "--runtime", "kata", "busybox", "true", check=False)
        assert unknown.returncode == 125 and "Unknown runtime specified kata" in unknown.stderr


def test_detach_keys_end_an_attach_and_the_container_runs_on(whaled):
    status, created = whaled.api_json("POST", "/v1.41/containers/create",
                                      {"Image": "busybox", "Cmd": ["sh"], "Tty": True, "OpenStdin": True})
    cid = created["Id"]
    whaled.api("POST", f"/v1.41/containers/{cid}/start")
    sock = attach_socket(whaled, cid, "stdin=1&stdout=1&stream=1")
    sock.sendall(b"echo marker\n")
    seen = b""
    while b"marker\r\n" not in seen.replace(b"echo marker", b""):
        seen += sock.recv(4096)
    sock.sendall(b"\x10\x11")  # ctrl-p ctrl-q
    read_until_closed(sock)  # the daemon ends the attach
    sock.close()
    assert whaled.docker("inspect", "-f", "{{.State.Running}}", cid).stdout.strip() == "true"
    whaled.docker("rm", "-f", cid)
