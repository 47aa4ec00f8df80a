"""A real dockerd (Debian's 20.10), started by a test in a private directory: its own data-root,
exec-root, pidfile and API socket, no iptables and no bridge. Optionally on an existing containerd."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import cleanup
from tests.support.env import require_binary, require_root

DOCKER_CLI_20 = "/usr/bin/docker"
DOCKER_CLI_28 = "/usr/local/bin/docker"


class RealDockerd:
    def __init__(self, containerd_address: str | None = None, extra_args: list[str] | None = None):
        require_root()
        self.binary = require_binary("dockerd")
        self.dir = Path(tempfile.mkdtemp(prefix="wb-dkd-", dir="/tmp"))
        self.data_root = self.dir / "data"
        self.exec_root = self.dir / "exec"
        self.socket = str(self.dir / "docker.sock")
        self.host = f"unix://{self.socket}"
        self.containerd_address = containerd_address
        self.extra_args = extra_args or []
        self.log_path = self.dir / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> RealDockerd:
        config = self.dir / "daemon.json"
        config.write_text(json.dumps({}))
        argv = [self.binary, "--config-file", str(config), "--data-root", str(self.data_root),
                "--exec-root", str(self.exec_root), "--pidfile", str(self.dir / "dockerd.pid"),
                "-H", self.host, "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--bridge=none",
                "--userland-proxy=false", "--storage-driver=overlay2", "--log-level=debug", *self.extra_args]
        if self.containerd_address:
            argv.append(f"--containerd={self.containerd_address}")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited {self.proc.returncode}:\n{self.log()}")
            if os.path.exists(self.socket) and self.docker("version", check=False, timeout=10).returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"dockerd did not come up in {timeout}s:\n{self.log()}")

    def docker(self, *args: str, cli: str = DOCKER_CLI_20, check: bool = True, timeout: float = 120,
               input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        argv = [cli, "-H", self.host, *args]
        env = {**os.environ, "DOCKER_CONFIG": str(self.dir / "cli-config")}
        result = subprocess.run(argv, capture_output=True, timeout=timeout, input=input, text=input is None,
                                env=env)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False, timeout=60)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        cleanup.kill_and_wait(cleanup.pids_with_marker(str(self.dir)))
        cleanup.unmount_all_under(str(self.dir))
        cleanup.remove_cgroups_named(self.dir.name)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RealDockerd:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
