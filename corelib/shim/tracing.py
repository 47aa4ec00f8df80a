"""The shim's lifecycle spans: Create > runc create ; Start > runc start ; exit > publish /tasks/exit,
with the runtime's own phases (reported in its JSON log) under its command's span.

Recorded only inside containerd's trace (`traceparent` in the ttrpc metadata) and forwarded to
containerd like any event, under /whalebone/spans. The runtime learns the trace from TRACEPARENT in its
environment. Nothing here is imported until a traced call arrives: a shim's memory is a target.
"""

from __future__ import annotations

import os

from corelib.trace.context import TRACEPARENT, TRACEPARENT_ENV, TraceContext, parse_traceparent
from corelib.trace.span import Span, Tracer, adopt, current_context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from corelib.shim.events import Publisher
    from corelib.ttrpc.services import Context


class ShimTracer:
    def __init__(self, publisher: Publisher):
        self.publisher = publisher
        self.tracer = Tracer("shim", sink=self._publish, roots=False)
        publisher.defer(_load_exporters)  # made at the first traced call, while its runtime command runs

    def _publish(self, span: Span) -> None:
        """On the publisher's thread: the conversion loads json and more, which no call should wait for."""
        self.publisher.defer(lambda: self._forward(span))

    def _forward(self, span: Span) -> None:
        from corelib.trace.events import TOPIC, span_to_message

        self.publisher.publish(TOPIC, span_to_message(span))

    def handle(self, context: Context | None, name: str, **attributes: object) -> _Handled:
        """`with tracer.handle(context, "Create", container_id=...):` a span for one traced ttrpc call."""
        parent = parse_traceparent(context.get(TRACEPARENT)) if context is not None else None
        return _Handled(self.tracer, parent, name, attributes)

    def runtime_command(self, name: str, log_path: str) -> _RuntimeCommand:
        """`with tracer.runtime_command("runc create", log) as env:` env for the runtime (None untraced);
        afterwards the phases the runtime logged become its spans under this one (on the publisher's
        thread: parsing them loads json, which the call need not wait for)."""
        return _RuntimeCommand(self.tracer, name, log_path, self.publisher.defer)

    def record_exit(self, parent: TraceContext | None, exited_ns: int, container_id: str, pid: int,
                    forward_start_ns: int, forward_end_ns: int) -> None:
        """exit > publish /tasks/exit, once the exit event has reached containerd. The exit follows from
        the Start that began the process, long after that call ended: marked `follows_from`, as
        OpenTracing's FollowsFrom reference, so it is not read as a child that overran its parent."""
        if parent is None:
            return
        exit_span = self.tracer.record("exit", exited_ns, forward_end_ns, parent=parent, container_id=container_id,
                                       pid=pid, follows_from=True)
        self.tracer.record("publish /tasks/exit", forward_start_ns, forward_end_ns, parent=exit_span.context)


def _load_exporters() -> None:
    import corelib.trace.events
    import corelib.trace.runtime_log  # noqa: F401


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
    __slots__ = ("tracer", "name", "log_path", "defer", "offset", "scope", "span")

    def __init__(self, tracer: Tracer, name: str, log_path: str, defer: Callable[[Callable[[], None]], None]):
        self.tracer, self.name, self.log_path, self.defer = tracer, name, log_path, defer

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
        self.defer(lambda: self._record_phases(log))

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
