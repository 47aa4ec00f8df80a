"""The base of the live widgets, and the feed a widget without an event pump uses.

A live widget's data traits (rows, spans, events) are written only by its feed: the event pump's
thread, batch by batch, or at once by a `StaticFeed`. Its settings (what to follow, filters) are
traits the user or the front end set; changing one asks the feed to render the widget again. So one
thread writes the data, and whatever a widget has to say (a failed action, a lost stream) goes in its
own `note`/`message` traits, shown in the cell that displays it, never in the cell running now."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import anywidget
import traitlets

from nbext.state import Changes, LiveState

STATIC = Path(__file__).parent / "static"


class Feed(Protocol):
    def attach(self, widget: LiveWidget) -> None: ...
    def detach(self, widget: LiveWidget) -> None: ...
    def refresh(self, widget: LiveWidget) -> None: ...
    def call(self, func: Callable[[], None]) -> None: ...


class StaticFeed:
    """A feed for widgets drawn from data at hand (spans fetched once, a saved run): it renders at
    once, in the caller's thread."""

    def __init__(self, state: LiveState | None = None):
        self.state = state or LiveState()
        self._lock = threading.Lock()

    def attach(self, widget: LiveWidget) -> None:
        self.refresh(widget)

    def detach(self, widget: LiveWidget) -> None:
        pass

    def refresh(self, widget: LiveWidget) -> None:
        with self._lock, widget.hold_sync():
            widget.render(self.state, None)

    def call(self, func: Callable[[], None]) -> None:
        with self._lock:
            func()


class LiveWidget(anywidget.AnyWidget):
    note = traitlets.Unicode("", help="what the widget cannot show, and why").tag(sync=True)

    def __init__(self, feed: Feed | None = None, **kwargs: object):
        super().__init__(**kwargs)
        self.feed: Feed = feed if feed is not None else StaticFeed()
        self.feed.attach(self)

    def render(self, state: LiveState, changes: Changes | None) -> None:
        """Write the data traits from `state`; `changes` is None for a full redraw."""
        raise NotImplementedError

    def refresh(self, _change: object = None) -> None:
        """Draw again from the feed's state (a setting changed); before the feed is attached, nothing."""
        if hasattr(self, "feed"):
            self.feed.refresh(self)

    def close(self) -> None:
        feed = getattr(self, "feed", None)
        if feed is not None:
            feed.detach(self)
        super().close()
