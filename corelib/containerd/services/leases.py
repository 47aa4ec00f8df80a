"""containerd.services.leases.v1.Leases."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.empty_pb2 import Empty

from corelib.api.containerd.services.leases.v1 import leases_pb2 as api
from corelib.api.containerd.services.leases.v1 import leases_pb2_grpc
from corelib.containerd.metadata.leases import LeaseStore
from corelib.containerd.services import namespace_required


class LeasesService(leases_pb2_grpc.LeasesServicer):
    descriptor = api.DESCRIPTOR.services_by_name["Leases"]
    add_to_server = staticmethod(leases_pb2_grpc.add_LeasesServicer_to_server)

    def __init__(self, store: LeaseStore, collect_garbage: Callable[[bool], None]):
        self.store = store
        self.collect_garbage = collect_garbage

    async def Create(self, request, context):  # noqa: N802
        lease = self.store.create(namespace_required(context), request.id, dict(request.labels))
        return api.CreateResponse(lease=lease)

    async def Delete(self, request, context):  # noqa: N802
        self.store.delete(namespace_required(context), request.id)
        self.collect_garbage(request.sync)
        return Empty()

    async def List(self, request, context):  # noqa: N802
        return api.ListResponse(leases=self.store.list(namespace_required(context), request.filters))

    async def AddResource(self, request, context):  # noqa: N802
        self.store.add_resource(namespace_required(context), request.id, request.resource.type,
                                request.resource.id)
        return Empty()

    async def DeleteResource(self, request, context):  # noqa: N802
        self.store.delete_resource(namespace_required(context), request.id, request.resource.type,
                                   request.resource.id)
        return Empty()

    async def ListResources(self, request, context):  # noqa: N802
        resources = self.store.list_resources(namespace_required(context), request.id)
        return api.ListResourcesResponse(resources=[api.Resource(type=t, id=i) for t, i in resources])
