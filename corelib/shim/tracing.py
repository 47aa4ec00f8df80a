"""The shim's lifecycle spans: Create > runc create ; Start > runc start ; exit > publish /tasks/exit,
with the runtime's own phases (reported in its JSON log) under its command's span.

Recorded only inside containerd's trace (`traceparent` in the ttrpc metadata) and forwarded to
containerd like any event, under /whalebone/spans. The runtime learns the trace from TRACEPARENT in its
environment. Nothing here is imported until a traced call arrives: a shim's memory is a target.
"""

from __future__ import annotations

import os
import threading
import time

from corelib.trace.context import TRACEPARENT, TRACEPARENT_ENV, TraceContext, parse_traceparent
from corelib.trace.span import Span, Tracer, adopt, current_context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from corelib.shim.events import Publisher
    from corelib.ttrpc.services import Context

FLUSH_IDLE = 0.2  # seconds without a new span before a running task's spans go up


class ShimTracer:
    """Spans wait in the shim while the task's lifecycle is under way and go up together, in one event:
    once the init's exit has been forwarded, when nothing was recorded for FLUSH_IDLE seconds (a task
    that runs on), or at Shutdown. Forwarding each as it ended cost a ttrpc call to containerd, and
    containerd's and the daemon's work with it, in the middle of Create and Start."""

    def __init__(self, publisher: Publisher):
        self.publisher = publisher
        self.tracer = Tracer("shim", sink=self._keep, roots=False)
        self._lock = threading.Lock()
        self._pending: list[Span] = []
        self._jobs: list[Callable[[], None]] = []
        self._last = 0.0
        self._timer: threading.Timer | None = None
        self._exited = False  # after the init's exit, a late span (its Start's) goes up at once

    def _keep(self, span: Span) -> None:
        with self._lock:
            self._pending.append(span)
            if not self._exited:
                self._touch()
                return
        self.publisher.defer(self.flush)

    def later(self, job: Callable[[], None]) -> None:
        """Run `job` (which records spans) at the next flush, not now: it loads json and more."""
        with self._lock:
            self._jobs.append(job)
            self._touch()

    def _touch(self) -> None:
        self._last = time.monotonic()
        if self._timer is None:
            self._arm(FLUSH_IDLE)

    def _arm(self, delay: float) -> None:
        self._timer = threading.Timer(delay, self._idle)
        self._timer.daemon = True
        self._timer.start()

    def _idle(self) -> None:
        with self._lock:
            if self._timer is None:
                return
            quiet = time.monotonic() - self._last
            if quiet < FLUSH_IDLE:
                self._arm(FLUSH_IDLE - quiet)
                return
            self._timer = None
        self.publisher.defer(self.flush)

    def flush_later(self) -> None:
        """Flush on the publisher's thread, after what it has queued (Shutdown: before it closes)."""
        self.publisher.defer(self.flush)

    def flush(self) -> None:
        """Forward what is pending, as one event (on the publisher's thread)."""
        with self._lock:
            jobs, self._jobs = self._jobs, []
        for job in jobs:
            job()
        with self._lock:
            spans, self._pending = self._pending, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if spans:
            from corelib.trace.events import TOPIC, spans_to_message

            self.publisher.publish(TOPIC, spans_to_message(spans))

    def handle(self, context: Context | None, name: str, **attributes: object) -> _Handled:
        """`with tracer.handle(context, "Create", container_id=...):` a span for one traced ttrpc call."""
        parent = parse_traceparent(context.get(TRACEPARENT)) if context is not None else None
        return _Handled(self.tracer, parent, name, attributes)

    def runtime_command(self, name: str, log_path: str) -> _RuntimeCommand:
        """`with tracer.runtime_command("runc create", log) as env:` env for the runtime (None untraced);
        the phases the runtime logged become its spans under this one at the next flush."""
        return _RuntimeCommand(self.tracer, name, log_path, self.later)

    def record_exit(self, parent: TraceContext | None, exited_ns: int, container_id: str, pid: int,
                    forward_start_ns: int, forward_end_ns: int) -> None:
        """exit > publish /tasks/exit, once the exit event has reached containerd (on the publisher's
        thread), then everything pending. The exit follows from the Start that began the process, long
        after that call ended: marked `follows_from`, as OpenTracing's FollowsFrom reference, so it is not
        read as a child that overran its parent."""
        if parent is not None:
            exit_span = self.tracer.record("exit", exited_ns, forward_end_ns, parent=parent,
                                           container_id=container_id, pid=pid, follows_from=True)
            self.tracer.record("publish /tasks/exit", forward_start_ns, forward_end_ns, parent=exit_span.context)
            self._exited = True
        self.flush()


def current() -> TraceContext | None:
    return current_context()


class _Handled:
    __slots__ = ("tracer", "parent", "name", "attributes", "adopted", "scope")

    def __init__(self, tracer: Tracer, parent: TraceContext | None, name: str, attributes: dict):
        self.tracer, self.parent, self.name, self.attributes = tracer, parent, name, attributes

    def __enter__(self) -> Span | None:
        self.adopted = adopt(self.parent)
        self.adopted.__enter__()
        self.scope = self.tracer.span(self.name, **self.attributes)
        return self.scope.__enter__()

    def __exit__(self, *exc: object) -> None:
        try:
            self.scope.__exit__(*exc)
        finally:
            self.adopted.__exit__(*exc)


class _RuntimeCommand:
    __slots__ = ("tracer", "name", "log_path", "later", "offset", "scope", "span")

    def __init__(self, tracer: Tracer, name: str, log_path: str, later: Callable[[Callable[[], None]], None]):
        self.tracer, self.name, self.log_path, self.later = tracer, name, log_path, later

    def __enter__(self) -> dict[str, str] | None:
        self.scope = self.tracer.span(self.name)
        self.span = self.scope.__enter__()
        if self.span is None:
            return None
        try:
            self.offset = os.stat(self.log_path).st_size
        except OSError:
            self.offset = 0
        return {**os.environ, TRACEPARENT_ENV: self.span.context.traceparent()}

    def __exit__(self, *exc: object) -> None:
        self.scope.__exit__(*exc)
        if self.span is None:
            return
        log = self._read_log()
        self.later(lambda: self._record_phases(log))

    def _record_phases(self, log: str) -> None:
        from corelib.trace.runtime_log import parse_phases

        phases = parse_phases(log)
        for phase, start_ns, end_ns in phases:
            self.tracer.record(phase, start_ns, end_ns, parent=self.span.context, layer="runc")
        if not phases:
            # A runtime that reports no phases (the real runc): its command timed from here, marked so.
            self.tracer.record(self.name.split()[-1], self.span.start_ns, self.span.end_ns, parent=self.span.context,
                               layer="runc", measured_by="shim")

    def _read_log(self) -> str:
        """What the command wrote to the runtime's log (read now: the next command appends to it)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""
