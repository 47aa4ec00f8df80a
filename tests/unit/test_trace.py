import asyncio
import threading

import pytest

from corelib.trace.analysis import build_tree, covered_ns, nesting_violations, unexplained_gaps
from corelib.trace.context import TraceContext, parse_traceparent
from corelib.trace.runtime_log import parse_phases, phase_record
from corelib.trace.span import Span, Tracer, adopt, current_context
from corelib.trace.waterfall import render_waterfall


class FakeClock:
    """Deterministic nanoseconds: every read advances by `step`."""

    def __init__(self, start: int = 1_000_000_000, step: int = 1_000_000):
        self.now, self.step = start, step

    def __call__(self) -> int:
        self.now += self.step
        return self.now


def make_tracer(layer="daemon", clock=None):
    spans: list[Span] = []
    return Tracer(layer, sink=spans.append, clock=clock or FakeClock()), spans


def test_traceparent_round_trip_and_rejects():
    ctx = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    assert ctx.traceparent() == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert parse_traceparent(ctx.traceparent()) == ctx
    assert parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00").sampled is False
    for bad in (None, "", "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01", "01-abc-def-01"):
        assert parse_traceparent(bad) is None


def test_nested_spans_share_the_trace_and_point_at_their_parent():
    tracer, spans = make_tracer()
    with tracer.span("containerStart", container="c1") as outer:
        with tracer.span("conditionalMountOnStart"):
            pass
        with tracer.span("initializeNetworking"):
            pass
    assert [s.name for s in spans] == ["conditionalMountOnStart", "initializeNetworking", "containerStart"]
    assert all(s.trace_id == outer.trace_id for s in spans)
    assert spans[0].parent_id == outer.span_id and outer.parent_id is None
    assert outer.attributes == {"container": "c1"}
    assert nesting_violations(spans) == []
    assert current_context() is None


def test_adopted_context_becomes_the_parent():
    tracer, spans = make_tracer("containerd")
    caller = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    with adopt(caller), tracer.span("Tasks.Create"):
        pass
    assert spans[0].trace_id == caller.trace_id and spans[0].parent_id == caller.span_id


def test_error_marks_the_span_and_propagates():
    tracer, spans = make_tracer()
    with pytest.raises(ValueError), tracer.span("create"):
        raise ValueError("bad config")
    assert spans[0].status == "error" and spans[0].attributes["error"] == "bad config"


def test_disabled_tracer_records_nothing():
    spans = []
    tracer = Tracer("daemon", sink=spans.append, enabled=False)
    with tracer.span("x") as span:
        assert span is None
    assert tracer.record("y", 1, 2) is None and spans == []


def test_decorator_covers_sync_and_async_functions():
    tracer, spans = make_tracer()

    @tracer.traced()
    def newContainer():  # noqa: N802 - the seed's name
        return current_context()

    @tracer.traced("containerd.Create")
    async def create():
        return newContainer()

    inner = asyncio.run(create())
    assert [s.name for s in spans] == ["newContainer", "containerd.Create"]
    assert inner.span_id == spans[0].span_id and spans[0].parent_id == spans[1].span_id


def test_concurrent_traces_do_not_mix():
    tracer, spans = make_tracer(clock=FakeClock(step=1))

    async def one_run(i):
        with tracer.span("runRun", run=i):
            await asyncio.sleep(0)
            with tracer.span("runContainer", run=i):
                await asyncio.sleep(0)

    async def many():
        await asyncio.gather(*(one_run(i) for i in range(100)))

    asyncio.run(many())
    by_trace = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, set()).add(span.attributes["run"])
    assert len(by_trace) == 100 and all(len(runs) == 1 for runs in by_trace.values())

    threads_spans = []
    threaded = Tracer("client", sink=threads_spans.append)

    def worker():
        with threaded.span("a"), threaded.span("b"):
            pass

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({s.trace_id for s in threads_spans}) == 8


