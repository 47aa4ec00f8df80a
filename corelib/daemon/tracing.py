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

import asyncio
from pathlib import Path

from corelib.trace.span import Span, Tracer
from corelib.trace.store import SpanStore

tracer = Tracer("daemon")
FLUSH_DELAY = 0.5  # seconds
LIVE_FLUSH_DELAY = 0.05  # seconds, while someone follows GET /spans

# Handlers whose requests are not part of a lifecycle: polled, streamed for hours, or about traces.
UNTRACED_HANDLERS = frozenset({"pingHandler", "getVersion", "getInfo", "getEvents", "getSpans",
                               "getContainersTrace", "postSpans"})


class Collector:
    """Spans are counted in the metrics at once, and stored (and exported) a moment later, together
    (FLUSH_DELAY): storing one costs a JSON encoding and a file append, which no request should wait
    for, and a run's spans come in bursts, at the ends of its requests, while a lifecycle step is under
    way. Whoever reads the store flushes it first. A flush writes each container's spans at once: a file
    opened per span was most of what tracing cost whaled. Half a second lets a short run's spans go in
    one flush, after it, rather than four or five in the middle of its start and exit; while the live
    stream has a follower (a notebook drawing the run), within LIVE_FLUSH_DELAY, as before."""

    def __init__(self, root: Path, metrics: object | None = None, exporter: object | None = None):
        self.store = SpanStore(root)
        self.metrics = metrics
        self.exporter = exporter
        self._pending: list[Span] = []
        self._flushing: asyncio.TimerHandle | None = None

    def add(self, span: Span) -> None:
        if self.metrics is not None:
            self.metrics.observe(span)  # type: ignore[attr-defined]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a thread without the daemon's loop: kept at once
            self._keep([span])
            return
        self._pending.append(span)
        if self._flushing is None:
            self._flushing = loop.call_later(LIVE_FLUSH_DELAY if self.store.watched else FLUSH_DELAY, self.flush)

    def flush(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        pending, self._pending = self._pending, []
        if pending:
            self._keep(pending)

    def _keep(self, spans: list[Span]) -> None:
        self.store.add_all(spans)
        if self.exporter is not None:
            for span in spans:
                self.exporter.export(span)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.flush()
        if self.exporter is not None:
            self.exporter.shutdown()  # type: ignore[attr-defined]
