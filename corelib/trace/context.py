"""W3C Trace Context (`traceparent`): one client command is one trace, carried across every process."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

TRACEPARENT = "traceparent"
TRACEPARENT_ENV = "TRACEPARENT"
_FORMAT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str
    sampled: bool = True

    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The context a `traceparent` value names, or None for a missing or malformed one (never an error:
    a bad header from a client must not fail its request)."""
    if not value:
        return None
    match = _FORMAT.match(value.strip().lower())
    if not match:
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceContext(trace_id, span_id, bool(int(flags, 16) & 1))
