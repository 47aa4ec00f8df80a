"""`whale inspect` and the inspector container and image inspect share (docker/cli's cli/command/inspect):
the daemon's JSON re-indented as sent, or a Go template applied to each object."""

from __future__ import annotations

import json
from collections.abc import Callable

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.errors import APIError

GetRef = Callable[[str], bytes]


def inspect(cli: Cli, refs: list[str], fmt: str, get_ref: GetRef) -> None:
    from corelib.client.cli.formatter import format_template
    from corelib.client.cli.formatter.templates import TemplateError

    template = format_template(fmt) if fmt else None
    raws, out, errors = [], [], []
    for ref in refs:
        try:
            raw = get_ref(ref)
            if template is None:
                raws.append(raw.decode("utf-8", "replace").strip())
            else:
                out.append(template.execute(json.loads(raw)) + "\n")
        except (APIError, LookupError, TemplateError) as e:
            errors.append(str(e))
    if template is None:
        from corelib.client.cli.formatter.jsonfmt import indent

        cli.out.write(indent("[" + ",".join(raws) + "]") + "\n" if raws else "[]\n")
    else:
        cli.out.write("".join(out) or "\n")
    if errors:
        raise StatusError(1, "\n".join(errors))


def flags(fs: FlagSet) -> None:
    fs.string("format", "f", "Format output using a custom template")
    fs.bool("size", "s", "Display total file sizes if the type is container")
    fs.string("type", help="Only inspect objects of the given type")


def run_inspect(cli: Cli, opts: Options, args: list[str]) -> None:
    if opts.type not in ("", "container", "image"):
        raise StatusError(1, f'"{opts.type}" is not a valid value for --type')

    def get_ref(ref: str) -> bytes:
        if opts.type in ("", "container"):
            try:
                return cli.client.inspect_container_raw(ref, size=opts.size)
            except APIError as e:
                if opts.type or not e.is_not_found:
                    raise
        try:
            return cli.client.inspect_image_raw(ref)
        except APIError as e:
            if opts.type or not e.is_not_found:
                raise
        raise LookupError(f"Error: No such object: {ref}")

    inspect(cli, args, opts.format, get_ref)


COMMAND = CommandSpec(name="inspect", use="inspect [OPTIONS] NAME|ID [NAME|ID...]",
                      short="Return low-level information on Docker objects", run=run_inspect, flags=flags,
                      args=("min", 1))
