"""The widgets at the message level: each widget's comm records what the kernel would publish on
iopub (comm_open with the state, comm_msg updates), as ipywidgets' own tests do with a dummy comm."""

import threading

import comm.base_comm
import ipywidgets.comm
import pytest

from corelib.trace.span import Span
from nbext.pump import EventPump
from nbext.sources import NO_SPANS
from nbext.state import Changes
from nbext.widget_events import EventLog
from nbext.widget_table import ContainerTable
from nbext.widget_timeline import Timeline

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


class RecordingComm(comm.base_comm.BaseComm):
    def __init__(self, **kwargs):
        self.published = []
        super().__init__(**kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        self.published.append((msg_type, data))

    def updates(self):
        return [data["state"] for kind, data in self.published if kind == "comm_msg" and data["method"] == "update"]

    def from_front_end(self, data):
        self.handle_msg({"content": {"data": data}, "buffers": []})


@pytest.fixture
def comms(monkeypatch):
    made = []

    def create_comm(**kwargs):
        made.append(RecordingComm(**kwargs))
        return made[-1]

    monkeypatch.setattr(ipywidgets.comm, "create_comm", create_comm)
    return made


def comm_of(widget):
    """The widget's own comm (a DOMWidget opens one for its Layout too)."""
    return widget.comm


def event(cid, action, n=0, **attributes):
    return {"Type": "container", "Action": action, "timeNano": T0 + n * MS,
            "Actor": {"ID": cid, "Attributes": {"image": "busybox", "name": f"name-{cid}", **attributes}}}


def span(trace, sid, parent, name, start, end=0, layer="client", **attributes):
    return Span(trace, sid, parent, layer, name, T0 + start * MS, T0 + end * MS if end else 0,
                attributes=attributes)


def test_table_opens_with_its_state_and_sends_one_update_per_batch(comms):
    pump = EventPump()
    table = ContainerTable(pump)
    table_comm = comm_of(table)
    kind, opened = table_comm.published[0]
    assert kind == "comm_open"
    assert opened["state"]["rows"] == [] and opened["state"]["_anywidget_id"] == "nbext.widget_table.ContainerTable"
    assert "export default" in opened["state"]["_esm"]

    batch = [("event", event(f"c{i:03d}", action, i)) for i in range(100) for action in ("create", "start")]
    batch += [("event", event(f"c{i:03d}", "die", 200 + i, exitCode=str(i % 3))) for i in range(0, 100, 2)]
    pump.dispatch(batch)
    [update] = table_comm.updates()
    rows = update["rows"]
    assert len(rows) == 100 and rows[0]["id"] == "c099"  # newest first
    by_id = {r["id"]: r for r in rows}
    assert by_id["c000"]["state"] == "exited" and by_id["c000"]["exit_code"] == 0
    assert by_id["c002"]["exit_code"] == 2 and by_id["c002"]["finished_ms"] == (T0 + 202 * MS) / 1e6
    assert by_id["c001"]["state"] == "running" and by_id["c001"]["started_ms"] == (T0 + MS) / 1e6
    assert by_id["c001"]["image"] == "busybox" and by_id["c001"]["name"] == "name-c001"


def test_the_dispatcher_thread_batches_a_burst(comms):
    pump = EventPump(interval=0.05).start()
    try:
        table = ContainerTable(pump)
        for i in range(100):
            pump.post_event(event(f"c{i:03d}", "create", i))
            pump.post_event(event(f"c{i:03d}", "start", i))
        assert pump.flush()
        updates = comm_of(table).updates()
        assert len(updates) == pump.batches  # one message per batch, never one per event
        assert len(updates[-1]["rows"]) == 100 and len(table.rows) == 100
    finally:
        pump.close()


def test_a_widget_made_later_starts_from_what_the_pump_knows(comms):
    pump = EventPump()
    pump.dispatch([("event", event("c1", "create")), ("event", event("c1", "destroy", 1))])
    table = ContainerTable(pump)
    assert [r["state"] for r in table.rows] == ["removed"]
    table.show_removed = False
    assert table.rows == []


def test_table_action_from_the_front_end_reaches_the_session(comms):
    calls = []
    table = ContainerTable(EventPump(), on_action=lambda t, action, cid: calls.append((t, action, cid)))
    comm_of(table).from_front_end({"method": "custom", "content": {"action": "stop", "id": "c1"}})
    comm_of(table).from_front_end({"method": "custom", "content": {"action": "format-disk", "id": "c1"}})
    assert calls == [(table, "stop", "c1")]


def test_table_without_a_daemon_says_so():
    table = ContainerTable()
    table.act("rm", "c1" * 10)
    assert "no daemon" in table.message


def test_timeline_grows_while_a_span_is_open_and_follows_the_newest_trace(comms):
    pump = EventPump()
    timeline = Timeline(pump)
    root = span("a" * 32, "r1", None, "runRun", 0)
    start = span("a" * 32, "s1", "r1", "ContainerStart", 5, container_id="f" * 64)
    pump.dispatch([("span", root), ("span", start)])
    rows = comm_of(timeline).updates()[-1]["spans"]
    assert [(r["name"], r["depth"], r["end_ms"]) for r in rows] == [("runRun", 0, None), ("ContainerStart", 1, None)]
    assert rows[1]["start_ms"] == 5.0

    daemon = span("a" * 32, "d1", "s1", "postContainersStart", 6, 20, layer="daemon")
    done = span("a" * 32, "s1", "r1", "ContainerStart", 5, 21, container_id="f" * 64)
    pump.dispatch([("span", daemon), ("span", done)])
    rows = {r["name"]: r for r in timeline.spans}
    assert rows["ContainerStart"]["end_ms"] == 21.0 and rows["postContainersStart"]["depth"] == 2
    assert rows["runRun"]["end_ms"] is None

    pump.dispatch([("span", span("b" * 32, "r2", None, "runCreate", 100))])
    assert [r["name"] for r in timeline.spans] == ["runCreate"] and timeline.traces == ["b" * 32]


def test_timeline_of_one_container_keeps_all_its_traces(comms):
    pump = EventPump()
    cid = "e" * 64
    pump.dispatch([("span", span("a" * 32, "r1", None, "runCreate", 0, 10, container_id=cid)),
                   ("span", span("b" * 32, "r2", None, "runStart", 20, 30, container_id=cid)),
                   ("span", span("c" * 32, "r3", None, "runRun", 40, 50, container_id="0" * 64))])
    timeline = Timeline(pump, container=cid[:12])
    assert [(r["name"], r["start_ms"]) for r in timeline.spans] == [("runCreate", 0.0), ("runStart", 20.0)]
    timeline.container = ""
    assert [r["name"] for r in timeline.spans] == ["runRun"]


def test_note_says_why_the_timeline_has_only_client_spans(comms):
    pump = EventPump()
    timeline = Timeline(pump)
    pump.dispatch([("note", ("spans", NO_SPANS.format(status=404)))])
    assert "client's own spans only" in timeline.note
    assert comm_of(timeline).updates()[-1] == {"note": timeline.note}


def test_event_log_newest_first_capped_and_filtered(comms):
    pump = EventPump()
    log = EventLog(pump, limit=5)
    pump.dispatch([("event", event("c1", "create", 1)), ("event", event("c1", "start", 2))])
    pump.dispatch([("event", {"source": "containerd", "Type": "/tasks/start", "Action": "start",
                              "timeNano": T0 + 3 * MS, "Actor": {"ID": "c1", "Attributes": {"pid": "42"}}})])
    assert [(e["source"], e["action"]) for e in log.events] == [
        ("containerd", "start"), ("docker", "start"), ("docker", "create")]
    pump.dispatch([("event", event(f"x{i}", "create", 10 + i)) for i in range(10)])
    assert len(log.events) == 5 and log.events[0]["id"] == "x9"

    comm_of(log).from_front_end({"method": "update", "state": {"filter": "X7"}, "buffer_paths": []})
    assert log.filter == "X7" and [e["id"] for e in log.visible()] == ["x7"]
    log.filter, log.sources = "", ["containerd"]
    assert log.visible() == []


def test_widgets_written_from_another_thread_while_the_main_thread_reads(comms):
    pump = EventPump(interval=0.01).start()
    try:
        table = ContainerTable(pump)
        stop = threading.Event()

        def produce():
            for i in range(300):
                pump.post_event(event(f"c{i:03d}", "create", i))
            stop.set()

        threading.Thread(target=produce).start()
        while not stop.is_set():
            assert isinstance(table.rows, list)
        assert pump.flush()
        assert len(table.rows) == 300
    finally:
        pump.close()


def test_changes_are_empty_when_nothing_moved():
    assert not Changes()
    pump = EventPump()
    assert not pump.dispatch([("event", {"Type": "network", "Action": "connect", "Actor": {"ID": "n"}})]).containers
