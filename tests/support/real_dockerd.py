"""A real dockerd (Debian's 20.10), started by a test in a private directory: its own data-root,
exec-root, pidfile and API socket, no iptables and no bridge. Optionally on an existing containerd."""

from __future__ import annotations

import json
import os
import subprocess

from tests.support.env import require_binary, require_root
from tests.support.service import ServiceProcess

DOCKER_CLI_20 = "/usr/bin/docker"
DOCKER_CLI_28 = "/usr/local/bin/docker"


class RealDockerd(ServiceProcess):
    name = "dockerd"

    def __init__(self, containerd_address: str | None = None, extra_args: list[str] | None = None):
        require_root()
        self.binary = require_binary("dockerd")
        super().__init__("wb-dkd-", "dockerd.log")
        self.data_root = self.dir / "data"
        self.exec_root = self.dir / "exec"
        self.socket = str(self.dir / "docker.sock")
        self.host = f"unix://{self.socket}"
        self.containerd_address = containerd_address
        self.extra_args = extra_args or []

    def start(self, timeout: float = 60.0) -> RealDockerd:
        config = self.dir / "daemon.json"
        config.write_text(json.dumps({}))
        argv = [self.binary, "--config-file", str(config), "--data-root", str(self.data_root),
                "--exec-root", str(self.exec_root), "--pidfile", str(self.dir / "dockerd.pid"),
                "-H", self.host, "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--bridge=none",
                "--userland-proxy=false", "--storage-driver=overlay2", "--log-level=debug", *self.extra_args]
        if self.containerd_address:
            argv.append(f"--containerd={self.containerd_address}")
        self.spawn(argv)
        self.wait_ready(lambda: os.path.exists(self.socket) and self.docker("version", check=False,
                                                                            timeout=10).returncode == 0,
                        timeout, interval=0.1)
        return self

    def docker(self, *args: str, cli: str = DOCKER_CLI_20, check: bool = True, timeout: float = 120,
               input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        argv = [cli, "-H", self.host, *args]
        env = {**os.environ, "DOCKER_CONFIG": str(self.dir / "cli-config")}
        result = subprocess.run(argv, capture_output=True, timeout=timeout, input=input, text=input is None,
                                env=env)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def remove_containers(self) -> None:
        ids = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
        if ids:
            self.docker("rm", "-f", *ids, check=False, timeout=60)

    def stop(self) -> None:
        if self.running():
            self.remove_containers()
        self.terminate()
        self.sweep(self.dir.name)
