"""whaled collects the lifecycle spans of every layer: its own, containerd's and the shim's from
containerd's event bus, the client's by POST /spans; keeps them with the container across a restart;
streams them; counts container actions in Prometheus' format."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request

import pytest

from corelib.trace.analysis import build_tree, nesting_violations
from corelib.trace.context import TraceContext, new_span_id, new_trace_id
from corelib.trace.span import Span
from tests.integration.daemon.harness import UnixHTTPConnection, Whaled, wait_for
from tests.support.real_containerd import RealContainerd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_traced(daemon: Whaled, trace: TraceContext, cmd: list[str]) -> str:
    """create, start, wait, as a client would, every request inside `trace`."""
    headers = {"traceparent": trace.traceparent()}
    status, _, body = daemon.api("POST", "/containers/create", {"Image": "busybox", "Cmd": cmd}, headers=headers)
    assert status == 201, body
    container_id = json.loads(body)["Id"]
    assert daemon.api("POST", f"/containers/{container_id}/start", headers=headers)[0] == 204
    status, _, body = daemon.api("POST", f"/containers/{container_id}/wait", headers=headers)
    assert json.loads(body)["StatusCode"] == 0
    return container_id


def trace_of(daemon: Whaled, container_id: str) -> list[Span]:
    status, _, body = daemon.api("GET", f"/containers/{container_id}/trace")
    assert status == 200, body
    return [Span.from_dict(d) for d in json.loads(body)]


@pytest.fixture(scope="module")
def whale_stack():
    """whaled on its own whale-containerd, the whale shim and whale-runc: every layer ours."""
    port = free_port()
    with Whaled(extra_args=["--metrics-addr", f"127.0.0.1:{port}"]) as daemon:
        daemon.metrics_port = port
        yield daemon


def test_a_run_holds_spans_of_daemon_containerd_and_shim_nested_in_the_clients_trace(whale_stack):
    trace = TraceContext(new_trace_id(), new_span_id())
    container_id = run_traced(whale_stack, trace, ["true"])
    wanted = {"postContainersCreate", "containerCreate", "create", "newContainer", "Register", "postContainersStart",
              "containerStart", "conditionalMountOnStart", "initializeNetworking", "containerd.Create",
              "containerd.Start", "Containers.Create", "Tasks.Create", "shim.start", "Task.Create", "Tasks.Start",
              "Task.Start", "Create", "runc create", "Start", "runc start", "exit"}
    spans = wait_for(lambda: (s := trace_of(whale_stack, container_id)) and wanted <= {x.name for x in s} and s,
                     what="spans of every layer")
    ours = [s for s in spans if s.trace_id == trace.trace_id]
    assert {s.layer for s in ours} >= {"daemon", "containerd", "shim"}
    roots = build_tree(ours)
    assert {r.span.parent_id for r in roots} == {trace.span_id}  # everything hangs off the client's span
    assert nesting_violations(ours, slack_ns=2_000_000) == []
    by_name = {s.name: s for s in ours}
    assert by_name["Tasks.Create"].parent_id == by_name["containerd.Start"].span_id
    assert by_name["Create"].parent_id == by_name["Task.Create"].span_id


def test_spans_stream_live_and_client_spans_join_by_post(whale_stack):
    conn = UnixHTTPConnection(whale_stack.socket, timeout=60)
    conn.request("GET", "/spans")
    response = conn.getresponse()
    assert response.status == 200
    seen: list[dict] = []

    def read() -> None:
        try:
            for line in response:
                seen.append(json.loads(line))
        except (OSError, ValueError, AttributeError):
            pass  # the test closed the stream (http.client's fp is None once closed)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    trace = TraceContext(new_trace_id(), new_span_id())
    container_id = run_traced(whale_stack, trace, ["true"])
    wait_for(lambda: any(s["name"] == "containerStart" and s["trace_id"] == trace.trace_id for s in seen),
             what="containerStart on the live stream")
    conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader, which may wait for no more spans
    conn.close()
    reader.join(timeout=10)
    client = Span(trace.trace_id, trace.span_id, None, "client", "runRun", 1, 2, {"container_id": container_id})
    status, _, _ = whale_stack.api("POST", "/spans", [client.to_dict()])
    assert status == 204
    assert any(s.name == "runRun" and s.layer == "client" for s in trace_of(whale_stack, container_id))
    for bad in ({"trace_id": "x"}, [{"trace_id": "0" * 32, "span_id": "1" * 16, "layer": "kernel", "name": "x",
                                     "start_ns": 1, "end_ns": 2, "parent_id": None}]):
        status, _, body = whale_stack.api("POST", "/spans", bad)
        assert status == 400 and b"span" in body


def test_container_actions_are_counted_in_prometheus_format(whale_stack):
    run_traced(whale_stack, TraceContext(new_trace_id(), new_span_id()), ["true"])
    with urllib.request.urlopen(f"http://127.0.0.1:{whale_stack.metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'engine_daemon_container_actions_seconds_count{action="create"}' in text
    assert 'engine_daemon_container_actions_seconds_count{action="start"}' in text
    assert 'whalebone_span_duration_seconds_count{layer="containerd",name="Tasks.Create"}' in text


def test_spans_survive_a_daemon_restart_and_an_unknown_container_is_404(whale_stack):
    container_id = run_traced(whale_stack, TraceContext(new_trace_id(), new_span_id()), ["true"])
    before = {s.span_id for s in trace_of(whale_stack, container_id)}
    whale_stack.restart()
    after = {s.span_id for s in trace_of(whale_stack, container_id)}
    assert before and before <= after
    assert whale_stack.api("GET", "/containers/nonexistent/trace")[0] == 404


def test_a_real_containerd_is_timed_from_the_daemon_and_marked_so():
    with RealContainerd() as containerd, Whaled(containerd=containerd.address,
                                                namespace=containerd.namespace) as daemon:
        trace = TraceContext(new_trace_id(), new_span_id())
        container_id = run_traced(daemon, trace, ["true"])
        spans = {s.name: s for s in trace_of(daemon, container_id)}
        for name in ("Containers.Create", "Tasks.Create", "Tasks.Start"):
            assert spans[name].layer == "containerd" and spans[name].measured_by == "daemon"
        assert "Task.Create" not in spans  # the real containerd records nothing of its own
        assert spans["Tasks.Create"].parent_id == spans["containerd.Start"].span_id
