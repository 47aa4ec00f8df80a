"""containerd's lifecycle spans (Containers.Create; Tasks.Create > shim.start > Task.Create; Tasks.Start
> Task.Start). Recorded only inside a caller's trace (`traceparent` in the gRPC metadata) and published
on the event bus, in the caller's namespace, under /whalebone/spans, where the daemon collects them."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from corelib.trace.span import Span, Tracer

if TYPE_CHECKING:
    from corelib.containerd.events.exchange import Exchange

tracer = Tracer("containerd", roots=False)
_namespace: contextvars.ContextVar[str] = contextvars.ContextVar("containerd_trace_namespace", default="")


def install(exchange: Exchange) -> None:
    from corelib.trace.events import TOPIC, span_to_any

    def publish(span: Span) -> None:
        namespace = _namespace.get()
        if namespace:
            exchange.publish(namespace, TOPIC, span_to_any(span))

    tracer.sink = publish


@contextmanager
def in_namespace(namespace: str) -> Iterator[None]:
    token = _namespace.set(namespace)
    try:
        yield
    finally:
        _namespace.reset(token)
