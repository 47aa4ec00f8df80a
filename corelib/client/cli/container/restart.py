"""`whale restart`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.container._parallel import for_each_container
from corelib.client.cli.container.stop import flags, timeout_of
from corelib.client.cli.flags import Options


def run_restart(cli: Cli, opts: Options, args: list[str]) -> None:
    timeout = timeout_of(opts)
    for_each_container(cli, args, lambda name: cli.client.restart(name, timeout), parallel=False)


COMMAND = CommandSpec(name="restart", use="restart [OPTIONS] CONTAINER [CONTAINER...]",
                      short="Restart one or more containers", run=run_restart, flags=flags, args=("min", 1))
