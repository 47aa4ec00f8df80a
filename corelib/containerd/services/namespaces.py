"""containerd.services.namespaces.v1.Namespaces."""

from __future__ import annotations

from google.protobuf.empty_pb2 import Empty

from corelib.api.containerd.events import namespace_pb2 as events
from corelib.api.containerd.services.namespaces.v1 import namespace_pb2 as api
from corelib.api.containerd.services.namespaces.v1 import namespace_pb2_grpc
from corelib.containerd.events.exchange import Exchange
from corelib.containerd.metadata.namespaces import NamespaceStore


class NamespacesService(namespace_pb2_grpc.NamespacesServicer):
    descriptor = api.DESCRIPTOR.services_by_name["Namespaces"]
    add_to_server = staticmethod(namespace_pb2_grpc.add_NamespacesServicer_to_server)

    def __init__(self, store: NamespaceStore, exchange: Exchange):
        self.store = store
        self.exchange = exchange

    async def Get(self, request, context):  # noqa: N802
        labels = self.store.labels(request.name)
        return api.GetNamespaceResponse(namespace=api.Namespace(name=request.name, labels=labels))

    async def List(self, request, context):  # noqa: N802
        return api.ListNamespacesResponse(namespaces=[
            api.Namespace(name=name, labels=self.store.labels(name)) for name in self.store.list()])

    async def Create(self, request, context):  # noqa: N802
        ns = request.namespace
        self.store.create(ns.name, dict(ns.labels))
        self.exchange.publish(ns.name, "/namespaces/create", events.NamespaceCreate(name=ns.name, labels=ns.labels))
        return api.CreateNamespaceResponse(namespace=ns)

    async def Update(self, request, context):  # noqa: N802
        ns = request.namespace
        labels = self.store.update(ns.name, dict(ns.labels), list(request.update_mask.paths))
        self.exchange.publish(ns.name, "/namespaces/update", events.NamespaceUpdate(name=ns.name, labels=labels))
        return api.UpdateNamespaceResponse(namespace=api.Namespace(name=ns.name, labels=labels))

    async def Delete(self, request, context):  # noqa: N802
        self.store.delete(request.name)
        self.exchange.publish(request.name, "/namespaces/delete", events.NamespaceDelete(name=request.name))
        return Empty()
