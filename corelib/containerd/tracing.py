"""containerd's lifecycle spans (Containers.Create; Tasks.Create > shim.start > Task.Create; Tasks.Start
> Task.Start). Recorded only inside a caller's trace (`traceparent` in the gRPC metadata) and published
on the event bus, in the caller's namespace, under /whalebone/spans, where the daemon collects them.

They are published together, one event per namespace, not one each as they end: when a shim forwards
its own spans (ours does once its task's exit is out), or when none has been recorded for FLUSH_IDLE
seconds (a task that runs on, a shim that records nothing). Each event costs the exchange, the gRPC
stream and the daemon some work, which Create and Start should not share the machine with."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from corelib.trace.span import Span, Tracer

if TYPE_CHECKING:
    from corelib.api.containerd.services.events.v1.events_pb2 import Envelope
    from corelib.containerd.events.exchange import Exchange

tracer = Tracer("containerd", roots=False)
_namespace: contextvars.ContextVar[str] = contextvars.ContextVar("containerd_trace_namespace", default="")
FLUSH_IDLE = 0.2  # seconds


class Batches:
    """Spans waiting to be published, by namespace."""

    def __init__(self, exchange: Exchange):
        from corelib.trace.events import TOPIC

        self.exchange = exchange
        self.topic = TOPIC
        self.pending: dict[str, list[Span]] = {}
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def keep(self, span: Span) -> None:
        namespace = _namespace.get()
        if not namespace:
            return
        self.pending.setdefault(namespace, []).append(span)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to wait on: at once
            self.flush(namespace)
            return
        self._last = time.monotonic()
        if self._timer is None:
            self._timer = loop.call_later(FLUSH_IDLE, self._idle)

    def _idle(self) -> None:
        quiet = time.monotonic() - self._last
        if quiet < FLUSH_IDLE:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_IDLE - quiet, self._idle)
            return
        self._timer = None
        for namespace in list(self.pending):
            self.flush(namespace)

    def flush(self, namespace: str) -> None:
        from corelib.trace.events import spans_to_any

        spans = self.pending.pop(namespace, None)
        if spans:
            self.exchange.publish(namespace, self.topic, spans_to_any(spans))

    def before_forward(self, envelope: Envelope) -> None:
        """A shim's spans go up after ours, so a trace's containerd spans are in by the time its shim's are."""
        if envelope.topic == self.topic:
            self.flush(envelope.namespace)


def install(exchange: Exchange) -> None:
    batches = Batches(exchange)
    exchange.before_forward = batches.before_forward
    tracer.sink = batches.keep


@contextmanager
def in_namespace(namespace: str) -> Iterator[None]:
    token = _namespace.set(namespace)
    try:
        yield
    finally:
        _namespace.reset(token)
