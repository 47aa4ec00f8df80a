"""A trace drawn as a waterfall in the terminal: one row per span, indented by depth, a bar placed on
the trace's time axis."""

from __future__ import annotations

from collections.abc import Iterable

from corelib.trace.analysis import build_tree, walk
from corelib.trace.span import Span

BAR, HALF = "█", "▌"


def render_waterfall(spans: Iterable[Span], width: int = 100) -> str:
    spans = list(spans)
    if not spans:
        return "no spans\n"
    t0 = min(s.start_ns for s in spans)
    total = max(max(s.end_ns for s in spans) - t0, 1)
    label_width = min(48, max(len(s.name) + 2 * depth for s, depth in _rows(spans)) + 1)
    bar_width = max(10, width - label_width - 24)
    lines = [f"trace {spans[0].trace_id}  {total / 1e6:.1f} ms"]
    for span, depth in _rows(spans):
        label = ("  " * depth + span.name)[:label_width].ljust(label_width)
        lines.append(f"{span.layer:<10} {label} {_bar(span, t0, total, bar_width)} {_ms(span)}")
    return "\n".join(lines) + "\n"


def _rows(spans: list[Span]) -> list[tuple[Span, int]]:
    return [(node.span, node.depth) for node in walk(build_tree(spans))]


def _bar(span: Span, t0: int, total: int, width: int) -> str:
    start = (span.start_ns - t0) / total * width
    length = max(span.duration_ns / total * width, 0.5)
    cells = [" "] * width
    first = int(start)
    for i in range(first, min(width, int(start + length))):
        cells[i] = BAR
    if first < width and cells[first] == " ":
        cells[first] = HALF
    return "|" + "".join(cells) + "|"


def _ms(span: Span) -> str:
    mark = "*" if span.measured_by else " "
    return f"{span.duration_ns / 1e6:8.2f} ms{mark}"
