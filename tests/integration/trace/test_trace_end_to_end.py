"""issue 6's picture: after `whale run --rm busybox true`, one trace holds the spans of all five layers,
each child inside its parent, covering the client's wall time; concurrent runs keep their traces apart."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from corelib.trace.analysis import build_tree, nesting_violations, unexplained_gaps, walk
from corelib.trace.span import LAYERS, Span
from tests.integration.daemon.harness import UnixHTTPConnection, Whaled
from tests.support.env import venv_bin

SKEW_NS = 2_000_000  # clocks read in five processes: CLOCK_REALTIME, one machine


@pytest.fixture(scope="module")
def whale_stack():
    with Whaled() as daemon:
        yield daemon


def whale(daemon: Whaled, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([venv_bin("whale"), "-H", daemon.host, *args], capture_output=True, text=True, timeout=120)


def created_id(daemon: Whaled, name: str, since: float) -> str:
    query = urllib.parse.urlencode({"since": f"{since:.3f}", "until": f"{time.time():.3f}",
                                    "filters": json.dumps({"event": ["create"], "container": [name]})})
    status, _, body = daemon.api("GET", f"/events?{query}")
    assert status == 200
    [event] = [json.loads(line) for line in body.splitlines() if line.strip()]
    return event["id"]


class CreatedIds:
    """The id of every container created while it listens, by name, from the live /events stream (the
    daemon's replay buffer keeps only the last 256 events, as Docker's does: too few for 100 runs)."""

    def __init__(self, daemon: Whaled):
        self.ids: dict[str, str] = {}
        self._conn = UnixHTTPConnection(daemon.socket, timeout=300)
        query = urllib.parse.urlencode({"filters": json.dumps({"type": ["container"], "event": ["create"]})})
        self._conn.request("GET", f"/events?{query}")
        self._response = self._conn.getresponse()
        assert self._response.status == 200
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for line in self._response:
                event = json.loads(line)
                self.ids[event["Actor"]["Attributes"]["name"]] = event["id"]
        except (OSError, ValueError, AttributeError):
            pass  # the connection closed under the reader

    def wait_for(self, names: list[str], timeout: float = 30) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while not set(names) <= self.ids.keys() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._conn.sock.shutdown(2)
        self._conn.close()
        assert set(names) <= self.ids.keys(), sorted(set(names) - self.ids.keys())
        return self.ids


def trace_of(daemon: Whaled, container_id: str) -> list[Span]:
    status, _, body = daemon.api("GET", f"/containers/{container_id}/trace")
    assert status == 200, body
    return [Span.from_dict(d) for d in json.loads(body)]


def test_run_rm_true_is_one_trace_through_all_five_layers(whale_stack):
    since = time.time()
    started = time.monotonic_ns()
    result = whale(whale_stack, "run", "--rm", "--name", "e2e-trace", "busybox", "true")
    wall_ns = time.monotonic_ns() - started
    assert result.returncode == 0, result.stderr
    spans = trace_of(whale_stack, created_id(whale_stack, "e2e-trace", since))
    [root] = [n for n in build_tree(spans) if n.span.parent_id is None]
    assert root.span.name == "runRun" and root.span.layer == "client"
    assert {s.trace_id for s in spans} == {root.span.trace_id}
    assert {s.layer for s in spans} == set(LAYERS)
    names = {s.name for s in spans}
    assert {"runRun", "runContainer", "createContainer", "ContainerCreate", "ContainerStart",
            "postContainersCreate", "containerCreate", "newContainer", "Register", "containerStart",
            "conditionalMountOnStart", "initializeNetworking", "containerd.Create", "containerd.Start",
            "Containers.Create", "Tasks.Create", "shim.start", "Task.Create", "Tasks.Start",
            "Create", "runc create", "Start", "runc start", "exit"} <= names
    runc = {s.name for s in spans if s.layer == "runc"}
    assert {"namespaces", "pivot_root", "wait exec.fifo"} <= runc, runc
    assert nesting_violations(spans, slack_ns=SKEW_NS) == []
    # The client's own span covers its process but for the interpreter's start and its exit.
    assert root.span.duration_ns > 0.75 * wall_ns
    for node, gap in unexplained_gaps(root):
        if node.span.layer == "client" and node.span.name in ("runRun", "runContainer"):
            assert gap < 0.10, f"{node.span.name}: {gap:.0%} of it is in no child span"


def test_a_hundred_concurrent_runs_keep_their_traces_apart(whale_stack):
    names = [f"e2e-many-{i}" for i in range(100)]
    created = CreatedIds(whale_stack)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda n: whale(whale_stack, "run", "--rm", "--name", n, "busybox", "true"), names))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results if r.returncode][:3]
    ids = created.wait_for(names)
    seen_traces = set()
    for name in names:
        container_id = ids[name]
        spans = trace_of(whale_stack, container_id)
        traces = {s.trace_id for s in spans}
        assert len(traces) == 1, f"{name}: {len(traces)} traces"
        assert not traces & seen_traces
        seen_traces |= traces
        assert all(s.attributes.get("container_id", container_id) == container_id for s in spans)
        assert {s.layer for s in spans} == set(LAYERS)
        [root] = [n for n in walk(build_tree(spans)) if n.span.parent_id is None]
        assert root.span.name == "runRun"
