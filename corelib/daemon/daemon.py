"""The Daemon (moby's daemon.Daemon): the container store, names, events, and the two services it
stands on, the image service and containerd. Its methods live beside it, one file per concern as in
moby's daemon/ (create.py, start.py, stop.py, ...), and are mixed in here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from corelib import errdefs
from corelib.daemon.attach import AttachMixin
from corelib.daemon.config import Config
from corelib.daemon.container.container import CONFIG_FILE, Container
from corelib.daemon.create import CreateMixin
from corelib.daemon.delete import DeleteMixin
from corelib.daemon.events import Events
from corelib.daemon.exec import ExecMixin
from corelib.daemon.fifoholder import FifoHolder
from corelib.daemon.info import InfoMixin
from corelib.daemon.inspect import InspectMixin
from corelib.daemon.libcontainerd.client import Client
from corelib.daemon.list import ListMixin
from corelib.daemon.logs import LogsMixin
from corelib.daemon.monitor import MonitorMixin
from corelib.daemon.names import NameRegistrar
from corelib.daemon.pause import PauseMixin
from corelib.daemon.rename import RenameMixin
from corelib.daemon.restore import RestoreMixin
from corelib.daemon.start import StartMixin
from corelib.daemon.stop import StopMixin
from corelib.daemon.top import TopMixin
from corelib.daemon.tracing import Collector
from corelib.trace.metrics import DaemonMetrics

log = logging.getLogger("whaled")


class Daemon(CreateMixin, StartMixin, StopMixin, MonitorMixin, DeleteMixin, AttachMixin, LogsMixin, ExecMixin,
             ListMixin, InspectMixin, RenameMixin, PauseMixin, TopMixin, InfoMixin, RestoreMixin):
    def __init__(self, config: Config, images: object, containerd: Client):
        self.config = config
        self.images = images
        self.containerd = containerd
        self.root = Path(config.data_root)
        self.exec_root = Path(config.exec_root)
        self.containers: dict[str, Container] = {}
        self.names = NameRegistrar()
        self.events = Events()
        self.execs: dict = {}
        self.traces = Collector(self.root / "traces", DaemonMetrics())
        self.fifo_holder = FifoHolder(str(self.exec_root / "fifoholder.sock"))
        self.started_at = time.time()
        self.shutting_down = False
        self._background: set[asyncio.Task] = set()
        self._event_queues: dict[str, asyncio.Task] = {}
        for d in (self.containers_dir, self.exec_root / "containerd"):
            d.mkdir(parents=True, exist_ok=True)
        if hasattr(images, "set_image_users"):
            images.set_image_users(self.image_users)

    @property
    def containers_dir(self) -> Path:
        return self.root / "containers"

    def container_root(self, container_id: str) -> Path:
        return self.containers_dir / container_id

    def fifo_dir(self, container_id: str) -> Path:
        return self.exec_root / "containerd" / container_id

    # -- lookups -------------------------------------------------------------------------------

    def GetContainer(self, prefix_or_name: str) -> Container:
        """By full ID, by name, then by unique ID prefix (moby's GetContainer)."""
        if not prefix_or_name:
            raise errdefs.NotFound("No such container: ")
        found = self.containers.get(prefix_or_name)
        if found is not None:
            return found
        by_name = self.names.get(prefix_or_name)
        if by_name is not None and by_name in self.containers:
            return self.containers[by_name]
        matches = [cid for cid in self.containers if cid.startswith(prefix_or_name)]
        if len(matches) > 1:
            raise errdefs.WhaleError(f"Multiple IDs found with provided prefix: {prefix_or_name}")
        if not matches:
            raise errdefs.NotFound(f"No such container: {prefix_or_name}")
        return self.containers[matches[0]]

    def image_users(self) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {}
        for container in self.containers.values():
            users.setdefault(container.Image, []).append(container.ID)
        return users

    # -- events --------------------------------------------------------------------------------

    def LogContainerEvent(self, container: Container, action: str, extra: dict[str, str] | None = None) -> None:
        attributes = dict(container.Config.get("Labels") or {})
        attributes.update(extra or {})
        attributes["image"] = container.Config.get("Image", "")
        attributes["name"] = container.Name.lstrip("/")
        self.events.log("container", action, container.ID, attributes)

    def LogImageEvent(self, image_id: str, ref_name: str, action: str) -> None:
        self.events.log("image", action, image_id, {"name": ref_name})

    # -- persistence and background work -------------------------------------------------------

    def checkpoint(self, container: Container) -> None:
        """Save the container's record, unless it has been removed meanwhile."""
        if container.root.exists():
            container.to_disk()

    def spawn(self, coro: object) -> asyncio.Task:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def load_containers(self) -> list[Container]:
        loaded = []
        for entry in sorted(self.containers_dir.iterdir()) if self.containers_dir.exists() else []:
            if not (entry / CONFIG_FILE).exists():
                continue
            try:
                container = Container.from_disk(entry)
            except (OSError, ValueError, KeyError) as e:
                log.error("cannot load container %s: %s", entry.name, e)
                continue
            self.containers[container.ID] = container
            container.stream.new_input_pipe(bool(container.Config.get("OpenStdin")))
            try:
                self.names.reserve(container.Name, container.ID)
            except errdefs.Conflict:
                container.Name = self.names.generate(container.ID)
            loaded.append(container)
        return loaded

    async def shutdown(self) -> None:
        """Stop what runs (unless live-restore keeps it running), then let background work end."""
        self.shutting_down = True
        if not self.config.live_restore:
            running = [c for c in self.containers.values() if c.is_running()]
            await asyncio.gather(*(self._shutdown_container(c) for c in running), return_exceptions=True)
        for task in list(self._background):
            task.cancel()
        for container in self.containers.values():
            container.stream.release_stdin()
        self.fifo_holder.close(stop=not any(c.is_running() for c in self.containers.values()))

    async def _shutdown_container(self, container: Container) -> None:
        timeout = self.stop_timeout(container)
        if container.is_paused():
            with contextlib.suppress(errdefs.WhaleError):
                await self.containerd.resume(container.ID)
        with contextlib.suppress(errdefs.WhaleError):
            await self.containerStop(container, timeout)

