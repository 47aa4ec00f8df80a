"""containerd.services.images.v1.Images."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.empty_pb2 import Empty

from corelib.api.containerd.events import image_pb2 as events
from corelib.api.containerd.services.images.v1 import images_pb2 as api
from corelib.api.containerd.services.images.v1 import images_pb2_grpc
from corelib.containerd.events.exchange import Exchange
from corelib.containerd.metadata.images import ImageStore
from corelib.containerd.services import namespace_required


class ImagesService(images_pb2_grpc.ImagesServicer):
    descriptor = api.DESCRIPTOR.services_by_name["Images"]
    add_to_server = staticmethod(images_pb2_grpc.add_ImagesServicer_to_server)

    def __init__(self, store: ImageStore, exchange: Exchange, collect_garbage: Callable[[bool], None]):
        self.store = store
        self.exchange = exchange
        self.collect_garbage = collect_garbage

    async def Get(self, request, context):  # noqa: N802
        return api.GetImageResponse(image=self.store.get(namespace_required(context), request.name))

    async def List(self, request, context):  # noqa: N802
        return api.ListImagesResponse(images=self.store.list(namespace_required(context), request.filters))

    async def Create(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        created = self.store.create(ns, request.image)
        self.exchange.publish(ns, "/images/create", events.ImageCreate(name=created.name, labels=created.labels))
        return api.CreateImageResponse(image=created)

    async def Update(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        updated = self.store.update(ns, request.image, list(request.update_mask.paths))
        self.exchange.publish(ns, "/images/update", events.ImageUpdate(name=updated.name, labels=updated.labels))
        return api.UpdateImageResponse(image=updated)

    async def Delete(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        self.store.delete(ns, request.name)
        self.exchange.publish(ns, "/images/delete", events.ImageDelete(name=request.name))
        self.collect_garbage(request.sync)
        return Empty()
