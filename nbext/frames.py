"""Spans and events as pandas DataFrames, and the analysis users do on them: per-phase percentiles
across runs, each layer's share of the time, one row per run with its phases as columns.

Spans come as `Span` objects or their dicts (`Span.to_dict()`, what the daemon's `/spans` and
`/containers/{id}/trace` send); events as the Engine API's `/events` messages (containerd's, turned
into the same shape by the event pump, carry `"source": "containerd"`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from corelib.trace.analysis import build_tree, covered_ns, walk
from corelib.trace.span import LAYERS, Span

SPAN_COLUMNS = ["trace", "container", "layer", "name", "start", "end", "duration_ms",
                "offset_ms", "depth", "span_id", "parent_id", "status", "measured_by"]
EVENT_COLUMNS = ["time", "source", "type", "action", "id", "name", "image", "exit_code", "attributes"]
CONTAINER_KEYS = ("container_id", "container", "id")


def as_span(span: Span | Mapping[str, Any]) -> Span:
    return span if isinstance(span, Span) else Span.from_dict(dict(span))


def span_container(span: Span) -> str | None:
    """The container a span names in its attributes, if any."""
    for key in CONTAINER_KEYS:
        value = span.attributes.get(key)
        if value:
            return str(value)
    return None


def trace_containers(spans: Iterable[Span]) -> dict[str, str]:
    """trace id -> the container its spans name (the first one named), so every span of a trace
    counts for the container the trace touched."""
    owners: dict[str, str] = {}
    for span in spans:
        container = span_container(span)
        if container and span.trace_id not in owners:
            owners[span.trace_id] = container
    return owners


def spans_frame(spans: Iterable[Span | Mapping[str, Any]]) -> pd.DataFrame:
    """One row per finished span: trace, container, layer, name, start, end (UTC timestamps),
    duration_ms, offset_ms (from its trace's first span), depth in the trace's tree, and ids.
    Rows are in trace order, each trace as its tree reads (parents before children)."""
    finished = [s for s in map(as_span, spans) if s.end_ns]
    owners = trace_containers(finished)
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in finished:
        by_trace[span.trace_id].append(span)
    rows = []
    for trace_id, members in sorted(by_trace.items(), key=lambda kv: min(s.start_ns for s in kv[1])):
        origin = min(s.start_ns for s in members)
        for node in walk(build_tree(members)):
            s = node.span
            rows.append({
                "trace": trace_id, "container": span_container(s) or owners.get(trace_id), "layer": s.layer,
                "name": s.name, "start": s.start_ns, "end": s.end_ns, "duration_ms": s.duration_ns / 1e6,
                "offset_ms": (s.start_ns - origin) / 1e6, "depth": node.depth, "span_id": s.span_id,
                "parent_id": s.parent_id, "status": s.status, "measured_by": s.measured_by,
            })
    frame = pd.DataFrame(rows, columns=SPAN_COLUMNS)
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column].astype("int64"), unit="ns", utc=True)
    frame["layer"] = pd.Categorical(frame["layer"], categories=_layer_order(frame["layer"]), ordered=True)
    return frame


def events_frame(events: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per event, newest last: time (UTC), source (docker or containerd), type, action,
    the actor's id, name and image, a container's exit code, and all its attributes."""
    rows = []
    for event in events:
        actor = event.get("Actor") or {}
        attributes = dict(actor.get("Attributes") or {})
        exit_code = attributes.get("exitCode")
        rows.append({
            "time": event.get("timeNano") or int(event.get("time") or 0) * 1_000_000_000,
            "source": event.get("source", "docker"), "type": event.get("Type", ""),
            "action": event.get("Action", event.get("status", "")), "id": actor.get("ID", event.get("id", "")),
            "name": attributes.get("name"), "image": attributes.get("image"),
            "exit_code": int(exit_code) if exit_code not in (None, "") else None, "attributes": attributes,
        })
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="ns", utc=True)
    frame["exit_code"] = frame["exit_code"].astype("Int64")
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def phase_percentiles(frame: pd.DataFrame, percentiles: Iterable[float] = (0.5, 0.9, 0.99)) -> pd.DataFrame:
    """Per phase (layer, name), across runs: how many, mean, min, the given percentiles and max of
    duration_ms; layers in stack order, the slowest phases first within a layer."""
    grouped = frame.groupby(["layer", "name"], observed=True)["duration_ms"]
    table = grouped.agg(["count", "mean", "min"])
    for q in percentiles:
        table[f"p{q * 100:g}"] = grouped.quantile(q)
    table["max"] = grouped.max()
    order = table.reset_index().sort_values(["layer", "mean"], ascending=[True, False])
    return table.loc[list(zip(order["layer"], order["name"], strict=True))]


def self_time_ms(frame: pd.DataFrame) -> pd.Series:
    """Each span's own time: its duration less what its children cover (the time spent in that
    layer's own code, not waiting on the layer below)."""
    ns = {row.span_id: (row.start.value, row.end.value) for row in frame.itertuples()}
    children: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row in frame.itertuples():
        if row.parent_id in ns:
            start, end = ns[row.parent_id]
            children[row.parent_id].append((max(start, ns[row.span_id][0]), min(end, ns[row.span_id][1])))
    own = [(end - start - covered_ns(i for i in children.get(sid, []) if i[0] < i[1])) / 1e6
           for sid, (start, end) in ns.items()]
    return pd.Series(own, index=frame.index, name="self_ms")


def layer_share(frame: pd.DataFrame) -> pd.DataFrame:
    """Each layer's own time, summed over all traces, and its share of the traced wall time (the sum
    of the root spans' durations): where the start-up time goes."""
    own = frame.assign(self_ms=self_time_ms(frame))
    total = frame.loc[frame["depth"] == 0, "duration_ms"].sum()
    table = own.groupby("layer", observed=True)["self_ms"].sum().to_frame()
    table["share"] = table["self_ms"] / total if total else float("nan")
    return table


def per_run(frame: pd.DataFrame, layer: str | None = None) -> pd.DataFrame:
    """One row per trace (run), one column per phase name (of one layer, or all), in milliseconds;
    a phase that occurs more than once in a run is summed."""
    rows = frame if layer is None else frame[frame["layer"] == layer]
    return rows.pivot_table(index="trace", columns="name", values="duration_ms", aggfunc="sum", observed=True)


def _layer_order(layers: Iterable[str]) -> list[str]:
    seen = list(dict.fromkeys(layers))
    return [*[la for la in LAYERS if la in seen], *sorted(la for la in seen if la not in LAYERS)]
