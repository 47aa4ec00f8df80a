"""A real containerd (Debian's 1.6), started by a test with its own root, state and sockets."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from tests.support.env import require_binary, require_root
from tests.support.service import ServiceProcess, env_with_path

CONFIG = """\
version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{address}"

[ttrpc]
  address = "{address}.ttrpc"

[debug]
  level = "debug"

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
"""


class RealContainerd(ServiceProcess):
    """`containerd` in a private directory; `ctr(...)` runs the real ctr against it.

    `extra_path` is put first on containerd's PATH, so the shims it starts can be ours.
    Everything it made (shims, containers, mounts, cgroups of its namespace) goes on `stop()`.
    """

    name = "containerd"

    def __init__(self, extra_path: list[str] | None = None, namespace: str | None = None, binary: str = "",
                 prefix: str = "wb-ctd-"):
        require_root()
        self.binary = binary or require_binary("containerd")
        self.ctr_binary = require_binary("ctr")
        super().__init__(prefix, "containerd.log")
        self.root = self.dir / "root"
        self.state = self.dir / "state"
        self.address = str(self.dir / "c.sock")
        self.namespace = namespace or f"wbtest{os.getpid()}x{os.urandom(3).hex()}"
        self.extra_path = extra_path or []

    def start(self, timeout: float = 20.0) -> RealContainerd:
        config = self.dir / "config.toml"
        config.write_text(CONFIG.format(root=self.root, state=self.state, address=self.address))
        self.spawn([self.binary, "--config", str(config)], env=env_with_path(self.extra_path))
        self.wait_ready(lambda: os.path.exists(self.address) and self._answers(), timeout)
        return self

    def _answers(self) -> bool:
        return self.ctr("version", check=False, timeout=5).returncode == 0

    def ctr(self, *args: str, check: bool = True, timeout: float = 60, input: bytes | None = None,
            namespace: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = [self.ctr_binary, "--address", self.address, "--namespace", namespace or self.namespace, *args]
        result = subprocess.run(argv, capture_output=True, timeout=timeout, input=input, text=input is None)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 20) -> None:
        """Stop containerd alone (its shims and containers live on), as a crash or restart would."""
        super().kill(sig, timeout)

    def restart(self) -> RealContainerd:
        self.kill(signal.SIGTERM)
        return self.start()

    def stop(self) -> None:
        if self.running():
            self._remove_tasks()
        self.kill(signal.SIGTERM)
        # Shims (and anything else) started for this instance carry its address on their command line.
        self.sweep(self.namespace, markers=(self.address,))

    def _remove_tasks(self) -> None:
        with contextlib.suppress(Exception):
            for line in self.ctr("task", "ls", "-q", check=False, timeout=10).stdout.split():
                self.ctr("task", "kill", "-s", "SIGKILL", line, check=False, timeout=10)
                self.ctr("task", "rm", "-f", line, check=False, timeout=10)
            for line in self.ctr("containers", "ls", "-q", check=False, timeout=10).stdout.split():
                self.ctr("containers", "rm", line, check=False, timeout=10)
