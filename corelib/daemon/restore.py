"""Finding the containers again when the daemon starts (moby's daemon.restore): their records from
disk, their tasks from containerd. A task still running is taken back (stdio fifos reopened, logs
appended, attach and wait work again: live restore); one that ended while the daemon was away is
recorded as exited; then restart policies and AutoRemove apply."""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import UTC, datetime

from corelib import errdefs
from corelib.daemon.container.container import Container
from corelib.daemon.container.state import format_time
from corelib.daemon.container.stream import STDERR, STDOUT
from corelib.daemon.logger.jsonfile import JSONFileLogger

log = logging.getLogger("whaled.restore")


class RestoreMixin:
    async def restore(self) -> None:
        containers = self.load_containers()
        to_remove, to_restart = [], []
        for container in containers:
            container.restart_manager.set_policy(container.HostConfig.get("RestartPolicy") or {})
            container.restart_manager.restart_count = container.RestartCount
            if container.State.Dead or container.State.RemovalInProgress:
                container.State.RemovalInProgress = False
                to_remove.append(container)
                continue
            if container.State.Running:
                await self._restore_running(container)
            else:
                await self.Cleanup(container)
            if not container.is_running():
                if container.HostConfig.get("AutoRemove"):
                    to_remove.append(container)
                elif self._restart_on_daemon_start(container):
                    to_restart.append(container)
        for container in to_remove:
            with contextlib.suppress(errdefs.WhaleError):
                await self.ContainerRm(container.ID, force=True, remove_volumes=True)
        for container in to_restart:
            try:
                await self.containerStart(container, reset_restart_manager=False)
            except errdefs.WhaleError as e:
                log.error("cannot restart container %s: %s", container.ID[:12], e)

    def _restart_on_daemon_start(self, container: Container) -> bool:
        policy = (container.HostConfig.get("RestartPolicy") or {}).get("Name", "no")
        return policy == "always" or (policy == "unless-stopped" and not container.HasBeenManuallyStopped)

    async def _restore_running(self, container: Container) -> None:
        try:
            status, pid, _ = await self.containerd.task_status(container.ID)
        except errdefs.NotFound:
            status, pid = "stopped", 0
        if status in ("running", "paused", "pausing", "created"):
            container.State.Pid = pid or container.State.Pid
            container.State.Paused = status in ("paused", "pausing")
            container.State.Restarting = False
            self._reattach_stdio(container)
            self.checkpoint(container)
            log.info("restored running container %s (pid %d)", container.ID[:12], container.State.Pid)
            return
        exit_code = 255
        self._drain_output(container)
        with contextlib.suppress(errdefs.WhaleError):
            exit_code, _ = await self.containerd.delete_task(container.ID)
        container.State.Restarting = False
        container.State.set_stopped(exit_code, format_time(datetime.now(UTC)))
        self.LogContainerEvent(container, "die", {"exitCode": str(exit_code)})
        await self.Cleanup(container)
        self.checkpoint(container)

    def _drain_output(self, container: Container) -> None:
        """What the container wrote while we were away, still in its fifos, goes to its log."""
        if (container.HostConfig.get("LogConfig") or {}).get("Type") == "none":
            return
        logger = JSONFileLogger(container.LogPath)
        for name, stream in (("init-stdout", STDOUT), ("init-stderr", STDERR)):
            path = self.fifo_dir(container.ID) / name
            if not path.exists():
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                while chunk := _read_nonblocking(fd):
                    logger.write(stream, chunk)
            finally:
                os.close(fd)
            logger.flush(stream)
        logger.close()

    def _reattach_stdio(self, container: Container) -> None:
        directory = self.fifo_dir(container.ID)
        stdin, stdout, stderr = (directory / "init-stdin", directory / "init-stdout", directory / "init-stderr")
        container.stream.new_input_pipe(bool(container.Config.get("OpenStdin")))
        self.connect_stdin(container.stream, str(stdin) if stdin.exists() else "", container.ID)
        self.attach_output(container, str(stdout) if stdout.exists() else "",
                           str(stderr) if stderr.exists() else "")


def _read_nonblocking(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""
