"""The event pump: one per session. Sources (the daemon's `/events` and `/spans` streams, containerd's
events, the client's own spans) post updates from their threads; one dispatcher thread takes them in
batches, applies each batch to the `LiveState` and lets every attached widget render it once, under
`hold_sync`, so a widget sends at most one message per batch however many containers moved.

Widgets are written from the dispatcher thread only (ipykernel's iopub channel is safe to send on from
any thread), so they stay live while the kernel's main thread is busy in a `%container run`."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from corelib.trace.span import Span
from nbext.state import Changes, LiveState

if TYPE_CHECKING:
    from nbext.live import LiveWidget

log = logging.getLogger("nbext")

_STOP = object()


class EventPump:
    def __init__(self, state: LiveState | None = None, interval: float = 0.05):
        self.state = state or LiveState()
        self.interval = interval  # how long a batch gathers after its first update
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.RLock()
        self._widgets: list[LiveWidget] = []
        self._sources: list[Source] = []
        self._dispatcher: threading.Thread | None = None
        self.batches = 0

    # -- what sources call -------------------------------------------------------------------------

    def post_event(self, event: dict) -> None:
        self._queue.put(("event", event))

    def post_span(self, span: Span) -> None:
        self._queue.put(("span", Span.from_dict(span.to_dict())))  # a snapshot: the span goes on changing

    def post_listed(self, containers: list[dict]) -> None:
        self._queue.put(("listed", containers))

    def post_inspected(self, detail: dict) -> None:
        self._queue.put(("inspected", detail))

    def post_note(self, key: str, text: str | None) -> None:
        self._queue.put(("note", (key, text)))

    # -- the Feed that widgets use -----------------------------------------------------------------

    def attach(self, widget: LiveWidget) -> None:
        with self._lock:
            self._render(widget, None)
            self._widgets.append(widget)

    def detach(self, widget: LiveWidget) -> None:
        with self._lock:
            if widget in self._widgets:
                self._widgets.remove(widget)

    def refresh(self, widget: LiveWidget) -> None:
        if self.running:
            self._queue.put(("refresh", widget))
        else:
            with self._lock:
                self._render(widget, None)

    def call(self, func: Callable[[], None]) -> None:
        """Run `func` in the dispatcher thread (to write a widget's traits from elsewhere)."""
        if self.running:
            self._queue.put(("call", func))
        else:
            with self._lock:
                func()

    # -- running -----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._dispatcher is not None and self._dispatcher.is_alive()

    def start(self, sources: Iterable[Source] = ()) -> EventPump:
        self._dispatcher = threading.Thread(target=self._dispatch_loop, name="nbext-pump", daemon=True)
        self._dispatcher.start()
        for source in sources:
            self.add_source(source)
        return self

    def add_source(self, source: Source) -> None:
        self._sources.append(source)
        source.start(self)

    def flush(self, timeout: float = 30.0, resend: bool = False) -> bool:
        """Wait until everything posted so far has been applied and rendered. `resend`: then send every
        widget's whole state again, in the cell running now (a front end, or nbclient, that missed
        updates sent while no cell ran gets the complete picture)."""
        done = threading.Event()
        item = ("flush", (done, resend))
        if not self.running:
            self.dispatch([*self._drain(), item])
            return True
        self._queue.put(item)
        return done.wait(timeout)

    def close(self) -> None:
        for source in self._sources:
            source.stop()
        if self.running:
            self._queue.put(_STOP)
            self._dispatcher.join(timeout=10)
        for source in self._sources:
            source.join()
        self._sources.clear()
        with self._lock:
            self._widgets.clear()

    def _drain(self) -> list:
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _dispatch_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            deadline = time.monotonic() + self.interval
            stop = False
            while (left := deadline - time.monotonic()) > 0:
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self.dispatch(batch)
            if stop:
                return

    def dispatch(self, batch: list) -> Changes:
        """Apply a batch of updates and render the widgets once; returns what changed."""
        changes, refreshes, flushes = Changes(), [], []
        with self._lock:
            for kind, payload in batch:
                if kind == "event":
                    self.state.add_event(payload, changes)
                elif kind == "span":
                    self.state.add_span(payload, changes)
                elif kind == "listed":
                    self.state.add_listed(payload, changes)
                elif kind == "inspected":
                    self.state.add_inspected(payload, changes)
                elif kind == "note":
                    self.state.set_note(*payload, changes)
                elif kind == "refresh":
                    refreshes.append(payload)
                elif kind == "call":
                    self._guarded(payload)
                elif kind == "flush":
                    flushes.append(payload)
            if changes:
                self.batches += 1
                for widget in list(self._widgets):
                    self._render(widget, changes)
            for widget in dict.fromkeys(refreshes):
                self._render(widget, None)
            for done, resend in flushes:
                if resend:
                    for widget in self._widgets:
                        self._guarded(widget.send_state)
                done.set()
        return changes

    def _render(self, widget: LiveWidget, changes: Changes | None) -> None:
        self._guarded(lambda: _render_held(widget, self.state, changes))

    @staticmethod
    def _guarded(func: Callable[[], None]) -> None:
        try:
            func()
        except Exception:  # noqa: BLE001 - one widget's failure must not stop the pump
            log.exception("nbext: a widget update failed")


def _render_held(widget: LiveWidget, state: LiveState, changes: Changes | None) -> None:
    with widget.hold_sync():
        widget.render(state, changes)


class Source:
    """A stream read in a thread of its own, posting what it reads to the pump."""

    name = "source"

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, pump: EventPump) -> None:
        self._thread = threading.Thread(target=self._run, args=(pump,), name=f"nbext-{self.name}", daemon=True)
        self._thread.start()

    def _run(self, pump: EventPump) -> None:
        try:
            self.run(pump)
        except Exception as e:  # noqa: BLE001 - said in the widgets, not raised into a random cell
            if not self._stopping.is_set():
                log.exception("nbext: %s failed", self.name)
                pump.post_note(self.name, f"{self.name} stopped: {e}")

    def run(self, pump: EventPump) -> None:
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
