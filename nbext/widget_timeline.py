"""The lifecycle timeline: a waterfall of spans by layer, one row each in tree order, that grows while
the container starts (an open span is drawn running until it ends). It follows the newest trace, or
every trace of one container."""

from __future__ import annotations

import traitlets

from nbext.live import STATIC, Feed, LiveWidget
from nbext.state import Changes, LiveState


class Timeline(LiveWidget):
    _esm = STATIC / "timeline.js"
    _css = STATIC / "widgets.css"

    spans = traitlets.List(traitlets.Dict(), help="rows: layer, name, depth, start_ms, end_ms (None: open)"
                           ).tag(sync=True)
    container = traitlets.Unicode("", help="show this container's traces; empty: follow the newest trace"
                                  ).tag(sync=True)
    traces = traitlets.List(traitlets.Unicode(), help="the trace ids shown").tag(sync=True)

    def __init__(self, feed: Feed | None = None, container: str = "", **kwargs: object):
        super().__init__(feed, container=container, **kwargs)

    def render(self, state: LiveState, changes: Changes | None) -> None:
        if changes is None or changes.traces:
            traces = state.traces_of(self.container) if self.container else _newest(state)
            if changes is None or set(traces) != set(self.traces) or changes.traces & set(traces):
                self.traces = traces
                self.spans = state.span_rows(traces)
        if changes is None or changes.notes:
            self.note = state.notes.get("spans", "")

    @traitlets.observe("container")
    def _setting_changed(self, change: dict) -> None:
        self.refresh(change)


def _newest(state: LiveState) -> list[str]:
    newest = state.newest_trace()
    return [newest] if newest else []
