"""A daemon a test starts in a private /tmp directory (its log, sockets and state inside), waited for
until it answers, and gone on `stop()` with everything it made: processes carrying the directory on
their command line, mounts under it, cgroups named after it, the directory itself."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.support import cleanup


class ServiceProcess:
    name = "service"

    def __init__(self, prefix: str, log_name: str):
        self.dir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self.log_path = self.dir / log_name
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env, start_new_session=True)
        return self.proc

    def wait_ready(self, ready: Callable[[], bool], timeout: float, interval: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log()}")
            if ready():
                return
            time.sleep(interval)
        raise RuntimeError(f"{self.name} did not come up in {timeout}s:\n{self.log()}")

    def log(self, tail: int = 8000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 60) -> None:
        """Stop the daemon alone, as a crash or a restart would: what it started lives on."""
        if self.running():
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)

    def terminate(self, timeout: float = 30) -> None:
        if self.running():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def sweep(self, cgroups: str | None = None, markers: tuple[str, ...] = ()) -> None:
        for marker in (*markers, str(self.dir)):
            cleanup.kill_and_wait(cleanup.pids_with_marker(marker))
        cleanup.unmount_all_under(str(self.dir))
        if cgroups:
            cleanup.remove_cgroups_named(cgroups)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self) -> ServiceProcess:
        raise NotImplementedError

    def stop(self) -> None:
        self.terminate()
        self.sweep(self.dir.name)

    def __enter__(self):  # noqa: ANN204 - the subclass itself
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def env_with_path(first: list[str]) -> dict[str, str]:
    return {**os.environ, "PATH": os.pathsep.join([*first, os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")])}
