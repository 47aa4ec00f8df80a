"""What the widgets show, kept in one place: containers (from the container list and the event
stream), spans by trace (open ones included, so a timeline grows while a container starts), and the
latest events. Pure data: the event pump applies batches of updates to it and hands the widgets the
`Changes` of each batch; nothing here sends a message."""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from corelib.trace.analysis import build_tree, walk
from corelib.trace.span import Span
from nbext.frames import span_container

STATE_OF_ACTION = {"create": "created", "start": "running", "restart": "running", "unpause": "running",
                   "pause": "paused", "die": "exited", "destroy": "removed"}
_EXITED = re.compile(r"Exited \((-?\d+)\)")


@dataclass
class Changes:
    """What one batch changed: container ids, trace ids, the new events (oldest first), notes."""

    containers: set[str] = field(default_factory=set)
    traces: set[str] = field(default_factory=set)
    events: list[dict] = field(default_factory=list)
    notes: bool = False

    def __bool__(self) -> bool:
        return bool(self.containers or self.traces or self.events or self.notes)


def event_time_ns(event: Mapping[str, Any]) -> int:
    return int(event.get("timeNano") or int(event.get("time") or 0) * 1_000_000_000)


class LiveState:
    def __init__(self, max_events: int = 1000, max_containers: int = 300, max_traces: int = 500):
        self.containers: OrderedDict[str, dict] = OrderedDict()
        self.spans: OrderedDict[str, dict[str, Span]] = OrderedDict()
        self.events: deque[dict] = deque(maxlen=max_events)
        self.notes: dict[str, str] = {}
        self.max_containers = max_containers
        self.max_traces = max_traces

    # -- updates ---------------------------------------------------------------------------------

    def add_event(self, event: Mapping[str, Any], changes: Changes) -> None:
        event = dict(event)
        self.events.append(event)
        changes.events.append(event)
        if event.get("Type") == "container" and event.get("source", "docker") == "docker":
            self._container_event(event, changes)

    def _container_event(self, event: dict, changes: Changes) -> None:
        actor = event.get("Actor") or {}
        cid, attributes = actor.get("ID") or event.get("id"), actor.get("Attributes") or {}
        action = str(event.get("Action") or event.get("status") or "")
        new_state = STATE_OF_ACTION.get(action)
        if not cid or (new_state is None and action != "rename"):
            return
        row = self.containers.get(cid)
        if row is None:
            row = self._new_row(cid, attributes.get("image", ""), attributes.get("name", ""))
        when_ms = event_time_ns(event) / 1e6
        if action == "create":
            row["created_ms"] = when_ms
        elif new_state == "running" and action != "unpause":
            row.update(started_ms=when_ms, finished_ms=None, exit_code=None)
        elif action == "die":
            exit_code = attributes.get("exitCode")
            row.update(finished_ms=when_ms, exit_code=int(exit_code) if exit_code not in (None, "") else None)
        if action == "rename" or attributes.get("name"):
            row["name"] = attributes.get("name", row["name"])
        if new_state is not None:
            row["state"] = new_state
        changes.containers.add(cid)

    def _new_row(self, cid: str, image: str, name: str) -> dict:
        row = {"id": cid, "name": name, "image": image, "state": "created", "created_ms": None,
               "started_ms": None, "finished_ms": None, "exit_code": None}
        self.containers[cid] = row
        self._forget_removed()
        return row

    def _forget_removed(self) -> None:
        """Past the limit, the oldest removed containers go first, then the oldest of any state."""
        excess = len(self.containers) - self.max_containers
        if excess <= 0:
            return
        removed = [cid for cid, row in self.containers.items() if row["state"] == "removed"]
        for cid in (removed + list(self.containers))[:excess]:
            self.containers.pop(cid, None)

    def add_listed(self, listed: Iterable[Mapping[str, Any]], changes: Changes) -> None:
        """Rows from `GET /containers/json?all=1` (docker's list form); what events already said wins."""
        for item in listed:
            cid = item.get("Id")
            if not cid or cid in self.containers:
                continue
            names = item.get("Names") or [""]
            row = self._new_row(cid, item.get("Image", ""), names[0].lstrip("/"))
            exited = _EXITED.search(item.get("Status") or "")
            row.update(state=item.get("State") or row["state"], created_ms=(item.get("Created") or 0) * 1000.0,
                       exit_code=int(exited.group(1)) if exited else None)
            changes.containers.add(cid)

    def add_inspected(self, detail: Mapping[str, Any], changes: Changes) -> None:
        """A container's start and finish times (the list form lacks them) from its inspect JSON."""
        row = self.containers.get(detail.get("Id", ""))
        if row is None:
            return
        state = detail.get("State") or {}
        row["started_ms"] = row["started_ms"] or _rfc3339_ms(state.get("StartedAt"))
        row["finished_ms"] = row["finished_ms"] or _rfc3339_ms(state.get("FinishedAt"))
        changes.containers.add(row["id"])

    def add_span(self, span: Span, changes: Changes) -> None:
        trace = self.spans.get(span.trace_id)
        if trace is None:
            trace = self.spans[span.trace_id] = {}
            while len(self.spans) > self.max_traces:
                self.spans.popitem(last=False)
        known = trace.get(span.span_id)
        if known is not None and known.end_ns and not span.end_ns:
            return  # an open copy arriving after the finished one
        trace[span.span_id] = span
        changes.traces.add(span.trace_id)

    def set_note(self, key: str, text: str | None, changes: Changes) -> None:
        if text:
            self.notes[key] = text
        else:
            self.notes.pop(key, None)
        changes.notes = True

    # -- views -----------------------------------------------------------------------------------

    def container_rows(self) -> list[dict]:
        """Newest first."""
        return [dict(row) for row in reversed(self.containers.values())]

    def trace_container(self, trace_id: str) -> str | None:
        return next((c for s in self.spans.get(trace_id, {}).values() if (c := span_container(s))), None)

    def traces_of(self, container: str) -> list[str]:
        """Traces that touched a container (by full id or a prefix of it), oldest first."""
        found = []
        for trace_id in self.spans:
            owner = self.trace_container(trace_id)
            if owner and (owner == container or owner.startswith(container)):
                found.append(trace_id)
        return found

    def newest_trace(self) -> str | None:
        if not self.spans:
            return None
        return max(self.spans, key=lambda t: min(s.start_ns for s in self.spans[t].values()))

    def span_rows(self, trace_ids: Iterable[str]) -> list[dict]:
        """The spans of these traces as timeline rows, tree order, times in ms from the first start;
        an open span has `end_ms` None."""
        spans = [s for t in trace_ids for s in self.spans.get(t, {}).values()]
        if not spans:
            return []
        origin = min(s.start_ns for s in spans)
        return [{
            "id": node.span.span_id, "parent": node.span.parent_id, "trace": node.span.trace_id,
            "layer": node.span.layer, "name": node.span.name, "depth": node.depth,
            "start_ms": (node.span.start_ns - origin) / 1e6,
            "end_ms": (node.span.end_ns - origin) / 1e6 if node.span.end_ns else None,
            "status": node.span.status, "measured_by": node.span.measured_by,
        } for node in walk(build_tree(spans))]

    def finished_spans(self, trace_ids: Iterable[str] | None = None) -> list[Span]:
        chosen = self.spans if trace_ids is None else trace_ids
        return [s for t in chosen for s in self.spans.get(t, {}).values() if s.end_ns]


def _rfc3339_ms(value: str | None) -> float | None:
    """Docker's RFC 3339 UTC times (`...T12:00:00.123456789Z`); its zero time `0001-01-01...` is None."""
    if not value or value.startswith("0001-"):
        return None
    from datetime import UTC, datetime

    head, _, fraction = value.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(head).replace(tzinfo=UTC)
    return stamp.timestamp() * 1000 + float("0." + (fraction or "0")) * 1000
