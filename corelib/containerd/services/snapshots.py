"""containerd.services.snapshots.v1.Snapshots (the `overlayfs` snapshotter)."""

from __future__ import annotations

from google.protobuf.empty_pb2 import Empty

from corelib.api.containerd.events import snapshot_pb2 as events
from corelib.api.containerd.services.snapshots.v1 import snapshots_pb2 as api
from corelib.api.containerd.services.snapshots.v1 import snapshots_pb2_grpc
from corelib.api.containerd.types.mount_pb2 import Mount as MountProto
from corelib.containerd.events.exchange import Exchange
from corelib.containerd.metadata import timestamp
from corelib.containerd.metadata.snapshots import SnapshotStore
from corelib.containerd.services import lease_of, namespace_required
from corelib.containerd.snapshots import Info, Mount
from corelib.errdefs import InvalidArgument

LIST_BATCH = 100


class SnapshotsService(snapshots_pb2_grpc.SnapshotsServicer):
    descriptor = api.DESCRIPTOR.services_by_name["Snapshots"]
    add_to_server = staticmethod(snapshots_pb2_grpc.add_SnapshotsServicer_to_server)

    def __init__(self, snapshotters: dict[str, SnapshotStore], exchange: Exchange):
        self.snapshotters = snapshotters
        self.exchange = exchange

    def _get(self, name: str) -> SnapshotStore:
        if not name:
            raise InvalidArgument("snapshotter argument missing: invalid argument")
        if name not in self.snapshotters:
            raise InvalidArgument(f"snapshotter not loaded: {name}: invalid argument")
        return self.snapshotters[name]

    async def Prepare(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        mounts = self._get(request.snapshotter).prepare(ns, request.key, request.parent, dict(request.labels),
                                                         lease_of(context))
        self.exchange.publish(ns, "/snapshot/prepare", events.SnapshotPrepare(key=request.key, parent=request.parent))
        return api.PrepareSnapshotResponse(mounts=mounts_proto(mounts))

    async def View(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        mounts = self._get(request.snapshotter).view(ns, request.key, request.parent, dict(request.labels),
                                                      lease_of(context))
        return api.ViewSnapshotResponse(mounts=mounts_proto(mounts))

    async def Mounts(self, request, context):  # noqa: N802
        mounts = self._get(request.snapshotter).mounts(namespace_required(context), request.key)
        return api.MountsResponse(mounts=mounts_proto(mounts))

    async def Commit(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        self._get(request.snapshotter).commit(ns, request.name, request.key, dict(request.labels), lease_of(context))
        self.exchange.publish(ns, "/snapshot/commit", events.SnapshotCommit(key=request.key, name=request.name))
        return Empty()

    async def Remove(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        self._get(request.snapshotter).remove(ns, request.key)
        self.exchange.publish(ns, "/snapshot/remove", events.SnapshotRemove(key=request.key))
        return Empty()

    async def Stat(self, request, context):  # noqa: N802
        info = self._get(request.snapshotter).stat(namespace_required(context), request.key)
        return api.StatSnapshotResponse(info=info_proto(info))

    async def Update(self, request, context):  # noqa: N802
        info = self._get(request.snapshotter).update(namespace_required(context), request.info.name,
                                                     dict(request.info.labels), list(request.update_mask.paths))
        return api.UpdateSnapshotResponse(info=info_proto(info))

    async def List(self, request, context):  # noqa: N802
        infos = self._get(request.snapshotter).list(namespace_required(context), request.filters)
        for start in range(0, len(infos), LIST_BATCH):
            yield api.ListSnapshotsResponse(info=[info_proto(i) for i in infos[start:start + LIST_BATCH]])

    async def Usage(self, request, context):  # noqa: N802
        size, inodes = self._get(request.snapshotter).usage(namespace_required(context), request.key)
        return api.UsageResponse(size=size, inodes=inodes)

    async def Cleanup(self, request, context):  # noqa: N802
        namespace_required(context)
        self._get(request.snapshotter).backend.cleanup()
        return Empty()


def mounts_proto(mounts: list[Mount]) -> list[MountProto]:
    return [MountProto(type=m.type, source=m.source, target=m.target, options=m.options) for m in mounts]


def info_proto(info: Info) -> api.Info:
    return api.Info(name=info.name, parent=info.parent, kind=info.kind, created_at=timestamp(info.created_at),
                    updated_at=timestamp(info.updated_at), labels=info.labels)
