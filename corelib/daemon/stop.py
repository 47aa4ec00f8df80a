"""Stopping, killing, restarting and waiting for containers (moby's daemon/stop.go, kill.go,
restart.go, wait.go)."""

from __future__ import annotations

import asyncio
import contextlib
import signal as signals

from corelib import errdefs
from corelib.daemon.container.container import Container
from corelib.daemon.container.state import NOT_RUNNING
from corelib.daemon.tracing import tracer

DEFAULT_STOP_TIMEOUT = 10


def parse_signal(raw: str) -> int:
    """Docker's ParseSignal: a number, or a name with or without SIG, any case."""
    if raw.isdigit():
        number = int(raw)
        if number == 0 or number > 64:
            raise errdefs.InvalidArgument(f"Invalid signal: {raw}")
        return number
    name = raw.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    value = getattr(signals.Signals, name, None) if name in signals.Signals.__members__ else None
    if value is None:
        raise errdefs.InvalidArgument(f"Invalid signal: {raw}")
    return int(value)


def not_running(container: Container) -> errdefs.Conflict:
    return errdefs.Conflict(f"Container {container.ID} is not running")


class StopMixin:
    def stop_timeout(self, container: Container) -> int:
        timeout = container.Config.get("StopTimeout")
        return DEFAULT_STOP_TIMEOUT if timeout is None else timeout

    def stop_signal(self, container: Container) -> int:
        raw = container.Config.get("StopSignal") or ""
        return parse_signal(raw) if raw else int(signals.SIGTERM)

    # -- wait ----------------------------------------------------------------------------------

    def ContainerWait(self, container: Container, condition: str) -> asyncio.Future[tuple[int, str]]:
        """A future of (exit code, error) for `condition`: not-running, next-exit or removed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, str]] = loop.create_future()

        def waiter(code: int, error: str) -> None:
            if not future.done():
                future.set_result((code, error))

        container.State.wait(condition, waiter)
        future.add_done_callback(lambda f: container.State.cancel_wait(waiter) if f.cancelled() else None)
        return future

    async def wait_stopped(self, container: Container, timeout: float | None) -> bool:
        if not container.is_running():
            return True
        future = self.ContainerWait(container, NOT_RUNNING)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False

    # -- kill ----------------------------------------------------------------------------------

    async def ContainerKill(self, name: str, raw_signal: str) -> None:
        container = self.GetContainer(name)
        sig = parse_signal(raw_signal) if raw_signal else int(signals.SIGKILL)
        if sig == signals.SIGKILL:
            try:
                await self.Kill(container)
            except errdefs.Conflict as e:
                raise errdefs.Conflict(f"Cannot kill container: {name}: {e}") from None
            return
        try:
            await self.killWithSignal(container, sig)
        except errdefs.Conflict as e:
            raise errdefs.Conflict(f"Cannot kill container: {name}: {e}") from None

    async def killWithSignal(self, container: Container, sig: int) -> None:
        if not container.is_running():
            raise not_running(container)
        stop_signal = self.stop_signal(container)
        unpause = False
        if sig == signals.SIGKILL or sig == stop_signal or not container.Config.get("StopSignal"):
            self.cancel_restart(container)
            unpause = container.is_paused()
        if not self.shutting_down:
            container.HasBeenManuallyStopped = True
            self.checkpoint(container)
        if container.State.Restarting:
            return
        try:
            await self.containerd.signal(container.ID, sig)
        except errdefs.NotFound:
            unpause = False
            self.spawn(self._reap_lost(container))
        if unpause:
            with contextlib.suppress(errdefs.WhaleError):
                await self.containerd.resume(container.ID)
        self.LogContainerEvent(container, "kill", {"signal": str(sig)})

    async def _reap_lost(self, container: Container) -> None:
        """The task is gone but no exit came: give the event its chance, then take the exit ourselves."""
        if not await self.wait_stopped(container, self.stop_timeout(container)):
            await self.handleContainerExit(container, 137)

    async def Kill(self, container: Container) -> None:
        """SIGKILL, and wait (10 s) until the exit has been handled."""
        if not container.is_running():
            raise not_running(container)
        with contextlib.suppress(errdefs.NotFound):
            await self.killWithSignal(container, int(signals.SIGKILL))
        if await self.wait_stopped(container, 10):
            return
        with contextlib.suppress(errdefs.WhaleError):
            await self.containerd.signal(container.ID, int(signals.SIGKILL), all_processes=True)
        if not await self.wait_stopped(container, 2):
            raise errdefs.WhaleError("tried to kill container, but did not receive an exit event")

    # -- stop ----------------------------------------------------------------------------------

    @tracer.traced()
    async def ContainerStop(self, name: str, timeout: int | None) -> None:
        container = self.GetContainer(name)
        if not container.is_running():
            raise errdefs.NotModified("container already stopped")
        try:
            await self.containerStop(container, self.stop_timeout(container) if timeout is None else timeout)
        except errdefs.WhaleError as e:
            raise errdefs.WhaleError(f"cannot stop container: {name}: {e}") from None

    async def containerStop(self, container: Container, seconds: int) -> None:
        """The stop signal; after `seconds` (forever when negative) SIGKILL; then the `stop` event."""
        if not container.is_running():
            return
        stop_signal = self.stop_signal(container)
        wait: float | None = None if seconds < 0 else float(seconds)
        try:
            await self.killWithSignal(container, stop_signal)
        except errdefs.WhaleError:
            wait = 2.0
        if await self.wait_stopped(container, wait):
            self.LogContainerEvent(container, "stop")
            return
        try:
            await self.Kill(container)
        except errdefs.WhaleError:
            if not await self.wait_stopped(container, 2):
                raise
        self.LogContainerEvent(container, "stop")

    async def ContainerRestart(self, name: str, timeout: int | None) -> None:
        container = self.GetContainer(name)
        try:
            if container.is_running():
                # Not removed on the way: AutoRemove waits until the restart is done.
                auto_remove = container.HostConfig.get("AutoRemove", False)
                container.HostConfig["AutoRemove"] = False
                try:
                    await self.containerStop(container, self.stop_timeout(container) if timeout is None else timeout)
                finally:
                    container.HostConfig["AutoRemove"] = auto_remove
                    self.checkpoint(container)
            await self.containerStart(container, reset_restart_manager=True)
        except errdefs.WhaleError as e:
            raise type(e)(f"Cannot restart container {name}: {e}") from None
        self.LogContainerEvent(container, "restart")
