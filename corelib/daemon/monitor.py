"""What the daemon does with containerd's task events (moby's daemon/monitor.go): an exit stops the
container (or restarts it, by its policy), an OOM marks it, pause and resume keep the state true.
Exits are learned from `/tasks/exit` events only, as dockerd does; after the event stream broke,
the daemon asks containerd about its running containers once, as it does when it restores them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from corelib import errdefs
from corelib.daemon.container.container import Container
from corelib.daemon.container.restartmanager import RestartManager
from corelib.daemon.container.state import format_time, format_time_ns
from corelib.daemon.libcontainerd import client as ctd

log = logging.getLogger("whaled.monitor")

STREAM_DRAIN_TIMEOUT = 2.0


def _now() -> str:
    return format_time(datetime.now(UTC))


def _seconds_since(rfc3339: str) -> float:
    try:
        started = datetime.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return 0.0
    return time.time() - started.timestamp()


class MonitorMixin:
    async def ProcessEvent(self, kind: str, info: ctd.EventInfo) -> None:
        """Queue the event behind the container's earlier ones (moby's per-container event queue),
        so one slow container holds up no other."""
        cid = info.container_id
        previous = self._event_queues.get(cid)
        task = self.spawn(self._process_in_order(previous, kind, info))
        self._event_queues[cid] = task
        task.add_done_callback(lambda t: self._event_queues.pop(cid, None) if self._event_queues.get(cid) is t
                               else None)

    async def _process_in_order(self, previous: asyncio.Task | None, kind: str, info: ctd.EventInfo) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        container = self.containers.get(info.container_id)
        if container is None:
            return
        if kind == ctd.EXIT:
            if info.process_id and info.process_id != info.container_id:
                await self.handle_exec_exit(container, info.process_id, info.exit_code)
                return
            # A short-lived process can exit before its start has returned: wait for the start.
            async with container.start_lock:
                if container.State.Pid == info.pid or info.pid == 0:
                    await self.handleContainerExit(container, info.exit_code, info.exited_at_ns)
        elif kind == ctd.OOM:
            container.State.OOMKilled = True
            self.checkpoint(container)
            self.LogContainerEvent(container, "oom")
        elif kind == ctd.PAUSED and container.is_running() and not container.is_paused():
            container.State.set_paused(True)
            self.checkpoint(container)
        elif kind == ctd.RESUMED and container.is_paused():
            container.State.set_paused(False)
            self.checkpoint(container)

    async def handleContainerExit(self, container: Container, exit_code: int, exited_at_ns: int = 0) -> None:
        if not container.is_running() or container.State.Restarting or container.exit_pending:
            return  # already handled (the event came twice, or after a restore found the exit)
        container.exit_pending = True
        try:
            await self._container_exited(container, exit_code, exited_at_ns)
        finally:
            container.exit_pending = False

    async def _container_exited(self, container: Container, exit_code: int, exited_at_ns: int) -> None:
        pid = container.State.Pid
        # The rootfs is unmounted beside the task's delete, not after it (Cleanup finds it done): the
        # unmount syncs the overlay's upper layer, milliseconds that need not wait for the runtime.
        deleted, _, _ = await asyncio.gather(self.containerd.delete_task(container.ID),
                                             container.stream.wait_drained(STREAM_DRAIN_TIMEOUT),
                                             asyncio.to_thread(self.conditionalUnmountOnCleanup, container),
                                             return_exceptions=True)
        if isinstance(deleted, tuple):
            exited_at_ns = exited_at_ns or deleted[1]
        container.stream.end_run()
        finished = format_time_ns(exited_at_ns) if exited_at_ns else _now()
        manual = container.HasBeenManuallyStopped or self.shutting_down
        restart, delay = container.restart_manager.should_restart(exit_code, manual,
                                                                  _seconds_since(container.State.StartedAt))
        if restart:
            container.RestartCount += 1
            container.State.set_restarting(exit_code, finished, container.State.OOMKilled)
        else:
            container.State.set_stopped(exit_code, finished, container.State.OOMKilled)
        log.debug("container %s (pid %d) exited %d", container.ID[:12], pid, exit_code)
        self.LogContainerEvent(container, "die", {"exitCode": str(exit_code)})
        await self.Cleanup(container)
        self.checkpoint(container)
        if restart:
            container.restart_task = self.spawn(self._restart_after(container, delay, exit_code, finished))
        elif container.HostConfig.get("AutoRemove"):
            await self.auto_remove(container)

    async def _restart_after(self, container: Container, delay: float, exit_code: int, finished: str) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # stopped, killed or removed meanwhile
            await asyncio.sleep(delay)
        if container.restart_manager.canceled or not container.State.Restarting:
            if container.State.Restarting:
                container.State.set_stopped(exit_code, finished)
                self.checkpoint(container)
                if container.HostConfig.get("AutoRemove"):
                    await self.auto_remove(container)
            return
        try:
            await self.containerStart(container, reset_restart_manager=False)
        except errdefs.WhaleError as e:
            log.info("restarting %s failed: %s", container.ID[:12], e)
            if container.ID in self.containers:
                container.State.set_stopped(exit_code, finished)
                self.checkpoint(container)

    async def auto_remove(self, container: Container) -> None:
        try:
            await self.ContainerRm(container.ID, force=True, remove_volumes=True)
        except errdefs.NotFound:
            pass
        except errdefs.WhaleError as e:
            log.error("cannot remove container %s: %s", container.ID[:12], e)

    def cancel_restart(self, container: Container) -> None:
        """No more restarts by the policy (moby's ExitOnNext); a pending one ends as a stop."""
        container.restart_manager.cancel()
        task = container.restart_task
        if task is not None and not task.done():
            task.cancel()

    def reset_restart_manager(self, container: Container) -> None:
        self.cancel_restart(container)
        container.restart_manager = RestartManager()
        container.restart_manager.set_policy(container.HostConfig.get("RestartPolicy") or {})
        container.RestartCount = 0

    async def reconcile_tasks(self) -> None:
        """After containerd came back: exits we did not hear about (of tasks and of execs), learned
        from the processes themselves."""
        for container in list(self.containers.values()):
            if container.is_running() and not container.State.Restarting:
                stopped, code = await self._process_stopped(container.ID, "")
                if stopped:
                    await self.handleContainerExit(container, code)
        for exec_config in [e for e in self.execs.values() if e.Running and e.Pid]:  # started ones
            container = self.containers.get(exec_config.ContainerID)
            if container is not None:
                stopped, code = await self._process_stopped(container.ID, exec_config.ID)
                if stopped:
                    await self.handle_exec_exit(container, exec_config.ID, code)

    async def _process_stopped(self, container_id: str, exec_id: str) -> tuple[bool, int]:
        try:
            status, _, exit_status = await self.containerd.task_status(container_id, exec_id)
        except errdefs.NotFound:
            return True, 255
        except errdefs.WhaleError as e:
            log.warning("cannot check %s %s: %s", container_id[:12], exec_id[:12], e)
            return False, 0
        return status == "stopped", exit_status
