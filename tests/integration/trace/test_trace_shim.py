"""The shim's spans: Create > runc create ; Start > runc start ; exit > publish /tasks/exit, inside
containerd's trace only, forwarded to containerd under /whalebone/spans like any event."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.trace.analysis import nesting_violations
from corelib.trace.context import TraceContext
from corelib.trace.events import TOPIC, spans_from_any
from tests.integration.shim.conftest import TASK, Shim, runtimes, wait_until
from tests.support.env import require_root

CALLER = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


@pytest.fixture(params=["runc", "whale-runc"])
def shim(request, busybox_rootfs):
    require_root()
    work = Path(tempfile.mkdtemp(prefix="wb-tshim-", dir="/tmp"))
    shim = Shim(work, busybox_rootfs, runtimes()[request.param], namespace=f"wbtrace{os.getpid()}",
                id=f"traced-{work.name[-6:]}")
    try:
        yield shim
    finally:
        shim.stop()
        shutil.rmtree(work, ignore_errors=True)


def traced_call(shim: Shim, method: str, request, context: TraceContext | None):
    metadata = {"containerd-namespace-ttrpc": shim.namespace}
    if context is not None:
        metadata["traceparent"] = context.traceparent()
    from corelib.ttrpc.services import message_class

    output = shim_pb2.DESCRIPTOR.services_by_name["Task"].methods_by_name[method].output_type
    return shim.client.call(TASK, method, request, message_class(output), timeout=30, metadata=metadata)


def spans_of(shim: Shim):
    return [s for e in shim.events.envelopes if e.topic == TOPIC for s in spans_from_any(e.event)]


def test_create_start_and_exit_spans_nest_in_the_callers_trace(shim):
    shim.write_spec(["sh", "-c", "exit 0"])
    shim.start()
    traced_call(shim, "Create", shim_pb2.CreateTaskRequest(
        id=shim.id, bundle=str(shim.bundle), rootfs=shim.rootfs_mounts(), options=shim.options()), CALLER)
    traced_call(shim, "Start", shim_pb2.StartRequest(id=shim.id), CALLER)
    traced_call(shim, "Wait", shim_pb2.WaitRequest(id=shim.id), None)
    wait_until(lambda: "publish /tasks/exit" in {s.name for s in spans_of(shim)})
    spans = spans_of(shim)
    by_name = {s.name: s for s in spans}
    assert {"Create", "runc create", "Start", "runc start", "exit", "publish /tasks/exit"} <= set(by_name)
    assert all(s.trace_id == CALLER.trace_id for s in spans)
    assert by_name["Create"].parent_id == CALLER.span_id and by_name["Create"].layer == "shim"
    assert by_name["runc create"].parent_id == by_name["Create"].span_id
    assert by_name["runc start"].parent_id == by_name["Start"].span_id
    assert by_name["exit"].parent_id == by_name["Start"].span_id
    assert by_name["publish /tasks/exit"].parent_id == by_name["exit"].span_id
    assert by_name["Create"].attributes["container_id"] == shim.id
    assert by_name["exit"].attributes["follows_from"] is True
    runtime_spans = [s for s in spans if s.layer == "runc"]
    assert runtime_spans and {s.parent_id for s in runtime_spans} <= {by_name["runc create"].span_id,
                                                                      by_name["runc start"].span_id}
    if not any(s.measured_by is None for s in runtime_spans):  # a runtime that reports no phases (real runc)
        assert {(s.name, s.measured_by) for s in runtime_spans} == {("create", "shim"), ("start", "shim")}
    assert nesting_violations(spans) == []
    # /tasks/exit itself reached containerd before the span that times its forwarding
    topics = shim.events.topics()
    assert topics.index("/tasks/exit") < len(topics) - 1


def test_untraced_calls_record_nothing(shim):
    shim.write_spec(["sh", "-c", "exit 0"])
    shim.start()
    shim.create()
    shim.call("Start", shim_pb2.StartRequest(id=shim.id))
    shim.call("Wait", shim_pb2.WaitRequest(id=shim.id))
    shim.events.wait_for("/tasks/exit")
    assert TOPIC not in shim.events.topics()
