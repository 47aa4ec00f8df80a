"""Spans as events on containerd's event bus: topic `/whalebone/spans`, message whalebone.trace.v1.Span.

containerd and the shim publish their spans there (the shim through Events.Forward, as it forwards
/tasks/exit), so they reach the daemon by the same road as the task events, through a real containerd
as well as ours. A layer may hand up several spans in one event (whalebone.trace.v1.Spans)."""

from __future__ import annotations

from google.protobuf.any_pb2 import Any as AnyProto

from corelib import jsonlite
from corelib.api.whalebone.trace.v1 import span_pb2
from corelib.trace.span import Span

TOPIC = "/whalebone/spans"
TYPE_URL = span_pb2.Span.DESCRIPTOR.full_name
BATCH_TYPE_URL = span_pb2.Spans.DESCRIPTOR.full_name


def span_to_any(span: Span) -> AnyProto:
    return AnyProto(type_url=TYPE_URL, value=span_to_message(span).SerializeToString())


def spans_to_message(spans: list[Span]) -> span_pb2.Spans:
    return span_pb2.Spans(spans=[span_to_message(span) for span in spans])


def spans_to_any(spans: list[Span]) -> AnyProto:
    return AnyProto(type_url=BATCH_TYPE_URL, value=spans_to_message(spans).SerializeToString())


def span_to_message(span: Span) -> span_pb2.Span:
    return span_pb2.Span(
        trace_id=span.trace_id, span_id=span.span_id, parent_id=span.parent_id or "", layer=span.layer,
        name=span.name, start_ns=span.start_ns, end_ns=span.end_ns,
        attributes_json=jsonlite.dumps(span.attributes, separators=(",", ":"), default=str),
        status=span.status, measured_by=span.measured_by or "")


def span_from_any(event: AnyProto) -> Span | None:
    """The span an event carries, or None when the event is something else."""
    if event.type_url.rsplit("/", 1)[-1] != TYPE_URL:
        return None
    return span_from_message(span_pb2.Span.FromString(event.value))


def spans_from_any(event: AnyProto) -> list[Span]:
    """The spans an event carries (one Span or a Spans batch); none when it is something else."""
    type_url = event.type_url.rsplit("/", 1)[-1]
    if type_url == BATCH_TYPE_URL:
        return [span_from_message(m) for m in span_pb2.Spans.FromString(event.value).spans]
    if type_url == TYPE_URL:
        return [span_from_message(span_pb2.Span.FromString(event.value))]
    return []


def span_from_message(message: span_pb2.Span) -> Span:
    try:
        attributes = jsonlite.loads(message.attributes_json) if message.attributes_json else {}
    except ValueError:
        attributes = {}
    return Span(trace_id=message.trace_id, span_id=message.span_id, parent_id=message.parent_id or None,
                layer=message.layer, name=message.name, start_ns=message.start_ns, end_ns=message.end_ns,
                attributes=attributes if isinstance(attributes, dict) else {}, status=message.status or "ok",
                measured_by=message.measured_by or None)
