"""Reading a trace: its tree, whether children sit inside their parents, and how much of the root's time
its spans explain."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from corelib.trace.span import Span


@dataclass
class Node:
    span: Span
    children: list[Node]
    depth: int


def build_tree(spans: Iterable[Span]) -> list[Node]:
    """Roots (spans whose parent is not in the trace) with their children, each level by start time."""
    spans = list(spans)
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = defaultdict(list)
    for span in spans:
        children[span.parent_id if span.parent_id in ids else None].append(span)

    def grow(span: Span, depth: int) -> Node:
        kids = sorted(children.get(span.span_id, []), key=lambda s: (s.start_ns, s.name))
        return Node(span, [grow(k, depth + 1) for k in kids], depth)

    return [grow(root, 0) for root in sorted(children.get(None, []), key=lambda s: s.start_ns)]


def walk(nodes: Iterable[Node]) -> Iterable[Node]:
    for node in nodes:
        yield node
        yield from walk(node.children)


def nesting_violations(spans: Iterable[Span], slack_ns: int = 0) -> list[str]:
    """Children that start before or end after their parent (beyond `slack_ns`, for clocks read in
    different processes). A span marked `follows_from` (an exit following the start that began the
    process) is caused by its parent, not contained in it, and is not checked."""
    problems = []
    for node in walk(build_tree(spans)):
        parent = node.span
        for child in node.children:
            c = child.span
            if c.attributes.get("follows_from"):
                continue
            if c.start_ns < parent.start_ns - slack_ns or c.end_ns > parent.end_ns + slack_ns:
                problems.append(f"{c.layer}/{c.name} is not inside {parent.layer}/{parent.name}")
    return problems


def covered_ns(intervals: Iterable[tuple[int, int]]) -> int:
    """Length of the union of [start, end) intervals."""
    total, current_start, current_end = 0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += current_end - current_start
    return total


def unexplained_gaps(node: Node) -> list[tuple[Node, float]]:
    """For every span with children, the share of its time that none of its children covers."""
    result = []
    for n in walk([node]):
        if n.children and n.span.duration_ns > 0:
            covered = covered_ns((c.span.start_ns, c.span.end_ns) for c in n.children)
            result.append((n, 1 - covered / n.span.duration_ns))
    return result
