"""`whale container inspect`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.cli.inspect import inspect


def flags(fs: FlagSet) -> None:
    fs.string("format", "f", "Format output using a custom template")
    fs.bool("size", "s", "Display total file sizes")


def run_inspect(cli: Cli, opts: Options, args: list[str]) -> None:
    inspect(cli, args, opts.format, lambda ref: cli.client.inspect_container_raw(ref, size=opts.size))


COMMAND = CommandSpec(name="inspect", use="inspect [OPTIONS] CONTAINER [CONTAINER...]",
                      short="Display detailed information on one or more containers", run=run_inspect,
                      flags=flags, args=("min", 1))
