"""`whale stop`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.container._parallel import for_each_container
from corelib.client.cli.flags import FlagSet, Options


def flags(fs: FlagSet) -> None:
    fs.int("timeout", "t", "Seconds to wait before killing the container", dest="time")
    fs.int("time", help="Seconds to wait before killing the container", hidden=True)


def timeout_of(opts: Options) -> int | None:
    return opts.time if {"time", "timeout"} & opts.changed else None


def run_stop(cli: Cli, opts: Options, args: list[str]) -> None:
    timeout = timeout_of(opts)
    for_each_container(cli, args, lambda name: cli.client.stop(name, timeout))


COMMAND = CommandSpec(name="stop", use="stop [OPTIONS] CONTAINER [CONTAINER...]",
                      short="Stop one or more running containers", run=run_stop, flags=flags, args=("min", 1))
