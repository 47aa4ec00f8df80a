"""Spans and the one small hook every layer records them through.

A `Tracer` belongs to a layer (client, daemon, containerd, shim, runc) and hands each finished span to
its sink: the daemon stores them, containerd and the shim publish them as events, whale-runc writes
them to its JSON log, the client sends them to the daemon. The current span travels in a context
variable, so nesting follows the code, in threads and asyncio tasks alike. Standard library only:
whale-runc imports this on its hot path.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from corelib.trace.context import TraceContext, new_span_id, new_trace_id

LAYERS = ("client", "daemon", "containerd", "shim", "runc")

_current: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar("whalebone_trace", default=None)

F = TypeVar("F", bound=Callable[..., Any])
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    layer: str
    name: str
    start_ns: int
    end_ns: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    measured_by: str | None = None  # set when another layer measured this one from outside

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    @property
    def context(self) -> TraceContext:
        return TraceContext(self.trace_id, self.span_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Span:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def current_context() -> TraceContext | None:
    """The context of the innermost open span (or the one adopted from a caller)."""
    return _current.get()


@contextmanager
def adopt(context: TraceContext | None) -> Iterator[None]:
    """Make a caller's context (from a header, metadata or the environment) the parent of what follows."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


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

    @contextmanager
    def span(self, name: str, parent: TraceContext | None = None, **attributes: Any) -> Iterator[Span | None]:
        if not self.active(parent):
            yield None
            return
        span = self.start(name, parent, **attributes)
        token = _current.set(span.context)
        try:
            yield span
        except BaseException as exc:
            span.status = "error"
            span.attributes.setdefault("error", str(exc) or type(exc).__name__)
            raise
        finally:
            _current.reset(token)
            self.finish(span)

    def start(self, name: str, parent: TraceContext | None = None, **attributes: Any) -> Span:
        """Open a span without making it current (for spans that end in another task or callback)."""
        parent = parent or _current.get()
        return Span(
            trace_id=parent.trace_id if parent else new_trace_id(),
            span_id=new_span_id(),
            parent_id=parent.span_id if parent else None,
            layer=self.layer,
            name=name,
            start_ns=self.clock(),
            attributes=dict(attributes),
        )

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
        span = Span(trace_id=parent.trace_id if parent else new_trace_id(), span_id=new_span_id(),
                    parent_id=parent.span_id if parent else None, layer=layer or self.layer, name=name,
                    start_ns=start_ns, end_ns=end_ns, attributes=dict(attributes), measured_by=measured_by)
        if self.sink is not None:
            self.sink(span)
        return span

    def traced(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator: the function's every call is a span named after it (or `name`)."""

        def decorate(func: F) -> F:
            span_name = name or func.__name__
            if func.__code__.co_flags & _CO_COROUTINE:
                @functools.wraps(func)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    with self.span(span_name):
                        return await func(*args, **kwargs)
                return async_wrapper  # type: ignore[return-value]

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self.span(span_name):
                    return func(*args, **kwargs)
            return wrapper  # type: ignore[return-value]

        return decorate
