"""A whaled started by a test: its own data root, exec root, socket, pidfile and cgroup parent, on
an existing containerd (`containerd=`: the real one) or on its own supervised whale-containerd.
Everything it made goes on `stop()`: containers and their cgroups, shims, mounts, files."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support import cleanup
from tests.support.env import missing, require_root, venv_bin
from tests.support.real_dockerd import DOCKER_CLI_20, DOCKER_CLI_28
from tests.support.service import ServiceProcess

__all__ = ["DOCKER_CLI_20", "DOCKER_CLI_28", "Whaled", "UnixHTTPConnection", "wait_for"]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def wait_for(predicate, timeout: float = 30, interval: float = 0.05, what: str = "condition"):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def kill_cgroup_processes(name: str) -> None:
    """SIGKILL every process in a cgroup (any hierarchy) whose path contains `name`."""
    pids = set()
    for hierarchy in cleanup.CGROUP_ROOT.iterdir():
        for dirpath, _, filenames in os.walk(hierarchy):
            if name in dirpath and "cgroup.procs" in filenames:
                with contextlib.suppress(OSError):
                    pids.update(int(p) for p in Path(dirpath, "cgroup.procs").read_text().split())
    cleanup.kill_and_wait(sorted(pids))


class Whaled(ServiceProcess):
    name = "whaled"

    def __init__(self, containerd: str | None = None, namespace: str | None = None,
                 extra_args: list[str] | None = None, prefix: str = "wb-wd-", log_level: str = "debug"):
        require_root()
        self.binary = venv_bin("whaled")
        super().__init__(prefix, "whaled.log")
        self.socket = str(self.dir / "d.sock")
        self.host = f"unix://{self.socket}"
        self.data_root = self.dir / "data"
        self.exec_root = self.dir / "exec"
        self.cgroup_parent = f"/{self.dir.name}"
        self.containerd = containerd
        self.namespace = namespace
        self.extra_args = extra_args or []
        self.log_level = log_level

    # -- lifecycle -----------------------------------------------------------------------------

    def argv(self) -> list[str]:
        argv = [self.binary, "-H", self.host, "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
                "--pidfile", str(self.dir / "whaled.pid"), "--cgroup-parent", self.cgroup_parent,
                "--log-level", self.log_level, *self.extra_args]
        if self.containerd:
            argv += ["--containerd", self.containerd]
        if self.namespace:
            argv += ["--containerd-namespace", self.namespace]
        return argv

    def start(self, timeout: float = 90) -> Whaled:
        self.spawn(self.argv())
        self.wait_ready(lambda: os.path.exists(self.socket) and self._pings(), timeout)
        return self

    def _pings(self) -> bool:
        try:
            return self.api("GET", "/_ping", timeout=5)[0] == 200
        except OSError:
            return False

    def restart(self) -> Whaled:
        self.kill(signal.SIGTERM)
        return self.start()

    def stop(self) -> None:
        if self.running():
            with contextlib.suppress(Exception):
                for cid in self.docker("ps", "-aq", check=False, timeout=30).stdout.split():
                    self.docker("rm", "-f", cid, check=False, timeout=30)
        self.terminate(timeout=60)
        kill_cgroup_processes(self.dir.name)
        self.sweep(self.dir.name)

    # -- clients -------------------------------------------------------------------------------

    def docker(self, *args: str, cli: str = DOCKER_CLI_28, check: bool = True, timeout: float = 60,
               input: bytes | str | None = None) -> subprocess.CompletedProcess:
        if not os.access(cli, os.X_OK):
            missing(f"{cli} is not installed (docker.io for 20.10; 28.x in /usr/local/bin)")
        env = {**os.environ, "DOCKER_CONFIG": str(self.dir / "cli-config")}
        text = not isinstance(input, bytes)
        result = subprocess.run([cli, "-H", self.host, *args], capture_output=True, timeout=timeout, input=input,
                                text=text, env=env)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}\n"
                                 f"--- whaled log ---\n{self.log()}")
        return result

    def api(self, method: str, path: str, body: object = None, headers: dict | None = None,
            raw: bytes | None = None, timeout: float = 60) -> tuple[int, dict, bytes]:
        """One request on a fresh connection: (status, headers, body)."""
        conn = UnixHTTPConnection(self.socket, timeout)
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            sent = dict(headers or {})
            if data is not None and raw is None:
                sent.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def api_json(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        status, _, data = self.api(method, path, body)
        return status, (json.loads(data) if data.strip() else None)

    def client(self):  # noqa: ANN201 - docker.DockerClient
        import docker

        return docker.DockerClient(base_url=self.host, timeout=60)
