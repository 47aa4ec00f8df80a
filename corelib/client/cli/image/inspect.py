"""`whale image inspect`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.cli.inspect import inspect


def flags(fs: FlagSet) -> None:
    fs.string("format", "f", "Format output using a custom template")


def run_inspect(cli: Cli, opts: Options, args: list[str]) -> None:
    inspect(cli, args, opts.format, cli.client.inspect_image_raw)


COMMAND = CommandSpec(name="inspect", use="inspect [OPTIONS] IMAGE [IMAGE...]",
                      short="Display detailed information on one or more images", run=run_inspect, flags=flags,
                      args=("min", 1))
