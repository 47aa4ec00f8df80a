"""Starting a container (moby's daemon/start.go), the seed's path:
postContainersStart > containerStart > conditionalMountOnStart > initializeNetworking >
containerd.Create > containerd.Start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from corelib import errdefs
from corelib.daemon.container.container import Container
from corelib.daemon.container.state import format_time
from corelib.daemon.container.stream import STDERR, STDOUT, FdWriter, StreamConfig
from corelib.daemon.logger.jsonfile import JSONFileLogger
from corelib.daemon.mounts import is_mountpoint, mount_all, unmount
from corelib.daemon.network import NetworkMixin
from corelib.daemon.oci_linux import OCIMixin
from corelib.daemon.tracing import tracer

log = logging.getLogger("whaled.start")


def translate_start_error(command: str, error: errdefs.WhaleError) -> tuple[errdefs.WhaleError, int]:
    """moby's translateContainerdStartErr: the error the client gets, and the exit code the
    container records (127 command not found, 126 not executable, 128 anything else)."""
    message = error.message
    lowered = message.lower()
    not_found = "executable file not found" in lowered or "no such file or directory" in lowered
    if command.lower() in lowered and not_found:
        return errdefs.InvalidArgument(message), 127
    if "permission denied" in lowered:
        return errdefs.InvalidArgument(message), 126
    if "not a directory" in lowered:
        return errdefs.InvalidArgument(message + ": Are you trying to mount a directory onto a file (or vice-versa)? "
                                       "Check if the specified host path exists and is the expected type"), 127
    return (error if isinstance(error, errdefs.WhaleError) else errdefs.WhaleError(message)), 128


async def _copy_output(streams: StreamConfig, fd: int, stream: int, logger: JSONFileLogger | None) -> None:
    """fifo -> the log and every attached client, until the shim closes its end."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
    try:
        while True:
            chunk = await reader.read(32 * 1024)
            if not chunk:
                if logger is not None:
                    logger.flush(stream)
                return
            if logger is not None:
                logger.write(stream, chunk)
            streams.publish(stream, chunk)
    finally:
        transport.close()


def make_fifos(directory: Path, process: str, open_stdin: bool, tty: bool) -> tuple[str, str, str]:
    """`<process>-stdin/-stdout/-stderr` fifos (no stderr with a TTY, no stdin unless asked)."""
    directory.mkdir(parents=True, exist_ok=True)
    stdin = str(directory / f"{process}-stdin") if open_stdin else ""
    stdout = str(directory / f"{process}-stdout")
    stderr = "" if tty else str(directory / f"{process}-stderr")
    for path in filter(None, (stdin, stdout, stderr)):
        with contextlib.suppress(FileExistsError):
            os.mkfifo(path, 0o600)
    return stdin, stdout, stderr


