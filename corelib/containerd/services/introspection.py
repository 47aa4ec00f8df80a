"""containerd.services.introspection.v1.Introspection: the plugins this daemon has, and its uuid."""

from __future__ import annotations

import uuid
from pathlib import Path

from corelib.api.containerd.services.introspection.v1 import introspection_pb2 as api
from corelib.api.containerd.services.introspection.v1 import introspection_pb2_grpc
from corelib.api.containerd.types.platform_pb2 import Platform
from corelib.containerd import filters
from corelib.images.archive import go_arch

# (type, id, requires): the plugins of containerd 1.6 this daemon stands in for.
PLUGINS = (
    ("io.containerd.content.v1", "content", ()),
    ("io.containerd.snapshotter.v1", "overlayfs", ()),
    ("io.containerd.metadata.v1", "bolt", ("io.containerd.content.v1", "io.containerd.snapshotter.v1")),
    ("io.containerd.differ.v1", "walking", ("io.containerd.metadata.v1",)),
    ("io.containerd.event.v1", "exchange", ()),
    ("io.containerd.lease.v1", "manager", ("io.containerd.metadata.v1",)),
    ("io.containerd.runtime.v2", "task", ("io.containerd.event.v1", "io.containerd.metadata.v1")),
    ("io.containerd.service.v1", "containers-service", ("io.containerd.metadata.v1",)),
    ("io.containerd.service.v1", "content-service", ("io.containerd.metadata.v1",)),
    ("io.containerd.service.v1", "diff-service", ("io.containerd.differ.v1",)),
    ("io.containerd.service.v1", "images-service", ("io.containerd.metadata.v1",)),
    ("io.containerd.service.v1", "leases-service", ("io.containerd.lease.v1",)),
    ("io.containerd.service.v1", "namespaces-service", ("io.containerd.metadata.v1",)),
    ("io.containerd.service.v1", "snapshots-service", ("io.containerd.metadata.v1",)),
    ("io.containerd.service.v1", "tasks-service", ("io.containerd.runtime.v2",)),
    ("io.containerd.grpc.v1", "containers", ("io.containerd.service.v1",)),
    ("io.containerd.grpc.v1", "content", ("io.containerd.service.v1",)),
    ("io.containerd.grpc.v1", "diff", ("io.containerd.service.v1",)),
    ("io.containerd.grpc.v1", "events", ("io.containerd.event.v1",)),
    ("io.containerd.grpc.v1", "healthcheck", ()),
    ("io.containerd.grpc.v1", "images", ("io.containerd.service.v1",)),
    ("io.containerd.grpc.v1", "introspection", ()),
    ("io.containerd.grpc.v1", "leases", ("io.containerd.service.v1",)),
    ("io.containerd.grpc.v1", "namespaces", ("io.containerd.service.v1",)),
    ("io.containerd.grpc.v1", "snapshots", ("io.containerd.service.v1",)),
    ("io.containerd.grpc.v1", "tasks", ("io.containerd.service.v1",)),
    ("io.containerd.grpc.v1", "version", ()),
)


class IntrospectionService(introspection_pb2_grpc.IntrospectionServicer):
    descriptor = api.DESCRIPTOR.services_by_name["Introspection"]
    add_to_server = staticmethod(introspection_pb2_grpc.add_IntrospectionServicer_to_server)

    def __init__(self, root: Path):
        self.uuid = _server_uuid(root)

    async def Plugins(self, request, context):  # noqa: N802
        match = filters.parse_all(list(request.filters))
        platform = Platform(os="linux", architecture=go_arch())
        plugins = []
        for ptype, pid, requires in PLUGINS:
            if match.match(_adapt_plugin(ptype, pid)):
                plugin = api.Plugin(type=ptype, id=pid, requires=requires)
                if ptype in ("io.containerd.snapshotter.v1", "io.containerd.runtime.v2", "io.containerd.differ.v1"):
                    plugin.platforms.append(platform)
                plugins.append(plugin)
        return api.PluginsResponse(plugins=plugins)

    async def Server(self, request, context):  # noqa: N802
        return api.ServerResponse(uuid=self.uuid)


def _adapt_plugin(ptype: str, pid: str) -> filters.Adaptor:
    def field(path: list[str]) -> str | None:
        return {"type": ptype, "id": pid}.get(path[0]) if path else None
    return field


def _server_uuid(root: Path) -> str:
    """A uuid made once and kept in the root, as containerd keeps its own."""
    path = root / "io.containerd.grpc.v1.introspection" / "uuid"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        value = str(uuid.uuid4())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(value)
        tmp.rename(path)
        return value
