"""Listing containers (moby's daemon/list.go): `docker ps` with its filters, newest first."""

from __future__ import annotations

import contextlib
import os
import time

from corelib import errdefs
from corelib.daemon.container.container import Container
from corelib.daemon.logger.jsonfile import parse_time_ns
from corelib.daemon.mounts import MountPoint
from corelib.daemon.server.httputils import match_filter, match_labels, validate_filters
from corelib.gounits import human_duration

PS_FILTERS = {"ancestor", "before", "exited", "expose", "health", "id", "isolation", "is-task", "label", "name",
              "network", "publish", "since", "status", "volume"}
STATUSES = {"created", "restarting", "running", "removing", "paused", "exited", "dead"}
HEALTH = {"starting", "healthy", "unhealthy", "none"}



def _ago(rfc3339: str) -> float:
    try:
        return time.time() - parse_time_ns(rfc3339) / 1e9
    except ValueError:
        return 0.0


def human_state(container: Container) -> str:
    """moby's State.String(): `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`..."""
    state = container.State
    if state.Running:
        if state.Paused:
            return f"Up {human_duration(_ago(state.StartedAt))} (Paused)"
        if state.Restarting:
            return f"Restarting ({state.ExitCode}) {human_duration(_ago(state.FinishedAt))} ago"
        return f"Up {human_duration(_ago(state.StartedAt))}"
    if state.RemovalInProgress:
        return "Removal In Progress"
    if state.Dead:
        return "Dead"
    if state.status() == "created":
        return "Created"
    return f"Exited ({state.ExitCode}) {human_duration(_ago(state.FinishedAt))} ago"


def created_ns(container: Container) -> int:
    try:
        return parse_time_ns(container.Created)
    except ValueError:
        return 0


def _dir_size(path: str) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def upper_dir(container: Container) -> str:
    for m in container.RootfsMounts:
        for option in m.get("options", []):
            if option.startswith("upperdir="):
                return option.split("=", 1)[1]
    return ""


def size_rw(container: Container) -> int:
    upper = upper_dir(container)
    return _dir_size(upper) if upper else 0


def container_summary(container: Container) -> dict:
    mode = container.HostConfig.get("NetworkMode", "default")
    return {
        "Id": container.ID, "Names": [container.Name], "Image": container.Config.get("Image", ""),
        "ImageID": container.Image, "Command": container.command(),
        "Created": created_ns(container) // 1_000_000_000,
        "Ports": [], "Labels": container.Config.get("Labels") or {}, "State": container.State.status(),
        "Status": human_state(container), "HostConfig": {"NetworkMode": mode},
        "NetworkSettings": {"Networks": container.NetworkSettings.get("Networks", {})},
        "Mounts": [MountPoint(**m).to_inspect() for m in container.MountPoints.values()],
    }


class ListMixin:
    async def Containers(self, all_containers: bool, limit: int, size: bool,
                         filters: dict[str, set[str]]) -> list[dict]:
        validate_filters(filters, PS_FILTERS)
        for status in filters.get("status", ()):
            if status not in STATUSES:
                raise errdefs.InvalidArgument(f"Invalid filter 'status={status}'")
        for health in filters.get("health", ()):
            if health not in HEALTH:
                raise errdefs.InvalidArgument(f"Unrecognised filter value for health: {health}")
        exited = set()
        for value in filters.get("exited", ()):
            try:
                exited.add(int(value))
            except ValueError:
                raise errdefs.InvalidArgument(f'strconv.Atoi: parsing "{value}": invalid syntax') from None
        ordered = sorted(self.containers.values(), key=lambda c: (created_ns(c), c.ID), reverse=True)
        before = self._boundary(filters.get("before"))
        since = self._boundary(filters.get("since"))
        show_all = all_containers or limit > 0 or before is not None or since is not None or "status" in filters
        result = []
        for container in ordered:
            if before is not None and created_ns(container) >= created_ns(before):
                continue
            if since is not None and created_ns(container) <= created_ns(since):
                continue
            if not show_all and not container.is_running():
                continue
            if not await self._matches(container, filters, exited):
                continue
            entry = container_summary(container)
            if size:
                entry["SizeRw"] = size_rw(container)
                entry["SizeRootFs"] = entry["SizeRw"] + await self._image_size(container)
            result.append(entry)
            if 0 < limit <= len(result):
                break
        return result

    def _boundary(self, values: set[str] | None) -> Container | None:
        if not values:
            return None
        return self.GetContainer(next(iter(values)))

    async def _matches(self, container: Container, filters: dict[str, set[str]], exited: set[int]) -> bool:
        state = container.State.status()
        checks = (
            match_filter(filters, "id", container.ID),
            match_filter(filters, "name", container.Name.lstrip("/")) or match_filter(filters, "name", container.Name),
            match_labels(filters, container.Config.get("Labels")),
            not filters.get("status") or state in filters["status"],
            not exited or (state == "exited" and container.State.ExitCode in exited),
            not filters.get("health") or "none" in filters["health"],
            not filters.get("is-task") or "false" in filters["is-task"],
            not filters.get("isolation") or "default" in filters["isolation"] or "" in filters["isolation"],
            not filters.get("network") or container.HostConfig.get("NetworkMode", "default") in filters["network"]
            or any(n in filters["network"] for n in container.NetworkSettings.get("Networks", {})),
            not filters.get("volume") or any(m["Destination"] in filters["volume"] or m["Source"] in filters["volume"]
                                             or m.get("Name") in filters["volume"]
                                             for m in container.MountPoints.values()),
            not filters.get("expose") or any(p in (container.Config.get("ExposedPorts") or {})
                                             for p in filters["expose"]),
            not filters.get("publish"),
        )
        if not all(checks):
            return False
        if filters.get("ancestor"):
            return await self._has_ancestor(container, filters["ancestor"])
        return True

    async def _has_ancestor(self, container: Container, ancestors: set[str]) -> bool:
        for ancestor in ancestors:
            if ancestor in (container.Config.get("Image"), container.Image) or container.Image.startswith(
                    "sha256:" + ancestor):
                return True
            try:
                image = await self.images.inspect(ancestor)
            except errdefs.WhaleError:
                continue
            if image.get("Id") == container.Image:
                return True
        return False

    async def _image_size(self, container: Container) -> int:
        try:
            return int((await self.images.inspect(container.Image)).get("Size", 0))
        except errdefs.WhaleError:
            return 0
