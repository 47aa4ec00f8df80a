"""`whale rm`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.container._parallel import for_each_container
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.errors import APIError


def flags(fs: FlagSet) -> None:
    fs.bool("force", "f", "Force the removal of a running container (uses SIGKILL)")
    fs.bool("link", "l", "Remove the specified link")
    fs.bool("volumes", "v", "Remove anonymous volumes associated with the container")


def run_rm(cli: Cli, opts: Options, args: list[str]) -> None:
    def remove(name: str) -> None:
        name = name.strip("/")
        if not name:
            raise ValueError("container name cannot be empty")
        cli.client.remove_container(name, v=opts.volumes, link=opts.link, force=opts.force)

    # With --force a container that is not there is reported, not an error (exit status 0).
    for_each_container(cli, args, remove,
                       ignore=lambda e: opts.force and isinstance(e, APIError) and e.is_not_found)


COMMAND = CommandSpec(name="rm", use="rm [OPTIONS] CONTAINER [CONTAINER...]",
                      short="Remove one or more containers", run=run_rm, flags=flags, args=("min", 1))
