"""`whale events`: the daemon's event stream, one line per event (or --format)."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.container.list import parse_filters
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.cli.formatter.gotime import rfc3339_nano_fixed
from corelib.client.cli.timetypes import get_timestamp


def flags(fs: FlagSet) -> None:
    fs.list("filter", "f", "Filter output based on conditions provided")
    fs.string("format", help="Format output using a custom template")
    fs.string("since", help="Show all events created since timestamp")
    fs.string("until", help="Stream events until this timestamp")


def pretty_event(event: dict) -> str:
    """prettyPrintEvent: time, type, action, actor ID, then the attributes sorted by key."""
    parts = []
    if event.get("timeNano"):
        parts.append(rfc3339_nano_fixed(event["timeNano"]) + " ")
    elif event.get("time"):
        parts.append(rfc3339_nano_fixed(event["time"] * 1_000_000_000) + " ")
    actor = event.get("Actor") or {}
    parts.append(f"{event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}")
    attributes = actor.get("Attributes") or {}
    if attributes:
        parts.append(" (" + ", ".join(f"{k}={attributes[k]}" for k in sorted(attributes)) + ")")
    return "".join(parts) + "\n"


def run_events(cli: Cli, opts: Options, args: list[str]) -> None:
    from corelib.client.cli.formatter import format_template

    template = format_template(opts.format, "Error parsing format") if opts.format else None
    try:
        since, until = get_timestamp(opts.since), get_timestamp(opts.until)
        filters = parse_filters(opts.filter)
    except ValueError as e:
        raise StatusError(1, str(e)) from None
    resp = cli.client.events(since, until, filters)
    for event in resp.iter_json():
        cli.out.write(pretty_event(event) if template is None else template.execute(event) + "\n")


COMMAND = CommandSpec(name="events", use="events [OPTIONS]", short="Get real time events from the server",
                      run=run_events, flags=flags, args=("none",))
