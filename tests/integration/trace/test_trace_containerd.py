"""whale-containerd's spans: inside a caller's trace only, nested as the lifecycle is, published on the
event bus under /whalebone/spans where the daemon collects them."""

from __future__ import annotations

import json
import subprocess
import threading

import pytest
from google.protobuf.any_pb2 import Any

from corelib.api.containerd.services.containers.v1 import containers_pb2 as cpb
from corelib.api.containerd.services.containers.v1 import containers_pb2_grpc
from corelib.api.containerd.services.events.v1 import events_pb2 as epb
from corelib.api.containerd.services.events.v1 import events_pb2_grpc
from corelib.api.containerd.services.tasks.v1 import tasks_pb2 as tpb
from corelib.api.containerd.services.tasks.v1 import tasks_pb2_grpc
from corelib.trace.analysis import nesting_violations
from corelib.trace.context import TraceContext
from corelib.trace.events import TOPIC, spans_from_any
from tests.integration.containerd.harness import WhaleContainerd, wait_for
from tests.support.env import require_binary

SPEC_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
CALLER = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


def oci_spec(rootfs, args) -> bytes:
    """runc's own default spec, pointed at `rootfs`, without a terminal."""
    subprocess.run([require_binary("runc"), "spec", "--bundle", str(rootfs.parent)], check=True)
    spec = json.loads((rootfs.parent / "config.json").read_text())
    spec["root"] = {"path": str(rootfs), "readonly": False}
    spec["process"]["args"] = args
    spec["process"]["terminal"] = False
    return json.dumps(spec).encode()


class Spans:
    """Collects the span events of one namespace in the background."""

    def __init__(self, ctd: WhaleContainerd):
        stub = events_pb2_grpc.EventsStub(ctd.channel())
        self.call = stub.Subscribe(epb.SubscribeRequest(filters=[f'topic=="{TOPIC}"']))
        self.spans = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for envelope in self.call:
                self.spans.extend((envelope.namespace, span) for span in spans_from_any(envelope.event))
        except Exception:  # noqa: BLE001 - the stream ends when the test cancels it
            pass

    def close(self):
        self.call.cancel()
        self.thread.join(timeout=10)


@pytest.fixture
def whale():
    with WhaleContainerd() as ctd:
        yield ctd


def test_lifecycle_spans_nest_inside_the_callers_trace(whale, rootfs_copy):
    spans = Spans(whale)
    md = whale.metadata()
    traced = [*md, ("traceparent", CALLER.traceparent())]
    containers = containers_pb2_grpc.ContainersStub(whale.channel())
    tasks = tasks_pb2_grpc.TasksStub(whale.channel())
    try:
        containers.Create(cpb.CreateContainerRequest(container=cpb.Container(
            id="traced", runtime=cpb.Container.Runtime(name="io.containerd.runc.v2"),
            spec=Any(type_url=SPEC_TYPE, value=oci_spec(rootfs_copy, ["/bin/true"])))), metadata=traced)
        tasks.Create(tpb.CreateTaskRequest(container_id="traced"), metadata=traced)
        tasks.Start(tpb.StartRequest(container_id="traced"), metadata=traced)
        assert tasks.Wait(tpb.WaitRequest(container_id="traced"), metadata=md).exit_status == 0
        tasks.Delete(tpb.DeleteTaskRequest(container_id="traced"), metadata=md)
        containers.Delete(cpb.DeleteContainerRequest(id="traced"), metadata=md)
        wait_for(lambda: {"Tasks.Start", "Task.Start"} <= {s.name for _, s in spans.spans},
                 message="the Start spans")
    finally:
        spans.close()
    by_name = {s.name: s for _, s in spans.spans if s.layer == "containerd"}
    assert {ns for ns, _ in spans.spans} == {whale.namespace}
    assert {"Containers.Create", "Tasks.Create", "shim.start", "Task.Create", "Tasks.Start",
            "Task.Start"} <= set(by_name)
    assert all(s.trace_id == CALLER.trace_id for _, s in spans.spans)
    # The real runc shim records nothing itself: containerd times its calls, in the shim's layer, marked so.
    shim_spans = {s.name: s for _, s in spans.spans if s.layer == "shim"}
    assert shim_spans["Create"].measured_by == "containerd"
    assert shim_spans["Create"].parent_id == by_name["Task.Create"].span_id
    assert by_name["Tasks.Create"].parent_id == CALLER.span_id
    assert by_name["shim.start"].parent_id == by_name["Tasks.Create"].span_id
    assert by_name["Task.Create"].parent_id == by_name["Tasks.Create"].span_id
    assert by_name["Task.Start"].parent_id == by_name["Tasks.Start"].span_id
    assert by_name["Tasks.Create"].attributes["container_id"] == "traced"
    assert nesting_violations([s for _, s in spans.spans]) == []
    # Calls made outside a trace (Wait, Delete above) record nothing.
    assert not {"Tasks.Wait", "Tasks.Delete"} & set(by_name)
