import pandas as pd
import pytest

from corelib.trace.span import Span
from nbext.frames import events_frame, layer_share, per_run, phase_percentiles, self_time_ms, spans_frame

MS = 1_000_000
T0 = 1_700_000_000 * 1_000_000_000


def run_trace(n: int, create_ms: int, start_ms: int) -> list[dict]:
    """One `run`: client root, the daemon's create and start (start naming the container), runc below."""
    t = f"{n:032x}"
    base = T0 + n * 10_000 * MS
    total = create_ms + start_ms + 2
    return [s.to_dict() for s in (
        Span(t, f"r{n:015x}", None, "client", "runRun", base, base + total * MS),
        Span(t, f"c{n:015x}", f"r{n:015x}", "daemon", "postContainersCreate", base + MS, base + (1 + create_ms) * MS),
        Span(t, f"s{n:015x}", f"r{n:015x}", "daemon", "postContainersStart", base + (1 + create_ms) * MS,
             base + (1 + create_ms + start_ms) * MS, attributes={"container_id": f"ctr{n}"}),
        Span(t, f"u{n:015x}", f"s{n:015x}", "runc", "pivot_root", base + (1 + create_ms) * MS,
             base + (1 + create_ms + start_ms // 2) * MS, measured_by="shim"),
    )]


def test_spans_frame_has_one_row_per_span_with_the_trace_container_on_every_row():
    frame = spans_frame(run_trace(1, 10, 20))
    assert list(frame.columns[:7]) == ["trace", "container", "layer", "name", "start", "end", "duration_ms"]
    assert list(frame["name"]) == ["runRun", "postContainersCreate", "postContainersStart", "pivot_root"]
    assert set(frame["container"]) == {"ctr1"}
    assert list(frame["duration_ms"]) == [32.0, 10.0, 20.0, 10.0]
    assert list(frame["depth"]) == [0, 1, 1, 2]
    assert list(frame["offset_ms"]) == [0.0, 1.0, 11.0, 11.0]
    assert frame["start"].iloc[0] == pd.Timestamp(T0 + 10_000 * MS, unit="ns", tz="UTC")
    assert frame["measured_by"].iloc[3] == "shim"
    assert list(frame["layer"].cat.categories) == ["client", "daemon", "runc"]


def test_spans_frame_skips_open_spans_and_accepts_span_objects():
    spans = [Span.from_dict(d) for d in run_trace(1, 10, 20)]
    spans[1].end_ns = 0
    assert "postContainersCreate" not in set(spans_frame(spans)["name"])
    empty = spans_frame([])
    assert empty.empty and "duration_ms" in empty.columns


def test_phase_percentiles_across_runs():
    spans = [d for n in range(1, 11) for d in run_trace(n, create_ms=n, start_ms=100)]
    table = phase_percentiles(spans_frame(spans), percentiles=(0.5, 0.9))
    create = table.loc[("daemon", "postContainersCreate")]
    assert create["count"] == 10
    assert create["min"] == 1 and create["max"] == 10
    assert create["p50"] == pytest.approx(5.5) and create["p90"] == pytest.approx(9.1)
    assert list(table.index.get_level_values("layer")) == ["client", "daemon", "daemon", "runc"]
    assert list(table.index.get_level_values("name"))[1:3] == ["postContainersStart", "postContainersCreate"]


def test_self_time_and_layer_share_add_up_to_the_root():
    frame = spans_frame(run_trace(1, 10, 20))
    own = dict(zip(frame["name"], self_time_ms(frame), strict=True))
    assert own == {"runRun": 2.0, "postContainersCreate": 10.0, "postContainersStart": 10.0, "pivot_root": 10.0}
    share = layer_share(frame)
    assert share.loc["daemon", "self_ms"] == 20.0
    assert share["share"].sum() == pytest.approx(1.0)
    assert share.loc["runc", "share"] == pytest.approx(10 / 32)


def test_per_run_pivots_phases_into_columns():
    spans = [d for n in (1, 2) for d in run_trace(n, create_ms=n * 5, start_ms=7)]
    table = per_run(spans_frame(spans), layer="daemon")
    assert sorted(table.columns) == ["postContainersCreate", "postContainersStart"]
    assert sorted(table["postContainersCreate"]) == [5.0, 10.0]


def test_events_frame_from_engine_api_and_containerd_messages():
    events = [
        {"Type": "container", "Action": "die", "Actor": {"ID": "abc", "Attributes": {
            "name": "web", "image": "busybox", "exitCode": "3"}}, "time": 1700000001, "timeNano": T0 + 2},
        {"Type": "container", "Action": "create", "Actor": {"ID": "abc", "Attributes": {
            "name": "web", "image": "busybox"}}, "time": 1700000000, "timeNano": T0 + 1},
        {"source": "containerd", "Type": "/tasks/exit", "Action": "exit", "Actor": {"ID": "abc", "Attributes": {
            "exitCode": "3"}}, "timeNano": T0 + 3},
    ]
    frame = events_frame(events)
    assert list(frame["action"]) == ["create", "die", "exit"]
    assert list(frame["source"]) == ["docker", "docker", "containerd"]
    assert frame["exit_code"].tolist() == [pd.NA, 3, 3]
    assert frame["time"].iloc[0] == pd.Timestamp(T0 + 1, unit="ns", tz="UTC")
    assert frame["name"].iloc[0] == "web" and frame["image"].iloc[1] == "busybox"
