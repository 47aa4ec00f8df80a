"""`whale pause`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.container._parallel import for_each_container
from corelib.client.cli.flags import Options


def run_pause(cli: Cli, opts: Options, args: list[str]) -> None:
    for_each_container(cli, args, cli.client.pause)


COMMAND = CommandSpec(name="pause", use="pause CONTAINER [CONTAINER...]",
                      short="Pause all processes within one or more containers", run=run_pause, args=("min", 1))
