"""The event log: Docker's events and containerd's, newest first, filtered in the front end by text
and by source (the filter settings are traits, so they are kept with the notebook)."""

from __future__ import annotations

import traitlets

from nbext.live import STATIC, LiveWidget
from nbext.state import Changes, LiveState, event_time_ns

SOURCES = ("docker", "containerd")


def event_line(event: dict) -> dict:
    """What the front end draws for one event."""
    actor = event.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    return {
        "time_ms": event_time_ns(event) / 1e6, "source": event.get("source", "docker"),
        "type": event.get("Type", ""), "action": event.get("Action", event.get("status", "")),
        "id": actor.get("ID", event.get("id", "")),
        "attributes": " ".join(f"{k}={attributes[k]}" for k in sorted(attributes)),
    }


class EventLog(LiveWidget):
    _esm = STATIC / "events.js"
    _css = STATIC / "widgets.css"

    events = traitlets.List(traitlets.Dict(), help="event lines, newest first").tag(sync=True)
    filter = traitlets.Unicode("", help="show only lines containing this text").tag(sync=True)
    sources = traitlets.List(traitlets.Unicode(), default_value=list(SOURCES), help="sources shown"
                             ).tag(sync=True)
    limit = traitlets.Int(500, help="lines kept").tag(sync=True)

    def render(self, state: LiveState, changes: Changes | None) -> None:
        if changes is None:
            latest = list(state.events)[-self.limit:]
            self.events = [event_line(e) for e in reversed(latest)]
        elif changes.events:
            fresh = [event_line(e) for e in reversed(changes.events[-self.limit:])]
            self.events = (fresh + self.events)[:self.limit]
        if changes is None or changes.notes:
            self.note = state.notes.get("events", "")

    def visible(self) -> list[dict]:
        """The lines the front end shows with the current filter (the same rule as events.js)."""
        text = self.filter.lower()
        return [e for e in self.events if e["source"] in self.sources and (not text or text in _searched(e))]


def _searched(line: dict) -> str:
    return " ".join(str(line[k]) for k in ("source", "type", "action", "id", "attributes")).lower()
