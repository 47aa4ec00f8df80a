"""`whale trace`: where a container's start-up time went, through every layer: each trace that touched
the container drawn as a waterfall (or, with --format json, its spans)."""

from __future__ import annotations

import json

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import FlagSet, Options


def flags(fs: FlagSet) -> None:
    fs.string("format", "f", "Format the output: waterfall (default) or json")
    fs.int("width", help="Width of the waterfall in columns", default=100)
    fs.bool("help", help="Print usage")


def run_trace(cli: Cli, opts: Options, args: list[str]) -> None:
    from corelib.client.errors import APIError

    try:
        spans = cli.client.get_json(f"/containers/{args[0]}/trace") or []
    except APIError as e:
        if e.is_not_found and "page not found" in e.message:
            raise StatusError(1, "Error: this daemon keeps no traces (whaled does; the real dockerd does not)") \
                from None
        raise
    if opts.format == "json":
        cli.out.write(json.dumps(spans, indent=2) + "\n")
        return
    if opts.format not in ("", "waterfall"):
        raise StatusError(125, f"unknown format {opts.format!r}: use waterfall or json")
    from corelib.trace.span import Span
    from corelib.trace.waterfall import render_waterfall

    traces: dict[str, list[Span]] = {}
    for data in spans:
        span = Span.from_dict(data)
        traces.setdefault(span.trace_id, []).append(span)
    for trace in sorted(traces.values(), key=lambda t: min(s.start_ns for s in t)):
        cli.out.write(render_waterfall(trace, width=opts.width) + "\n")
    if traces:
        cli.out.write("* measured from the layer next to it (a real component records no spans)\n")


COMMAND = CommandSpec(name="trace", use="trace [OPTIONS] CONTAINER",
                      short="Show where a container's lifecycle time went, layer by layer", run=run_trace,
                      flags=flags, args=("exact", 1))
