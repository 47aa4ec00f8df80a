"""Events leave the shim in order, as Any of the bare message name, and survive an events endpoint
that is not there yet or goes away (retried, as the real shim's publisher does)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading

import pytest

from corelib.api.containerd.events import task_pb2 as events
from corelib.api.containerd.services.ttrpc.events.v1 import events_pb2
from corelib.shim.events import Publisher
from corelib.shim.timestamp import GO_ZERO_TIME, set_timestamp
from corelib.ttrpc.blocking import BlockingServer
from corelib.ttrpc.unix import listen


class Sink:
    def __init__(self, path: str):
        self.received: list[events_pb2.Envelope] = []
        self.namespaces: list[str | None] = []
        self.arrived = threading.Condition()
        self.server = BlockingServer(log=lambda message: None)
        self.server.register_service(events_pb2.DESCRIPTOR.services_by_name["Events"], self)
        self.listener = listen(path)
        self.thread = threading.Thread(target=self.server.serve, args=(self.listener,), daemon=True)
        self.thread.start()

    def Forward(self, request, context):  # noqa: N802
        with self.arrived:
            self.received.append(request.envelope)
            self.namespaces.append(context.get("containerd-namespace-ttrpc"))
            self.arrived.notify_all()

    def wait_for(self, count: int) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout=30), self.received

    def close(self) -> None:
        self.server.shutdown(grace=0.5)
        self.thread.join(5)
        path = self.listener.getsockname()
        self.listener.close()
        os.unlink(path)


@pytest.fixture
def socket_dir():
    path = tempfile.mkdtemp(prefix="wb-events-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_events_arrive_in_order_with_namespace_and_type(socket_dir):
    path = os.path.join(socket_dir, "events.sock")
    sink = Sink(path)
    publisher = Publisher(path, "moby", retry_pause=0.01)
    try:
        publisher.publish("/tasks/start", events.TaskStart(container_id="c1", pid=10))
        publisher.publish("/tasks/exit", events.TaskExit(container_id="c1", id="c1", pid=10, exit_status=3))
        publisher.close()
        assert [e.topic for e in sink.received] == ["/tasks/start", "/tasks/exit"]
        start, exit_ = sink.received
        assert start.namespace == "moby" and start.timestamp.seconds > 0
        assert start.event.type_url == "containerd.events.TaskStart"
        assert events.TaskExit.FromString(exit_.event.value).exit_status == 3
        assert sink.namespaces == ["moby", "moby"]
    finally:
        sink.close()


def test_an_endpoint_that_comes_late_or_restarts_still_gets_every_event(socket_dir):
    path = os.path.join(socket_dir, "events.sock")
    publisher = Publisher(path, "ns", retry_pause=0.05)
    publisher.publish("/tasks/create", events.TaskCreate(container_id="c1"))  # nobody listens yet: retried
    sink = Sink(path)
    try:
        sink.wait_for(1)
        sink.close()  # containerd restarts...
        publisher.publish("/tasks/start", events.TaskStart(container_id="c1"))
        sink = Sink(path)  # ...and is back
        publisher.publish("/tasks/exit", events.TaskExit(container_id="c1"))
        sink.wait_for(2)
        assert [e.topic for e in sink.received] == ["/tasks/start", "/tasks/exit"]
    finally:
        publisher.close()
        sink.close()


def test_timestamps_are_always_encoded():
    envelope = events_pb2.Envelope()
    set_timestamp(envelope.timestamp, None)
    assert envelope.HasField("timestamp") and envelope.timestamp.seconds == GO_ZERO_TIME == -62135596800
    set_timestamp(envelope.timestamp, 1_700_000_000_250_000_000)
    assert (envelope.timestamp.seconds, envelope.timestamp.nanos) == (1700000000, 250000000)
