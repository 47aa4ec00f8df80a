"""`whale unpause`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.container._parallel import for_each_container
from corelib.client.cli.flags import Options


def run_unpause(cli: Cli, opts: Options, args: list[str]) -> None:
    for_each_container(cli, args, cli.client.unpause)


COMMAND = CommandSpec(name="unpause", use="unpause CONTAINER [CONTAINER...]",
                      short="Unpause all processes within one or more containers", run=run_unpause,
                      args=("min", 1))
