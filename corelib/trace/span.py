"""Spans and the one small hook every layer records them through.

A `Tracer` belongs to a layer (client, daemon, containerd, shim, runc) and hands each finished span to
its sink: the daemon stores them, containerd and the shim publish them as events, the client sends them
to the daemon. The current span travels in a context variable, so nesting follows the code, in threads
and asyncio tasks alike.

Lean on purpose: no dataclasses, typing, functools or contextlib at import time (together ~40 ms and
megabytes), since a shim per container and every CLI start load this.
"""

from __future__ import annotations

import contextvars
import time

from corelib.trace.context import TraceContext, new_span_id, new_trace_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

LAYERS = ("client", "daemon", "containerd", "shim", "runc")
FIELDS = ("trace_id", "span_id", "parent_id", "layer", "name", "start_ns", "end_ns", "attributes", "status",
          "measured_by")
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect

_current: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar("whalebone_trace", default=None)


class Span:
    __slots__ = FIELDS

    def __init__(self, trace_id: str, span_id: str, parent_id: str | None, layer: str, name: str, start_ns: int,
                 end_ns: int = 0, attributes: dict[str, Any] | None = None, status: str = "ok",
                 measured_by: str | None = None):
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.layer = layer
        self.name = name
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.attributes = attributes if attributes is not None else {}
        self.status = status
        self.measured_by = measured_by  # set when another layer measured this one from outside

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def context(self) -> TraceContext:
        return TraceContext(self.trace_id, self.span_id)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS} | {"attributes": dict(self.attributes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Span:
        return cls(**{k: v for k, v in data.items() if k in FIELDS})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Span) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Span({self.layer}/{self.name} {self.duration_ns / 1e6:.3f} ms trace={self.trace_id[:8]})"


def current_context() -> TraceContext | None:
    """The context of the innermost open span (or the one adopted from a caller)."""
    return _current.get()


class adopt:  # noqa: N801 - used as a function: `with adopt(ctx):`
    """Make a caller's context (from a header, metadata or the environment) the parent of what follows."""

    __slots__ = ("context", "token")

    def __init__(self, context: TraceContext | None):
        self.context = context

    def __enter__(self) -> None:
        self.token = _current.set(self.context)

    def __exit__(self, *exc: object) -> None:
        _current.reset(self.token)


class _Scope:
    """One open span, current while the `with` block runs."""

    __slots__ = ("tracer", "span", "token")

    def __init__(self, tracer: Tracer, span: Span | None):
        self.tracer = tracer
        self.span = span

    def __enter__(self) -> Span | None:
        if self.span is not None:
            self.token = _current.set(self.span.context)
        return self.span

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        span = self.span
        if span is None:
            return
        if exc is not None:
            span.status = "error"
            span.attributes.setdefault("error", str(exc) or exc_type.__name__)
        _current.reset(self.token)
        self.tracer.finish(span)


class _NoSpan:
    """The `with` of a step nothing traces (no tracer at all): None, as an unrecorded span's `with`."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


NO_SPAN = _NoSpan()


class Tracer:
    """Records spans for one layer. `enabled=False` makes every call a cheap no-op; `roots=False` (the
    inner layers) records only within a trace a caller started, never a trace of its own."""

    def __init__(self, layer: str, sink: Callable[[Span], None] | None = None,
                 clock: Callable[[], int] = time.time_ns, enabled: bool = True, roots: bool = True):
        self.layer = layer
        self.sink = sink
        self.clock = clock
        self.enabled = enabled
        self.roots = roots

    def active(self, parent: TraceContext | None = None) -> bool:
        """Whether a span opened now would be recorded."""
        return self.enabled and (self.roots or parent is not None or _current.get() is not None)

    def span(self, name: str, parent: TraceContext | None = None, **attributes: Any) -> _Scope:
        """`with tracer.span(name, **attributes) as span:` (span is None when nothing is recorded)."""
        return _Scope(self, self.start(name, parent, **attributes) if self.active(parent) else None)

    def start(self, name: str, parent: TraceContext | None = None, **attributes: Any) -> Span:
        """Open a span without making it current (for spans that end in another task or callback)."""
        parent = parent or _current.get()
        return Span(parent.trace_id if parent else new_trace_id(), new_span_id(),
                    parent.span_id if parent else None, self.layer, name, self.clock(), attributes=attributes)

    def finish(self, span: Span) -> None:
        span.end_ns = self.clock()
        if self.sink is not None:
            self.sink(span)

    def record(self, name: str, start_ns: int, end_ns: int, parent: TraceContext | None = None,
               layer: str | None = None, measured_by: str | None = None, **attributes: Any) -> Span | None:
        """A span measured elsewhere (a runtime's reported phase, a real component timed from outside)."""
        if not self.active(parent):
            return None
        parent = parent or _current.get()
        span = Span(parent.trace_id if parent else new_trace_id(), new_span_id(),
                    parent.span_id if parent else None, layer or self.layer, name, start_ns, end_ns,
                    attributes, measured_by=measured_by)
        if self.sink is not None:
            self.sink(span)
        return span

    def traced(self, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: the function's every call is a span named after it (or `name`)."""
        import functools

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            span_name = name or func.__name__
            if func.__code__.co_flags & _CO_COROUTINE:
                @functools.wraps(func)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    with self.span(span_name):
                        return await func(*args, **kwargs)
                return async_wrapper

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self.span(span_name):
                    return func(*args, **kwargs)
            return wrapper

        return decorate
