"""The daemon's span store: spans kept with their container (one JSON line each in the container's
directory, so they survive a daemon restart) and fanned out live to subscribers of the span stream."""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from corelib.trace.span import Span

SPANS_FILE = "spans.jsonl"


class SpanStore:
    """Spans by container, on disk under `root/<container id>/spans.jsonl`; spans of traces not (yet)
    tied to a container are kept in memory (the last `recent` of them) until a span names one."""

    def __init__(self, root: str | os.PathLike[str], recent: int = 4096):
        self.root = Path(root)
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[Span], None]] = []
        self._unowned: deque[Span] = deque(maxlen=recent)
        self._container_of_trace: dict[str, str] = {}

    def add(self, span: Span) -> None:
        self.add_all([span])

    def add_all(self, spans: Iterable[Span]) -> None:
        """Keep `spans`, with one write per container they belong to."""
        spans = list(spans)
        by_container: dict[str, list[Span]] = {}
        with self._lock:
            for span in spans:
                container = span.attributes.get("container_id") or self._container_of_trace.get(span.trace_id)
                if container:
                    self._own(span.trace_id, container, by_container)
                    by_container.setdefault(container, []).append(span)
                else:
                    self._unowned.append(span)
            for container, owned in by_container.items():
                self._append(container, owned)
            subscribers = list(self._subscribers)
        for span in spans:
            for notify in subscribers:
                notify(span)

    def _own(self, trace_id: str, container: str, by_container: dict[str, list[Span]]) -> None:
        """From now on the trace belongs to `container`: its earlier spans move to the container's file
        (written with `by_container`)."""
        if self._container_of_trace.get(trace_id) == container:
            return
        self._container_of_trace[trace_id] = container
        earlier = [s for s in self._unowned if s.trace_id == trace_id]
        if earlier:
            self._unowned = deque((s for s in self._unowned if s.trace_id != trace_id), self._unowned.maxlen)
            by_container.setdefault(container, []).extend(earlier)

    def _append(self, container: str, spans: Iterable[Span]) -> None:
        directory = self.root / container
        directory.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(s.to_dict(), separators=(",", ":")) + "\n" for s in spans)
        # One write of whole lines in append mode: a crash leaves at worst a torn last line, which
        # `spans_of` skips.
        with open(directory / SPANS_FILE, "a", encoding="utf-8") as f:
            f.write(lines)

    def container_of(self, span: Span) -> str | None:
        """The container a span's trace belongs to, if one is known yet."""
        return span.attributes.get("container_id") or self._container_of_trace.get(span.trace_id)

    def spans_of(self, container: str) -> list[Span]:
        path = self.root / container / SPANS_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        spans = []
        for line in text.splitlines():
            try:
                spans.append(Span.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                continue
        return spans

    def trace(self, trace_id: str) -> list[Span]:
        container = self._container_of_trace.get(trace_id)
        if container:
            return [s for s in self.spans_of(container) if s.trace_id == trace_id]
        return [s for s in self._unowned if s.trace_id == trace_id]

    @property
    def watched(self) -> bool:
        """Whether anyone follows the spans live."""
        return bool(self._subscribers)

    def subscribe(self, notify: Callable[[Span], None]) -> Callable[[], None]:
        """Call `notify` for every span added from now on; returns the function that unsubscribes."""
        with self._lock:
            self._subscribers.append(notify)

        def unsubscribe() -> None:
            with self._lock:
                if notify in self._subscribers:
                    self._subscribers.remove(notify)

        return unsubscribe
