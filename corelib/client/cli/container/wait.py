"""`whale wait`: block until containers stop, print their exit codes."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import Options


def run_wait(cli: Cli, opts: Options, args: list[str]) -> None:
    errors = []
    for name in args:
        try:
            result = cli.client.wait_result(cli.client.wait(name))
        except Exception as e:  # noqa: BLE001
            errors.append(str(e))
            continue
        if result.get("Error"):
            errors.append(str(result["Error"].get("Message", "")))
            continue
        cli.out.println(str(result.get("StatusCode", 0)))
    if errors:
        raise StatusError(1, "\n".join(errors))


COMMAND = CommandSpec(name="wait", use="wait CONTAINER [CONTAINER...]",
                      short="Block until one or more containers stop, then print their exit codes",
                      run=run_wait, args=("min", 1))
