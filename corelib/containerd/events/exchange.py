"""The event exchange (containerd's events/exchange): events published by the services, forwarded
by shims, and fanned out to every subscriber whose filters match."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from google.protobuf import symbol_database
from google.protobuf.any_pb2 import Any as AnyProto
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

import corelib.api.containerd.events.container_pb2  # noqa: F401 - registers the event types
import corelib.api.containerd.events.content_pb2  # noqa: F401
import corelib.api.containerd.events.image_pb2  # noqa: F401
import corelib.api.containerd.events.namespace_pb2  # noqa: F401
import corelib.api.containerd.events.snapshot_pb2  # noqa: F401
import corelib.api.containerd.events.task_pb2  # noqa: F401
from corelib.api.containerd.services.events.v1.events_pb2 import Envelope
from corelib.containerd import filters, identifiers
from corelib.containerd.metadata import timestamp
from corelib.containerd.services import pack
from corelib.errdefs import InvalidArgument

log = logging.getLogger("whale-containerd.events")


class Exchange:
    def __init__(self) -> None:
        self._subscribers: list[tuple[filters.Filter, asyncio.Queue[Envelope]]] = []
        self.before_forward: Callable[[Envelope], None] | None = None  # tracing: publish its spans first

    def publish(self, namespace: str, topic: str, event: Message) -> Envelope:
        """Publish `event` (a message, or an Any already packed) on `topic` in `namespace`."""
        validate_topic(topic)
        packed = event if isinstance(event, AnyProto) else pack(event)
        envelope = Envelope(namespace=namespace, topic=topic, event=packed)
        envelope.timestamp.CopyFrom(timestamp(time.time_ns()))
        self._broadcast(envelope)
        return envelope

    def forward(self, envelope: Envelope) -> None:
        try:
            identifiers.validate(envelope.namespace)
        except InvalidArgument as e:
            raise InvalidArgument(f"event envelope has invalid namespace: {e}") from None
        validate_topic(envelope.topic)
        if not envelope.HasField("timestamp") or (envelope.timestamp.seconds == 0 and envelope.timestamp.nanos == 0):
            raise InvalidArgument("timestamp must be set on forwarded event: invalid argument")
        if self.before_forward is not None:
            self.before_forward(envelope)
        self._broadcast(envelope)

    def _broadcast(self, envelope: Envelope) -> None:
        log.debug("event %s ns=%s type=%s", envelope.topic, envelope.namespace, envelope.event.type_url)
        for match, queue in list(self._subscribers):
            if match.match(adapt_envelope(envelope)):
                queue.put_nowait(envelope)

    def subscribe(self, filter_strings: list[str]) -> Subscription:
        """Every matching envelope from now on (InvalidArgument at once for a bad filter)."""
        return Subscription(self, filters.parse_all(filter_strings))


class Subscription:
    def __init__(self, exchange: Exchange, match: filters.Filter):
        self.exchange = exchange
        self.queue: asyncio.Queue[Envelope] = asyncio.Queue()
        self.entry = (match, self.queue)
        exchange._subscribers.append(self.entry)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Envelope:
        return await self.queue.get()

    def close(self) -> None:
        if self.entry in self.exchange._subscribers:
            self.exchange._subscribers.remove(self.entry)


def validate_topic(topic: str) -> None:
    if not topic:
        raise InvalidArgument(f'envelope topic "{topic}": must not be empty: invalid argument')
    if topic[0] != "/":
        raise InvalidArgument(f"envelope topic \"{topic}\": must start with '/': invalid argument")
    if len(topic) == 1:
        raise InvalidArgument(f'envelope topic "{topic}": must have at least one component: invalid argument')
    for component in topic[1:].split("/"):
        try:
            identifiers.validate(component)
        except InvalidArgument as e:
            raise InvalidArgument(
                f'envelope topic "{topic}": failed validation on component "{component}": {e}') from None


def decode_event(envelope: Envelope) -> Message | None:
    try:
        cls = symbol_database.Default().GetSymbol(envelope.event.type_url.rpartition("/")[2])
        return cls.FromString(envelope.event.value)
    except (KeyError, DecodeError):
        return None


def adapt_envelope(envelope: Envelope) -> filters.Adaptor:
    def field(path: list[str]) -> str | None:
        head = path[0] if path else ""
        if head == "namespace":
            return filters.present(envelope.namespace)
        if head == "topic":
            return filters.present(envelope.topic)
        if head == "event" and len(path) == 2:
            event = decode_event(envelope)
            descriptor = event.DESCRIPTOR.fields_by_name.get(path[1]) if event is not None else None
            if descriptor is not None and descriptor.type == FieldDescriptor.TYPE_STRING:
                return filters.present(getattr(event, path[1]))
        return None
    return field