def test_record_keeps_measured_times_and_marks_who_measured():
    tracer, spans = make_tracer("shim")
    parent = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    span = tracer.record("pivot_root", 100, 250, parent=parent, layer="runc", measured_by=None)
    assert (span.layer, span.start_ns, span.end_ns, span.duration_ns) == ("runc", 100, 250, 150)
    real = tracer.record("Task.Create", 10, 20, parent=parent, layer="shim", measured_by="containerd")
    assert real.measured_by == "containerd" and spans == [span, real]


def test_span_dict_round_trip_ignores_unknown_keys():
    tracer, _ = make_tracer()
    with tracer.span("x", pid=42) as span:
        pass
    data = span.to_dict() | {"future_field": 1}
    assert Span.from_dict(data) == span


def test_gaps_and_coverage():
    assert covered_ns([(0, 10), (5, 15), (20, 30)]) == 25
    root = Span("t", "r", None, "client", "runRun", 0, 100)
    kids = [Span("t", "a", "r", "daemon", "create", 0, 40), Span("t", "b", "r", "daemon", "start", 50, 95)]
    [tree] = build_tree([root, *kids])
    [(node, gap)] = unexplained_gaps(tree)
    assert node.span is root and gap == pytest.approx(0.15)
    outside = Span("t", "c", "r", "daemon", "late", 90, 120)
    assert nesting_violations([root, outside]) == ["daemon/late is not inside client/runRun"]
    assert nesting_violations([root, outside], slack_ns=20) == []
    outside.attributes["follows_from"] = True
    assert nesting_violations([root, outside]) == []


def test_waterfall_rows_follow_the_tree():
    root = Span("t" * 32, "r", None, "client", "runRun", 0, 100_000_000)
    child = Span("t" * 32, "a", "r", "daemon", "postContainersCreate", 10_000_000, 30_000_000)
    measured = Span("t" * 32, "b", "a", "containerd", "Containers.Create", 12_000_000, 20_000_000,
                    measured_by="daemon")
    text = render_waterfall([measured, child, root], width=80)
    lines = text.splitlines()
    assert lines[0] == f"trace {'t' * 32}  100.0 ms"
    assert [line.split()[0] for line in lines[1:]] == ["client", "daemon", "containerd"]
    assert "    Containers.Create" in lines[3] and lines[3].rstrip().endswith("8.00 ms*")
    assert render_waterfall([]) == "no spans\n"


def test_runtime_log_phases_are_parsed_and_other_lines_skipped():
    import json

    lines = [json.dumps({"level": "info", "msg": "container started"}),
             json.dumps(phase_record("namespaces", 1, 5)), "not json {\"phase\"",
             json.dumps(phase_record("pivot_root", 5, 9)),
             json.dumps({"level": "error", "msg": "exec failed"})]
    assert parse_phases("\n".join(lines)) == [("namespaces", 1, 5), ("pivot_root", 5, 9)]


def test_inner_layers_record_only_inside_a_callers_trace():
    spans = []
    tracer = Tracer("containerd", sink=spans.append, clock=FakeClock(), roots=False)
    with tracer.span("Tasks.Create") as span:
        assert span is None
    assert tracer.record("shim.start", 1, 2) is None and spans == []
    caller = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    with adopt(caller), tracer.span("Tasks.Create"):
        assert tracer.active()
    assert [s.name for s in spans] == ["Tasks.Create"]


def test_span_events_round_trip_through_an_any():
    from google.protobuf.any_pb2 import Any as AnyProto

    from corelib.trace.events import TYPE_URL, span_from_any, span_to_any

    span = Span("t" * 32, "s" * 16, None, "shim", "Create", 5, 9, {"pid": 42, "container_id": "c"},
                measured_by="containerd")
    packed = span_to_any(span)
    assert packed.type_url == TYPE_URL == "whalebone.trace.v1.Span"
    assert span_from_any(packed) == span
    assert span_from_any(AnyProto(type_url="containerd.events.TaskExit", value=b"")) is None
