"""Faults: kill -9 of whaled while containers run (live restore), kill -9 of containerd under it
(the real one, and the whale-containerd whaled supervises), and bad input. Nothing is lost, and
the daemon keeps serving."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corelib.daemon.stdcopy import Demuxer
from tests.integration.daemon.harness import Whaled, wait_for
from tests.support.real_containerd import RealContainerd


@pytest.fixture(scope="module")
def crashing(real_containerd: RealContainerd) -> Iterator[Whaled]:
    """A whaled of this module alone: its tests kill it."""
    with Whaled(containerd=real_containerd.address, namespace=real_containerd.namespace) as daemon:
        yield daemon


def state(whaled: Whaled, name: str) -> str:
    return whaled.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}", name).stdout.strip()


def test_kill_9_of_whaled_loses_nothing(crashing):
    d = crashing
    d.docker("run", "-d", "--name", "ticker", "busybox", "sh", "-c",
             "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done")
    d.docker("run", "-d", "--name", "leaver", "busybox", "sh", "-c", "sleep 2; echo bye; exit 9")
    d.docker("run", "-d", "-i", "--name", "echoer", "busybox", "cat")
    wait_for(lambda: "tick3" in d.docker("logs", "ticker").stdout, what="the ticker ticking")
    ticker_pid = state(d, "ticker").split()[2]
    d.kill(signal.SIGKILL)
    time.sleep(3)  # the leaver says bye and exits while nobody listens
    d.start()
    assert state(d, "ticker") == f"running 0 {ticker_pid}"
    assert state(d, "leaver") == "exited 9 0"
    assert d.docker("logs", "leaver").stdout == "bye\n"  # written while whaled was dead, kept
    before = d.docker("logs", "ticker").stdout.split()
    wait_for(lambda: len(d.docker("logs", "ticker").stdout.split()) > len(before) + 2, what="logs going on")
    ticks = d.docker("logs", "ticker").stdout.split()
    assert ticks == [f"tick{i}" for i in range(len(ticks))]  # nothing lost, nothing twice
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(30)
    sock.connect(d.socket)
    cid = d.docker("inspect", "-f", "{{.Id}}", "echoer").stdout.strip()
    sock.sendall(f"POST /containers/{cid}/attach?stdin=1&stdout=1&stream=1 HTTP/1.1\r\nHost: \r\n"
                 "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    sock.sendall(b"still there?\n")
    demuxer, frames = Demuxer(), []
    while not frames:
        frames = demuxer.feed(sock.recv(4096))
    assert frames == [(1, b"still there?\n")]
    sock.close()
    d.docker("kill", "ticker")
    assert d.docker("wait", "ticker").stdout.strip() == "137"
    d.docker("rm", "-f", "ticker", "leaver", "echoer")


def test_logs_follow_and_wait_survive_a_restart(crashing):
    d = crashing
    d.docker("run", "-d", "--name", "slow", "busybox", "sh", "-c", "sleep 2; echo late; exit 3")
    d.kill(signal.SIGKILL)
    d.start()
    followed = d.docker("logs", "-f", "slow")
    assert followed.stdout == "late\n"
    assert d.docker("wait", "slow").stdout.strip() == "3"
    d.docker("rm", "slow")


def test_a_graceful_restart_keeps_the_store(crashing):
    d = crashing
    created = d.docker("create", "--name", "kept", "--label", "a=b", "busybox", "true").stdout.strip()
    d.docker("run", "-d", "--name", "stopped-at-shutdown", "busybox", "sleep", "100")
    d.restart()
    assert d.docker("inspect", "-f", "{{.Id}} {{.Config.Labels.a}} {{.State.Status}}", "kept").stdout.split() == \
        [created, "b", "created"]
    assert state(d, "stopped-at-shutdown").split()[0] == "exited"  # no live-restore: shutdown stops them
    again = d.docker("create", "--name", "kept", "busybox", check=False)
    assert "is already in use" in again.stderr
    assert d.docker("start", "-a", "kept").returncode == 0
    d.docker("rm", "kept", "stopped-at-shutdown")


def test_kill_9_of_the_real_containerd(crashing, real_containerd):
    d = crashing
    d.docker("run", "-d", "--name", "survivor", "busybox", "sleep", "1000")
    d.docker("run", "-d", "--name", "ender", "busybox", "sh", "-c", "sleep 3; exit 6")
    real_containerd.kill(signal.SIGKILL)
    real_containerd.start()
    assert d.docker("exec", "survivor", "echo", "ok").stdout == "ok\n"
    assert d.docker("wait", "ender").stdout.strip() == "6"  # the exit after containerd came back is heard
    d.docker("rm", "-f", "survivor", "ender")


@pytest.fixture(scope="module")
def supervising() -> Iterator[Whaled]:
    """whaled on its own whale-containerd (the default)."""
    with Whaled() as daemon:
        yield daemon


def containerd_pid(whaled: Whaled) -> int:
    return int((whaled.exec_root / "containerd" / "containerd.pid").read_text())


def test_whaled_supervises_its_whale_containerd(supervising):
    d = supervising
    assert d.docker("run", "--rm", "busybox", "sh", "-c", "echo from the whale stack; exit 4", check=False).stdout \
        == "from the whale stack\n"
    d.docker("run", "-d", "--name", "long", "busybox", "sleep", "1000")
    first = containerd_pid(d)
    cmdline = Path(f"/proc/{first}/cmdline").read_bytes()
    assert b"whale-containerd" in cmdline
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: containerd_pid(d) != first and Path(f"/proc/{containerd_pid(d)}").exists(), timeout=60,
             what="whale-containerd started again")
    wait_for(lambda: d.docker("exec", "long", "echo", "ok", check=False).stdout == "ok\n", timeout=60,
             what="the running container reachable through the new containerd")
    assert state(d, "long").startswith("running")
    d.docker("kill", "long")
    assert d.docker("wait", "long").stdout.strip() == "137"
    d.docker("rm", "long")


def test_the_whole_whale_stack_runs_what_docker_runs(supervising):
    """whaled -> whale-containerd -> containerd-shim-whale-v2 -> whale-runc, driven by the real CLI."""
    d = supervising
    piped = d.docker("run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo err >&2; exit 3", input="through\n",
                     check=False)
    assert (piped.returncode, piped.stdout, piped.stderr.splitlines()[-1]) == (3, "through\n", "err")
    assert d.docker("run", "--rm", "busybox", "/nonexistent", check=False).returncode == 127
    d.docker("run", "-d", "--name", "stack1", "busybox", "sh", "-c", "echo logged; sleep 1000")
    assert d.docker("exec", "stack1", "sh", "-c", "echo $((6*7))").stdout == "42\n"
    assert d.docker("logs", "stack1").stdout == "logged\n"
    d.docker("rm", "-f", "stack1")


def test_live_restore_keeps_containers_through_a_graceful_restart(real_containerd):
    with Whaled(containerd=real_containerd.address, namespace=real_containerd.namespace,
                extra_args=["--live-restore"]) as d:
        d.docker("run", "-d", "--name", "kept-running", "busybox", "sleep", "1000")
        pid = state(d, "kept-running").split()[2]
        d.restart()
        assert state(d, "kept-running") == f"running 0 {pid}"
        assert d.api_json("GET", "/v1.41/info")[1]["LiveRestoreEnabled"] is True


def test_bad_input_gets_dockers_answers_and_the_daemon_keeps_serving(whaled):
    def create(raw: bytes, headers: dict | None = None, query: str = "") -> tuple[int, str]:
        status, _, body = whaled.api("POST", f"/v1.41/containers/create{query}", raw=raw,
                                     headers={"Content-Type": "application/json", **(headers or {})})
        return status, json.loads(body)["message"] if status >= 400 else ""

    assert create(b"{bad") == (500, "invalid character 'b' looking for beginning of object key string")
    assert create(b"") == (500, "EOF")
    assert create(b'{"Image":"busybox","Cmd":5}') == \
        (500, "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string")
    assert create(b'{"Image":"busybox"}', {"Content-Type": "text/plain"}) == \
        (400, "Content-Type specified (text/plain) must be 'application/json'")
    assert create(b'{"Image":"BAD:::ref","Cmd":["true"]}')[0] == 400
    assert create(b'{"Image":"nosuchimage-xyz"}') == (404, "No such image: nosuchimage-xyz:latest")
    assert create(b'{"Image":"busybox","Cmd":["true"]}', query="?name=x") == \
        (400, "Invalid container name (x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    status, _ = create(b'{"Image":"busybox","Cmd":["true"],"Bogus":{"x":1}}', query="?name=dupe")
    assert status == 201  # unknown fields are ignored, as Go does
    status, message = create(b'{"Image":"busybox","Cmd":["true"]}', query="?name=dupe")
    assert status == 409 and message.startswith('Conflict. The container name "/dupe" is already in use')
    before = sorted(os.listdir(whaled.data_root / "containers"))
    assert create(b'{"Image":"busybox","Cmd":["true"],"HostConfig":{"Binds":["/a:/b","/c:/b"]}}') == \
        (400, "Duplicate mount point: /b")
    assert sorted(os.listdir(whaled.data_root / "containers")) == before  # a refused create leaves nothing
    huge = b'{"Image":"busybox","Labels":{"a":"' + b"x" * (65 << 20) + b'"}}'
    assert create(huge) == (400, "http: request body too large")
    assert _oversized_headers(whaled).startswith(b"HTTP/1.1 431 ")
    assert whaled.api_json("GET", "/v1.41/containers/nosuch/json") == (404, {"message": "No such container: nosuch"})
    assert whaled.api_json("POST", "/v1.41/containers/dupe/kill?signal=BOGUS") == \
        (400, {"message": "Invalid signal: BOGUS"})
    assert whaled.api_json("POST", "/v1.41/containers/dupe/kill") == \
        (409, {"message": f"Cannot kill container: dupe: Container {_id(whaled, 'dupe')} is not running"})
    assert whaled.api("GET", "/_ping")[2] == b"OK"
    whaled.docker("rm", "dupe")


def _oversized_headers(whaled: Whaled) -> bytes:
    """2 MiB of headers (Go allows 1 MiB): the answer comes before the client is done sending."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(whaled.socket)
        with contextlib.suppress(BrokenPipeError):  # the daemon answers and hangs up while we still send
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: " + b"y" * (2 << 20) + b"\r\n\r\n")
        return sock.recv(4096)


def _id(whaled: Whaled, name: str) -> str:
    return whaled.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
