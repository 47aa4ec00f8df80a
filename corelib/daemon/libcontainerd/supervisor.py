"""whaled's own containerd (moby's libcontainerd/supervisor): `whale-containerd` started with its
root under the data root and its socket and state under the exec root, and started again when it
dies. It runs in its own session, so it outlives a crash of whaled; a restarted whaled finds it
again through its pidfile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from corelib.daemon.config import find_binary

log = logging.getLogger("whaled.supervisor")

RESTART_DELAY = 0.5


def _alive(pid: int, binary_name: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and binary_name.encode() in cmdline


class ContainerdSupervisor:
    def __init__(self, data_root: str, exec_root: str, log_level: str = "info", binary: str = "whale-containerd"):
        self.binary = find_binary(binary)
        self.state_dir = Path(exec_root) / "containerd"
        self.address = str(self.state_dir / "containerd.sock")
        self.root = Path(data_root) / "containerd" / "daemon"
        self.state = self.state_dir / "daemon"
        self.pidfile = self.state_dir / "containerd.pid"
        self.log_path = Path(data_root) / "containerd" / "containerd.log"
        self.log_level = log_level
        self.pid = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        """Adopt a whale-containerd a previous whaled left running, else start one; then watch it."""
        for d in (self.state_dir, self.root, self.log_path.parent):
            d.mkdir(parents=True, exist_ok=True)
        pid = self._pid_from_file()
        if pid and _alive(pid, "containerd"):
            self.pid = pid
            log.info("found containerd (pid %d) still running", pid)
        else:
            await self._spawn()
        await self._wait_socket(60)
        self._watcher = asyncio.ensure_future(self._watch())

    def _pid_from_file(self) -> int:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return 0

    async def _spawn(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.address)
        with open(self.log_path, "ab") as logfile:
            proc = await asyncio.create_subprocess_exec(
                self.binary, "--address", self.address, "--root", str(self.root), "--state", str(self.state),
                "--log-level", self.log_level, stdin=asyncio.subprocess.DEVNULL, stdout=logfile, stderr=logfile,
                start_new_session=True)
        self.pid = proc.pid
        self.pidfile.write_text(f"{proc.pid}\n")
        self._proc = proc
        log.info("started %s (pid %d)", self.binary, proc.pid)

    async def _wait_socket(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if os.path.exists(self.address) and _alive(self.pid, "containerd"):
                return
            await asyncio.sleep(0.02)
        raise RuntimeError(f"containerd did not come up in {timeout:.0f}s (see {self.log_path})")

    async def _watch(self) -> None:
        """Wait for the process to end (pidfd: also for one we adopted); start it again."""
        while not self._stopping:
            await self._wait_exit(self.pid)
            if self._stopping:
                return
            log.warning("containerd (pid %d) died; starting it again", self.pid)
            await asyncio.sleep(RESTART_DELAY)
            try:
                await self._spawn()
                await self._wait_socket(60)
            except Exception:
                log.exception("cannot restart containerd")

    async def _wait_exit(self, pid: int) -> None:
        if self._proc is not None and self._proc.pid == pid:
            await self._proc.wait()
            return
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        loop.add_reader(fd, lambda: ended.done() or ended.set_result(None))
        try:
            await ended
        finally:
            loop.remove_reader(fd)
            os.close(fd)

    async def stop(self, timeout: float = 15) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
        if not self.pid or not _alive(self.pid, "containerd"):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while _alive(self.pid, "containerd") and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if _alive(self.pid, "containerd"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self._proc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._proc.wait(), 5)
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
