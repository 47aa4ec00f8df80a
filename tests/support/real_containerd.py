"""A real containerd (Debian's 1.6), started by a test with its own root, state and sockets."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support import cleanup
from tests.support.env import require_binary, require_root

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


class RealContainerd:
    """`containerd` in a private directory; `ctr(...)` runs the real ctr against it.

    `extra_path` is put first on containerd's PATH, so the shims it starts can be ours.
    Everything it made (shims, containers, mounts, cgroups of its namespace) goes on `stop()`.
    """

    def __init__(self, extra_path: list[str] | None = None, namespace: str | None = None):
        require_root()
        self.binary = require_binary("containerd")
        self.ctr_binary = require_binary("ctr")
        self.dir = Path(tempfile.mkdtemp(prefix="wb-ctd-", dir="/tmp"))
        self.root = self.dir / "root"
        self.state = self.dir / "state"
        self.address = str(self.dir / "c.sock")
        self.namespace = namespace or f"wbtest{os.getpid()}x{os.urandom(3).hex()}"
        self.extra_path = extra_path or []
        self.log_path = self.dir / "containerd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> RealContainerd:
        config = self.dir / "config.toml"
        config.write_text(CONFIG.format(root=self.root, state=self.state, address=self.address))
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([*self.extra_path, env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")])
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--config", str(config)], stdout=log, stderr=log, env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"containerd exited {self.proc.returncode}:\n{self.log()}")
            if os.path.exists(self.address) and self._answers():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"containerd did not come up in {timeout}s:\n{self.log()}")

    def _answers(self) -> bool:
        return self.ctr("version", check=False, timeout=5).returncode == 0

    def ctr(self, *args: str, check: bool = True, timeout: float = 60, input: bytes | None = None,
            namespace: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = [self.ctr_binary, "--address", self.address, "--namespace", namespace or self.namespace, *args]
        result = subprocess.run(argv, capture_output=True, timeout=timeout, input=input, text=input is None)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop containerd alone (its shims and containers live on), as a crash or restart would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)

    def restart(self) -> RealContainerd:
        self.kill(signal.SIGTERM)
        return self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self._remove_tasks()
        self.kill(signal.SIGTERM)
        # Shims (and anything else) started for this instance carry its address on their command line.
        cleanup.kill_and_wait(cleanup.pids_with_marker(self.address))
        cleanup.kill_and_wait(cleanup.pids_with_marker(str(self.dir)))
        cleanup.unmount_all_under(str(self.dir))
        cleanup.remove_cgroups_named(self.namespace)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _remove_tasks(self) -> None:
        with contextlib.suppress(Exception):
            for line in self.ctr("task", "ls", "-q", check=False, timeout=10).stdout.split():
                self.ctr("task", "kill", "-s", "SIGKILL", line, check=False, timeout=10)
                self.ctr("task", "rm", "-f", line, check=False, timeout=10)
            for line in self.ctr("containers", "ls", "-q", check=False, timeout=10).stdout.split():
                self.ctr("containers", "rm", line, check=False, timeout=10)

    def __enter__(self) -> RealContainerd:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
