"""Removing containers (moby's daemon/delete.go) and pruning the stopped ones (prune.go)."""

from __future__ import annotations

import contextlib

from corelib import errdefs
from corelib.daemon.container.container import Container
from corelib.daemon.events import parse_timestamp
from corelib.daemon.list import created_ns, size_rw
from corelib.daemon.mounts import remove_tree
from corelib.daemon.server.httputils import match_labels, validate_filters
from corelib.daemon.tracing import tracer

PRUNE_FILTERS = {"until", "label", "label!"}


class DeleteMixin:
    @tracer.traced()
    async def ContainerRm(self, name: str, force: bool = False, remove_volumes: bool = False,
                          remove_link: bool = False) -> None:
        container = self.GetContainer(name)
        if remove_link:
            raise errdefs.InvalidArgument("Conflict, cannot remove the default link name of the container")
        if not container.State.set_removal_in_progress():
            raise errdefs.Conflict(f"removal of container {name} is already in progress")
        try:
            if container.ID not in self.containers:
                return
            await self.cleanupContainer(container, force, remove_volumes)
        finally:
            container.State.reset_removal_in_progress()

    async def cleanupContainer(self, container: Container, force: bool, remove_volumes: bool,
                               registered: bool = True) -> None:
        if container.is_running():
            if not force:
                state = container.State.status()
                procedure = "Stop the container before attempting removal or force remove"
                if state == "paused":
                    procedure = "Unpause and then " + procedure[0].lower() + procedure[1:]
                raise errdefs.Conflict(f"You cannot remove a {state} container {container.ID}. {procedure}")
            try:
                await self.Kill(container)
            except errdefs.WhaleError as e:
                raise errdefs.WhaleError(f"Could not kill running container {container.ID}, cannot remove - {e}") \
                    from None
        self.cancel_restart(container)
        container.State.set_dead()
        if registered:
            self.checkpoint(container)
        await self.Cleanup(container)
        try:
            await self.images.remove_rootfs(container.ID)
        except errdefs.WhaleError as e:
            container.State.set_removed(f"container {container.ID}: {e}")
            raise
        try:
            remove_tree(container.root)
        except (OSError, errdefs.WhaleError) as e:
            error = errdefs.WhaleError(f"unable to remove filesystem for {container.ID}: {e}")
            container.State.set_removed(error.message)
            raise error from None
        self.containers.pop(container.ID, None)
        if self.names.get(container.Name) == container.ID:
            self.names.release(container.Name)
        for exec_id in [e for e, c in self.execs.items() if c.ContainerID == container.ID]:
            self.execs.pop(exec_id, None)
        container.stream.end_run()
        container.State.set_removed()
        if registered:
            self.LogContainerEvent(container, "destroy")

    async def ContainersPrune(self, filters: dict[str, set[str]]) -> dict:
        validate_filters(filters, PRUNE_FILTERS)
        until = min((parse_timestamp(v) or 0 for v in filters.get("until", ())), default=None)
        deleted, reclaimed = [], 0
        for container in list(self.containers.values()):
            if container.is_running() or container.State.RemovalInProgress:
                continue
            if until is not None and created_ns(container) >= until:
                continue
            if not match_labels(filters, container.Config.get("Labels")):
                continue
            if filters.get("label!") and not _excluded_by_labels(filters["label!"], container.Config.get("Labels")):
                continue
            reclaimed += size_rw(container)
            with contextlib.suppress(errdefs.WhaleError):
                await self.ContainerRm(container.ID)
                deleted.append(container.ID)
        self.events.log("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def _excluded_by_labels(unwanted: set[str], labels: dict | None) -> bool:
    labels = labels or {}
    for item in unwanted:
        key, eq, value = item.partition("=")
        if key in labels and (not eq or labels[key] == value):
            return False
    return True


