"""containerd's events (its gRPC Events.Subscribe, the daemon's namespace only), posted to the pump in
the Engine API's event shape with `"source": "containerd"`, so one event log shows both layers."""

from __future__ import annotations

import grpc
from google.protobuf import symbol_database
from google.protobuf.message import DecodeError

from corelib.api.containerd.events import container_pb2, image_pb2, namespace_pb2, snapshot_pb2, task_pb2
from corelib.api.containerd.services.events.v1 import events_pb2, events_pb2_grpc
from nbext.pump import EventPump, Source

_EVENT_MODULES = (container_pb2, image_pb2, namespace_pb2, snapshot_pb2, task_pb2)  # registers their types
NAMESPACE = "moby"


def as_engine_event(envelope: events_pb2.Envelope) -> dict:
    """`/tasks/exit` with TaskExit{container_id, pid, exit_status} -> Type `/tasks/exit`, Action `exit`,
    Actor ID the container, its fields as attributes."""
    fields: dict = {}
    type_name = envelope.event.type_url.rsplit("/", 1)[-1]
    try:  # containerd's type URLs are bare names (no "host/"), which Any.Unpack refuses
        message = symbol_database.Default().GetSymbol(type_name).FromString(envelope.event.value)
        fields = {f.name: v for f, v in message.ListFields()
                  if f.type != f.TYPE_MESSAGE and f.label != f.LABEL_REPEATED}  # the scalars: ids, pid, status
    except (KeyError, DecodeError):
        pass  # a type we have no .proto for: topic and time only
    actor = fields.get("container_id") or fields.get("id") or fields.get("key") or fields.get("name") or ""
    attributes = {k: str(v) for k, v in fields.items()}
    return {"source": "containerd", "Type": envelope.topic, "Action": envelope.topic.rsplit("/", 1)[-1],
            "timeNano": envelope.timestamp.ToNanoseconds(), "Actor": {"ID": actor, "Attributes": attributes}}


class ContainerdEvents(Source):
    name = "containerd"

    def __init__(self, address: str, namespace: str = NAMESPACE):
        super().__init__()
        self.address, self.namespace = address, namespace
        self._call = None

    def run(self, pump: EventPump) -> None:
        with grpc.insecure_channel(f"unix://{self.address}") as channel:
            stub = events_pb2_grpc.EventsStub(channel)
            self._call = stub.Subscribe(events_pb2.SubscribeRequest(filters=[f'namespace=="{self.namespace}"']))
            if self.stopping:
                self._call.cancel()
            try:
                for envelope in self._call:
                    pump.post_event(as_engine_event(envelope))
            except grpc.RpcError:
                if not self.stopping:
                    raise

    def stop(self) -> None:
        super().stop()
        if self._call is not None:
            self._call.cancel()
