"""W3C Trace Context (`traceparent`): one client command is one trace, carried across every process.
Parsed by hand, not with `re`: a shim per container and every CLI start import this."""

from __future__ import annotations

import os

TRACEPARENT = "traceparent"
TRACEPARENT_ENV = "TRACEPARENT"
_HEX = frozenset("0123456789abcdef")


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


class TraceContext:
    __slots__ = ("trace_id", "span_id", "sampled")

    def __init__(self, trace_id: str, span_id: str, sampled: bool = True):
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled

    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TraceContext) and (self.trace_id, self.span_id, self.sampled) == (
            other.trace_id, other.span_id, other.sampled)

    def __hash__(self) -> int:
        return hash((self.trace_id, self.span_id))

    def __repr__(self) -> str:
        return f"TraceContext({self.traceparent()!r})"


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The context a `traceparent` value names, or None for a missing or malformed one (never an error:
    a bad header from a client must not fail its request)."""
    if not value:
        return None
    parts = value.strip().lower().split("-")
    if len(parts) != 4 or parts[0] != "00":
        return None
    _, trace_id, span_id, flags = parts
    if (len(trace_id), len(span_id), len(flags)) != (32, 16, 2) or not _HEX.issuperset(trace_id + span_id + flags):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceContext(trace_id, span_id, bool(int(flags, 16) & 1))
