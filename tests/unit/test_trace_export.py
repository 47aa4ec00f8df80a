"""Metrics in Prometheus' text format and spans exported over OTLP to a collector on loopback."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from corelib.trace.metrics import DaemonMetrics
from corelib.trace.otlp import OtlpExporter
from corelib.trace.span import Span

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_container_actions_histogram_has_dockerds_name_and_labels():
    metrics = DaemonMetrics()
    metrics.observe(Span(TRACE, "a" * 16, None, "daemon", "containerCreate", 0, 30_000_000))
    metrics.observe(Span(TRACE, "b" * 16, None, "daemon", "containerStart", 0, 200_000_000))
    metrics.observe(Span(TRACE, "c" * 16, None, "client", "containerCreate", 0, 1))  # not the daemon's
    text = metrics.exposition().decode()
    assert 'engine_daemon_container_actions_seconds_bucket{action="create",le="0.05"} 1.0' in text
    assert 'engine_daemon_container_actions_seconds_bucket{action="create",le="0.025"} 0.0' in text
    assert 'engine_daemon_container_actions_seconds_count{action="start"} 1.0' in text
    assert 'engine_daemon_container_actions_seconds_count{action="create"} 1.0' in text
    assert 'whalebone_span_duration_seconds_count{layer="client",name="containerCreate"} 1.0' in text


class Collector(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_spans_reach_an_otlp_collector_with_ids_times_and_layers():
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        exporter = OtlpExporter(f"http://127.0.0.1:{server.server_port}")
        root = Span(TRACE, "00f067aa0ba902b7", None, "client", "runRun", 1_000, 9_000)
        child = Span(TRACE, "00f067aa0ba902b8", root.span_id, "containerd", "Tasks.Create", 2_000, 5_000,
                     {"container_id": "abc", "pid": 42}, measured_by="daemon")
        exporter.export(root)
        exporter.export(child)
        exporter.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    path, content_type, body = Collector.received[-1]
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    request = ExportTraceServiceRequest.FromString(body)
    spans = {s.name: s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert set(spans) == {"runRun", "Tasks.Create"}
    created = spans["Tasks.Create"]
    assert created.trace_id.hex() == TRACE and created.parent_span_id.hex() == "00f067aa0ba902b7"
    assert (created.start_time_unix_nano, created.end_time_unix_nano) == (2_000, 5_000)
    attributes = {a.key: a.value for a in created.attributes}
    assert attributes["whalebone.layer"].string_value == "containerd"
    assert attributes["whalebone.measured_by"].string_value == "daemon"
    assert attributes["pid"].int_value == 42
    service = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert service["service.name"] == "whalebone"