class FifoKeepers:
    """Write ends of the output fifos, held until the shim has opened its own: until then a reader
    of an empty fifo with no writer would see EOF."""

    def __init__(self, *paths: str):
        self.fds = [os.open(p, os.O_WRONLY | os.O_NONBLOCK) for p in paths if p]

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []

    def __enter__(self) -> FifoKeepers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StartMixin(NetworkMixin, OCIMixin):
    async def ContainerStart(self, name: str) -> None:
        container = self.GetContainer(name)
        if container.is_paused():
            raise errdefs.Conflict("cannot start a paused container, try unpause instead")
        if container.is_running():
            raise errdefs.NotModified("container already started")
        if container.State.RemovalInProgress or container.State.Dead:
            raise errdefs.Conflict("container is marked for removal and cannot be started")
        await self.containerStart(container, reset_restart_manager=True)

    async def containerStart(self, container: Container, reset_restart_manager: bool = True) -> None:
        with tracer.span("containerStart", container_id=container.ID):
            await self._container_start(container, reset_restart_manager)

    async def _container_start(self, container: Container, reset_restart_manager: bool) -> None:
        async with container.start_lock:
            if container.is_running() and not container.State.Restarting:
                return
            if container.State.RemovalInProgress or container.State.Dead:
                raise errdefs.Conflict("container is marked for removal and cannot be started")
            try:
                await self._start(container, reset_restart_manager)
            except errdefs.WhaleError as e:
                error, exit_code = translate_start_error(container.Path, e)
                await self._start_failed(container, error, exit_code)
                raise error from None
            except OSError as e:
                await self._start_failed(container, errdefs.WhaleError(str(e)), 128)
                raise errdefs.WhaleError(str(e)) from None

    async def _start(self, container: Container, reset_restart_manager: bool) -> None:
        with tracer.span("conditionalMountOnStart"):
            await self.conditionalMountOnStart(container)
        with tracer.span("initializeNetworking"):
            await self.initializeNetworking(container)
        with tracer.span("createSpec"):
            spec = self.createSpec(container)
        if reset_restart_manager:
            self.reset_restart_manager(container)
            container.HasBeenManuallyStopped = False
        runtime = self.config.runtimes[container.HostConfig.get("Runtime") or self.config.default_runtime]
        with tracer.span("containerd.Create", runtime=runtime.shim):
            await self.containerd.create(container.ID, spec, runtime.shim, runtime.path,
                                         {"com.docker/engine.bundle.path": str(self.fifo_dir(container.ID))})
        container.in_containerd = True
        pid = await self.containerdStart(container)
        container.State.set_running(pid, format_time(datetime.now(UTC)), initial=True)
        container.HasBeenStartedBefore = True
        self.checkpoint(container)
        self.LogContainerEvent(container, "start")

    async def _start_failed(self, container: Container, error: errdefs.WhaleError, exit_code: int) -> None:
        container.State.set_error(error.message)
        container.State.Running = container.State.Restarting = False
        container.State.set_exit_code(exit_code)
        self.checkpoint(container)
        await self.Cleanup(container)
        container.stream.end_run()
        if container.HostConfig.get("AutoRemove"):
            with contextlib.suppress(errdefs.WhaleError):
                await self.ContainerRm(container.ID, force=True, remove_volumes=True)

    @tracer.traced("containerd.Start")
    async def containerdStart(self, container: Container) -> int:
        """The seed's `daemon.containerd.Start`: the task's stdio fifos, then Tasks.Create and Start."""
        stdin, stdout, stderr = self.initializeStdio(container)
        with FifoKeepers(stdout, stderr) as keepers:
            def created() -> None:
                # The shim has its ends of the fifos now: the keepers can go, stdin can flow.
                keepers.close()
                self.connect_stdin(container.stream, stdin, container.ID)

            return await self.containerd.start(container.ID, stdin, stdout, stderr, bool(container.Config.get("Tty")),
                                               on_created=created)

    def initializeStdio(self, container: Container) -> tuple[str, str, str]:
        """Fifos in the exec root for the task's stdio, with the daemon's ends opened: output copied
        to the log and every attached client, input written from attached clients."""
        paths = make_fifos(self.fifo_dir(container.ID), "init", bool(container.Config.get("OpenStdin")),
                           bool(container.Config.get("Tty")))
        self.attach_output(container, paths[1], paths[2])
        return paths

    def connect_stdin(self, streams: StreamConfig, path: str, container_id: str, exec_id: str = "") -> None:
        """Feed the stdin pipe into the task's stdin fifo; its EOF closes the process's stdin (CloseIO)."""
        if not path or streams.stdin is None:
            return

        async def close_io() -> None:
            with contextlib.suppress(errdefs.WhaleError):
                await self.containerd.close_stdin(container_id, exec_id)

        streams.stdin.connect(FdWriter(os.open(path, os.O_RDWR | os.O_NONBLOCK)), close_io)

    def attach_output(self, container: Container, stdout: str, stderr: str) -> None:
        """Start copying the task's output fifos (also after a restore, when the task still runs)."""
        logger = None
        if (container.HostConfig.get("LogConfig") or {}).get("Type") != "none":
            logger = JSONFileLogger(container.LogPath, container.log_notifier)
        fds = self.start_copiers(container.stream, stdout, stderr, logger)
        self.fifo_holder.hold(container.ID, fds)  # what is written while we are down waits in the pipe

    def start_copiers(self, streams: StreamConfig, stdout: str, stderr: str,
                      logger: JSONFileLogger | None) -> list[int]:
        """Copy the output fifos; returns their read ends."""
        # The read ends open now: a writer (the shim, or our keeper) can only open a fifo that has one.
        fds = [(os.open(path, os.O_RDONLY | os.O_NONBLOCK), stream) for path, stream in ((stdout, STDOUT),
                                                                                           (stderr, STDERR)) if path]
        copiers = [self.spawn(_copy_output(streams, fd, stream, logger)) for fd, stream in fds]
        streams.copiers = copiers
        if logger is not None:
            async def close_logger() -> None:
                await asyncio.gather(*copiers, return_exceptions=True)
                logger.close()

            self.spawn(close_logger())
        return [fd for fd, _ in fds]

    async def conditionalMountOnStart(self, container: Container) -> None:
        """Mount the container's root filesystem (its snapshot) where the spec's root points."""
        target = container.rootfs
        target.mkdir(exist_ok=True)
        if is_mountpoint(str(target)):
            return
        if not container.RootfsMounts:
            raise errdefs.WhaleError(f"container {container.ID} has no root filesystem")
        mount_all(container.RootfsMounts, str(target))

    def conditionalUnmountOnCleanup(self, container: Container) -> None:
        with contextlib.suppress(OSError):
            unmount(str(container.rootfs))

    async def Cleanup(self, container: Container) -> None:
        """What a stopped container no longer needs: its rootfs mount, containerd's record, its fifos;
        and a fresh stdin for its next run."""
        container.stream.new_input_pipe(bool(container.Config.get("OpenStdin")))
        self.fifo_holder.release(container.ID)
        # Unmounting an overlay syncs its upper layer (milliseconds): in a thread, beside containerd's delete.
        unmounting = asyncio.to_thread(self.conditionalUnmountOnCleanup, container)
        if container.in_containerd:
            container.in_containerd = False
            await asyncio.gather(unmounting, self.containerd.delete(container.ID), return_exceptions=True)
        else:
            await unmounting
        directory = self.fifo_dir(container.ID)
        for name in ("init-stdin", "init-stdout", "init-stderr"):
            with contextlib.suppress(FileNotFoundError):
                (directory / name).unlink()
        with contextlib.suppress(OSError):
            directory.rmdir()
