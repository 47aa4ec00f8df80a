"""The live container table: one row per container (state, image, uptime, exit code), newest first,
with buttons for the actions its state allows. Uptime is counted in the front end from the start
time, so a running container costs no messages while nothing happens."""

from __future__ import annotations

from collections.abc import Callable

import traitlets

from nbext.live import STATIC, Feed, LiveWidget
from nbext.state import Changes, LiveState

ACTIONS = ("start", "stop", "kill", "rm")

Action = Callable[["ContainerTable", str, str], None]  # (table, action, container id): reports to table.message


class ContainerTable(LiveWidget):
    _esm = STATIC / "table.js"
    _css = STATIC / "widgets.css"

    rows = traitlets.List(traitlets.Dict(), help="containers, newest first").tag(sync=True)
    show_removed = traitlets.Bool(True, help="keep rows of removed containers").tag(sync=True)
    message = traitlets.Unicode("", help="the outcome of the last action").tag(sync=True)

    def __init__(self, feed: Feed | None = None, on_action: Action | None = None, **kwargs: object):
        self.on_action = on_action
        super().__init__(feed, **kwargs)
        self.on_msg(self._front_end_msg)

    def render(self, state: LiveState, changes: Changes | None) -> None:
        if changes is None or changes.containers:
            rows = state.container_rows()
            self.rows = rows if self.show_removed else [r for r in rows if r["state"] != "removed"]
        if changes is None or changes.notes:
            self.note = state.notes.get("events", "")

    @traitlets.observe("show_removed")
    def _setting_changed(self, change: dict) -> None:
        self.refresh(change)

    def _front_end_msg(self, _widget: object, content: dict, _buffers: list) -> None:
        action, container = content.get("action"), content.get("id")
        if action in ACTIONS and isinstance(container, str):
            self.act(action, container)

    def act(self, action: str, container: str) -> None:
        """Run an action as the front end's button does; its outcome goes to `message`."""
        if self.on_action is None:
            self.message = f"{action} {container[:12]}: this table has no daemon to act on"
            return
        self.on_action(self, action, container)
