"""whaled's lifecycle spans (postContainersCreate > containerCreate > create > newContainer > Register;
postContainersStart > containerStart > conditionalMountOnStart > initializeNetworking > createSpec >
containerd.Create > containerd.Start), and where every layer's spans end up.

Each Engine API request is a span named after its handler, inside the client's trace when it sent a
`traceparent`, else in a trace of its own (the real docker CLI sends none). The spans of containerd, the
shim and the runtime come back on containerd's event bus (/whalebone/spans); the client's by POST
/spans. All of them reach `Collector.add`: kept with their container (surviving a restart), fed to the
metrics, exported over OTLP when a collector is configured, and streamed to GET /spans.
"""

from __future__ import annotations

from pathlib import Path

from corelib.trace.span import Span, Tracer
from corelib.trace.store import SpanStore

tracer = Tracer("daemon")

# Handlers whose requests are not part of a lifecycle: polled, streamed for hours, or about traces.
UNTRACED_HANDLERS = frozenset({"pingHandler", "getVersion", "getInfo", "getEvents", "getSpans",
                               "getContainersTrace", "postSpans"})


class Collector:
    def __init__(self, root: Path, metrics: object | None = None, exporter: object | None = None):
        self.store = SpanStore(root)
        self.metrics = metrics
        self.exporter = exporter

    def add(self, span: Span) -> None:
        self.store.add(span)
        if self.metrics is not None:
            self.metrics.observe(span)  # type: ignore[attr-defined]
        if self.exporter is not None:
            self.exporter.export(span)  # type: ignore[attr-defined]

    def close(self) -> None:
        if self.exporter is not None:
            self.exporter.shutdown()  # type: ignore[attr-defined]
