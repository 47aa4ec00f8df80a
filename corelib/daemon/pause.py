"""Pausing, unpausing and resizing a container's terminal (moby's daemon/pause.go, unpause.go,
resize.go)."""

from __future__ import annotations

from corelib import errdefs
from corelib.daemon.stop import not_running


class PauseMixin:
    async def ContainerPause(self, name: str) -> None:
        container = self.GetContainer(name)
        if not container.is_running():
            raise not_running(container)
        if container.is_paused():
            raise errdefs.Conflict(f"Container {container.ID} is already paused")
        if container.State.Restarting:
            raise errdefs.Conflict(f"Container {container.ID} is restarting, wait until the container is running")
        try:
            await self.containerd.pause(container.ID)
        except errdefs.WhaleError as e:
            raise errdefs.WhaleError(f"Cannot pause container {container.ID}: {e}") from None
        container.State.set_paused(True)
        self.checkpoint(container)
        self.LogContainerEvent(container, "pause")

    async def ContainerUnpause(self, name: str) -> None:
        container = self.GetContainer(name)
        if not container.is_paused():
            raise errdefs.WhaleError(f"Container {container.ID} is not paused")
        try:
            await self.containerd.resume(container.ID)
        except errdefs.WhaleError as e:
            raise errdefs.WhaleError(f"Cannot unpause container {container.ID}: {e}") from None
        container.State.set_paused(False)
        self.checkpoint(container)
        self.LogContainerEvent(container, "unpause")

    async def ContainerResize(self, name: str, height: int, width: int) -> None:
        container = self.GetContainer(name)
        if not container.is_running():
            raise not_running(container)
        await self.containerd.resize(container.ID, "", width, height)
        self.LogContainerEvent(container, "resize", {"height": str(height), "width": str(width)})
