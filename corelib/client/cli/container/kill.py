"""`whale kill`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.container._parallel import for_each_container
from corelib.client.cli.flags import FlagSet, Options


def flags(fs: FlagSet) -> None:
    fs.string("signal", "s", "Signal to send to the container")


def run_kill(cli: Cli, opts: Options, args: list[str]) -> None:
    for_each_container(cli, args, lambda name: cli.client.kill(name, opts.signal or None))


COMMAND = CommandSpec(name="kill", use="kill [OPTIONS] CONTAINER [CONTAINER...]",
                      short="Kill one or more running containers", run=run_kill, flags=flags, args=("min", 1))
