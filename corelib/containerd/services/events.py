"""containerd.services.events.v1.Events over gRPC, and the shim-facing
containerd.services.events.ttrpc.v1.Events/Forward served over ttrpc at `<address>.ttrpc`."""

from __future__ import annotations

from google.protobuf.empty_pb2 import Empty

from corelib.api.containerd.services.events.v1 import events_pb2 as api
from corelib.api.containerd.services.events.v1 import events_pb2_grpc
from corelib.api.containerd.services.ttrpc.events.v1 import events_pb2 as ttrpc_api
from corelib.containerd.events.exchange import Exchange
from corelib.containerd.services import namespace_required
from corelib.errdefs import InvalidArgument, WhaleError


class EventsService(events_pb2_grpc.EventsServicer):
    descriptor = api.DESCRIPTOR.services_by_name["Events"]
    add_to_server = staticmethod(events_pb2_grpc.add_EventsServicer_to_server)

    def __init__(self, exchange: Exchange):
        self.exchange = exchange

    async def Publish(self, request, context):  # noqa: N802
        self.exchange.publish(namespace_required(context), request.topic, request.event)
        return Empty()

    async def Forward(self, request, context):  # noqa: N802
        self.exchange.forward(request.envelope)
        return Empty()

    async def Subscribe(self, request, context):  # noqa: N802
        try:
            subscription = self.exchange.subscribe(list(request.filters))
        except InvalidArgument as e:  # containerd reports it through the stream's error channel: Unknown
            raise WhaleError(f"subscription error: failed parsing subscription filters: {e}") from None
        try:
            await context.send_initial_metadata(())
            async for envelope in subscription:
                yield envelope
        finally:
            subscription.close()


class TTRPCEventsService:
    """What shims call (with TTRPC_ADDRESS) to hand their task events to containerd."""

    descriptor = ttrpc_api.DESCRIPTOR.services_by_name["Events"]

    def __init__(self, exchange: Exchange):
        self.exchange = exchange

    async def Forward(self, request, context):  # noqa: N802
        self.exchange.forward(api.Envelope.FromString(request.envelope.SerializeToString()))
        return Empty()
