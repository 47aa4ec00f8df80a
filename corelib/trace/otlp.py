"""Export spans to an OpenTelemetry collector over OTLP (HTTP/protobuf), with the OpenTelemetry SDK.

Used only when a collector is configured (`--otlp-endpoint` or OTEL_EXPORTER_OTLP_ENDPOINT); the SDK is
imported then and not before."""

from __future__ import annotations

from typing import Any

from corelib.trace.span import Span

SERVICE_NAME = "whalebone"


class OtlpExporter:
    """Hands finished spans to the SDK's batch processor, which exports them in the background."""

    def __init__(self, endpoint: str | None = None, service_name: str = SERVICE_NAME):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        if endpoint and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        self.resource = Resource.create({"service.name": service_name})
        self.processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))

    def export(self, span: Span) -> None:
        self.processor.on_end(to_readable_span(span, self.resource))

    def shutdown(self) -> None:
        self.processor.force_flush()
        self.processor.shutdown()


def to_readable_span(span: Span, resource: Any) -> Any:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    def context(span_id: str) -> SpanContext:
        return SpanContext(int(span.trace_id, 16), int(span_id, 16), is_remote=False,
                           trace_flags=TraceFlags(TraceFlags.SAMPLED))

    attributes = {k: v if isinstance(v, (str, bool, int, float)) else str(v) for k, v in span.attributes.items()}
    attributes["whalebone.layer"] = span.layer
    if span.measured_by:
        attributes["whalebone.measured_by"] = span.measured_by
    return ReadableSpan(
        name=span.name, context=context(span.span_id),
        parent=context(span.parent_id) if span.parent_id else None,
        resource=resource, attributes=attributes, kind=SpanKind.INTERNAL,
        status=Status(StatusCode.ERROR if span.status == "error" else StatusCode.UNSET),
        start_time=span.start_ns, end_time=span.end_ns)
