"""containerd.services.containers.v1.Containers."""

from __future__ import annotations

from google.protobuf.empty_pb2 import Empty

from corelib.api.containerd.events import container_pb2 as events
from corelib.api.containerd.services.containers.v1 import containers_pb2 as api
from corelib.api.containerd.services.containers.v1 import containers_pb2_grpc
from corelib.containerd.events.exchange import Exchange
from corelib.containerd.metadata.containers import ContainerStore
from corelib.containerd.services import namespace_required


class ContainersService(containers_pb2_grpc.ContainersServicer):
    descriptor = api.DESCRIPTOR.services_by_name["Containers"]
    add_to_server = staticmethod(containers_pb2_grpc.add_ContainersServicer_to_server)

    def __init__(self, store: ContainerStore, exchange: Exchange):
        self.store = store
        self.exchange = exchange

    async def Get(self, request, context):  # noqa: N802
        return api.GetContainerResponse(container=self.store.get(namespace_required(context), request.id))

    async def List(self, request, context):  # noqa: N802
        return api.ListContainersResponse(containers=self.store.list(namespace_required(context), request.filters))

    async def ListStream(self, request, context):  # noqa: N802
        for container in self.store.list(namespace_required(context), request.filters):
            yield api.ListContainerMessage(container=container)

    async def Create(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        created = self.store.create(ns, request.container)
        runtime = events.ContainerCreate.Runtime(name=created.runtime.name)
        if created.runtime.HasField("options"):
            runtime.options.CopyFrom(created.runtime.options)
        self.exchange.publish(ns, "/containers/create",
                              events.ContainerCreate(id=created.id, image=created.image, runtime=runtime))
        return api.CreateContainerResponse(container=created)

    async def Update(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        updated = self.store.update(ns, request.container, list(request.update_mask.paths))
        self.exchange.publish(ns, "/containers/update", events.ContainerUpdate(
            id=updated.id, image=updated.image, labels=updated.labels, snapshot_key=updated.snapshot_key))
        return api.UpdateContainerResponse(container=updated)

    async def Delete(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        self.store.delete(ns, request.id)
        self.exchange.publish(ns, "/containers/delete", events.ContainerDelete(id=request.id))
        return Empty()
