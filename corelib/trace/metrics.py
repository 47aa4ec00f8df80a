"""Prometheus metrics of the daemon, beginning with the seed's
`engine_daemon_container_actions_seconds{action="create|start|delete"}` (dockerd's name and buckets),
fed from the spans the daemon records."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from corelib.trace.span import Span

# dockerd's daemon/metrics.go: prometheus.DefBuckets.
ACTION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# The daemon spans whose duration is one container action, as dockerd times them.
ACTION_OF_SPAN = {"containerCreate": "create", "containerStart": "start", "containerRm": "delete",
                  "containerStop": "stop", "containerRestart": "restart", "containerKill": "kill"}


class DaemonMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.container_actions = Histogram(
            "engine_daemon_container_actions_seconds",
            "The number of seconds it takes to process each container action",
            ["action"], buckets=ACTION_BUCKETS, registry=self.registry)
        self.spans = Histogram(
            "whalebone_span_duration_seconds", "Duration of each lifecycle span, by layer and name",
            ["layer", "name"], buckets=ACTION_BUCKETS, registry=self.registry)

    def observe(self, span: Span) -> None:
        seconds = span.duration_ns / 1e9
        self.spans.labels(span.layer, span.name).observe(seconds)
        action = ACTION_OF_SPAN.get(span.name) if span.layer == "daemon" else None
        if action:
            self.container_actions.labels(action).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
