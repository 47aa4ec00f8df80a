"""`whale top`: the processes of a container, as its ps shows them."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.flags import Options
from corelib.client.cli.formatter.tabwriter import tabulate


def run_top(cli: Cli, opts: Options, args: list[str]) -> None:
    procs = cli.client.top(args[0], " ".join(args[1:]) or None)
    lines = ["\t".join(procs.get("Titles") or [])] + ["\t".join(p) for p in procs.get("Processes") or []]
    cli.out.write(tabulate("".join(line + "\n" for line in lines), minwidth=20))


COMMAND = CommandSpec(name="top", use="top CONTAINER [ps OPTIONS]",
                      short="Display the running processes of a container", run=run_top, args=("min", 1),
                      interspersed=False)
