"""`whale rename`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import Options


def run_rename(cli: Cli, opts: Options, args: list[str]) -> None:
    old, new = args[0].strip(), args[1].strip()
    if not old or not new:
        raise StatusError(1, "Error: Neither old nor new names may be empty")
    try:
        cli.client.rename(old, new)
    except Exception as e:  # noqa: BLE001
        cli.err.println(str(e))
        raise StatusError(1, f"Error: failed to rename container named {old}") from None


COMMAND = CommandSpec(name="rename", use="rename CONTAINER NEW_NAME", short="Rename a container",
                      run=run_rename, args=("exact", 2))
