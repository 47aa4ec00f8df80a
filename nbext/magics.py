"""`%container` and `%%container`: a thin shell over the `whale` CLI. Its parser reads the line, its
commands run against the notebook's streams (so `run` streams into the cell as the output comes),
with a client whose requests are spans of the session's traces. Only what a notebook adds is here:
`timings`, `trace` and a live `events`, and the cell body as a script (`%%container run|exec`)."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import sys
from dataclasses import dataclass
from typing import IO, Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from corelib.client.cli import command_help, execute, main_help, parse
from corelib.client.cli.command import PROG, Cli, CommandSpec, StatusError, check_args, usage_error
from corelib.client.cli.flags import FlagError, FlagSet, Options
from corelib.trace.waterfall import render_waterfall
from nbext.notebook import Session

CELL_COMMANDS = ("run", "exec")  # what `%%container` feeds the cell body to, on stdin
DEFAULT_SHELL = "sh"


@dataclass
class RunResult:
    """What a `%container run|exec` or `%%container` left: its exit status, what it printed, and the
    container it created (or ran in)."""

    command: str
    exit_code: int
    output: str = ""
    stdout: str = ""
    stderr: str = ""
    container_id: str | None = None

    def __repr__(self) -> str:
        container = f", container {self.container_id[:12]}" if self.container_id else ""
        return f"<{self.command}: exit status {self.exit_code}{container}>"

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        printer.text(repr(self))


class _CellStream(io.TextIOBase):
    """A command's stdout or stderr: written through to the cell's stream as it comes, and kept."""

    def __init__(self, target: IO[str], kept: list[tuple[str, str]], name: str):
        self.target, self.kept, self.name = target, kept, name

    def write(self, text: str) -> int:
        self.kept.append((self.name, text))
        self.target.write(text)
        return len(text)

    def flush(self) -> None:
        self.target.flush()


# -- the notebook's own commands, parsed with the CLI's flag machinery --------------------------------

def _timings_flags(fs: FlagSet) -> None:
    fs.bool("all", "a", "Every trace this notebook saw, not one container's")


def _trace_flags(fs: FlagSet) -> None:
    fs.string("format", help='Print instead of drawing: "text" (a waterfall) or "json" (the spans)')


NOTEBOOK_COMMANDS = {
    "timings": CommandSpec("timings", "timings [OPTIONS] [CONTAINER]", "One row per span as a DataFrame",
                           run=None, flags=_timings_flags, args=("range", 0, 1)),
    "trace": CommandSpec("trace", "trace [OPTIONS] CONTAINER", "Draw a container's lifecycle timeline",
                         run=None, flags=_trace_flags, args=("exact", 1)),
}


def parse_notebook_command(argv: list[str]) -> tuple[str, Options, list[str]]:
    name, rest = argv[0], argv[1:]
    spec, path = NOTEBOOK_COMMANDS[name], f"{PROG} {name}"
    fs = spec.flagset()
    try:
        opts, args = fs.parse(rest)
    except FlagError as e:
        raise usage_error(spec, path, str(e)) from None
    if opts.help:
        raise StatusError(0, command_help(spec, path, fs))
    check_args(spec, path, args)
    return name, opts, args


def notebook_help() -> str:
    lines = "".join(f"  {name:<10}{spec.short}\n" for name, spec in NOTEBOOK_COMMANDS.items())
    return (main_help() + f"\nIn a notebook, also:\n{lines}  events    (no options) a live event log\n"
            "\n%%container run [OPTIONS] IMAGE [SHELL]   runs the cell as a script in a new container\n"
            "%%container exec [OPTIONS] CONTAINER [SHELL]   runs it in a running one\n")


@magics_class
class ContainerMagics(Magics):
    def __init__(self, shell: Any, session: Session):
        super().__init__(shell)
        self.session = session

    @line_cell_magic
    def container(self, line: str, cell: str | None = None) -> Any:
        """%container COMMAND [ARGS]: the whale CLI in the notebook; `%container --help` lists it all."""
        try:
            argv = shlex.split(line)
        except ValueError as e:
            return self._fail(f"{PROG}: {e}")
        if not argv or argv in (["--help"], ["-h"]):
            print(notebook_help(), end="")
            return None
        if cell is not None:
            return self._cell(argv, cell)
        if argv[0] in NOTEBOOK_COMMANDS:
            return self._notebook_command(argv)
        if argv == ["events"]:
            return self.session.event_log()
        return self._whale(argv, line, stdin=io.BytesIO())

    # -- whale's commands --------------------------------------------------------------------------

    def _whale(self, argv: list[str], line: str, stdin: IO[bytes]) -> RunResult | None:
        if argv[0] == "run" and not any(a.startswith("--sig-proxy") for a in argv):
            # A kernel interrupt must not reach whale's signal forwarding (three of them end the
            # process: here, the kernel); the magic kills the container itself.
            argv = [argv[0], "--sig-proxy=false", *argv[1:]]
        try:
            invocation = parse(argv)
        except StatusError as e:
            return self._fail(e.status)
        client = self.session.command_client(invocation.host)
        kept: list[tuple[str, str]] = []
        cli = Cli(stdin, _CellStream(sys.stdout, kept, "stdout"), _CellStream(sys.stderr, kept, "stderr"),
                  host=client.host, client=client)
        with client.command(invocation.path, line):
            status = execute(invocation, cli)
        if status == 130 and client.created:
            _kill_quietly(self.session, client.created[-1])
        if client.created:
            self.session.last_container = client.created[-1]
        if invocation.spec is None or invocation.spec.name not in CELL_COMMANDS or invocation.help_text:
            return None
        if client.created:
            container = client.created[-1]
        else:  # exec: the container it ran in
            container = invocation.args[0] if invocation.spec.name == "exec" else None
        return RunResult(f"{PROG} {invocation.spec.name}", status, "".join(text for _, text in kept),
                         _joined(kept, "stdout"), _joined(kept, "stderr"), container)

    def _cell(self, argv: list[str], cell: str) -> RunResult | None:
        if argv[0] not in CELL_COMMANDS:
            return self._fail(f"{PROG}: %%container takes {' or '.join(CELL_COMMANDS)}, not '{argv[0]}'")
        try:
            args = parse(argv).args
        except StatusError as e:
            return self._fail(e.status)
        argv = [argv[0], "--interactive", *argv[1:]]
        if len(args) == 1:  # IMAGE (or CONTAINER) alone: the default shell reads the script
            argv.append(DEFAULT_SHELL)
        return self._whale(argv, f"{' '.join(argv)} <<cell", stdin=io.BytesIO(cell.encode()))

    # -- the notebook's own ------------------------------------------------------------------------

    def _notebook_command(self, argv: list[str]) -> Any:
        try:
            name, opts, args = parse_notebook_command(argv)
        except StatusError as e:
            if e.status_code == 0:
                print(e.status, end="")
                return None
            return self._fail(e.status)
        if name == "timings":
            return self.session.timings(args[0] if args else None, all_traces=opts.all)
        if opts.format == "":
            return self.session.timeline(args[0])
        spans = self.session.spans_of(args[0])
        if opts.format == "json":
            print(json.dumps([s.to_dict() for s in spans], indent=1))
        elif opts.format == "text":
            print(render_waterfall(spans), end="")
        else:
            return self._fail(f'{PROG}: unknown format "{opts.format}": "text" or "json"')
        return None

    @staticmethod
    def _fail(message: str) -> None:
        print(message, file=sys.stderr)
        return None


def _joined(kept: list[tuple[str, str]], stream: str) -> str:
    return "".join(text for name, text in kept if name == stream)


def _kill_quietly(session: Session, container: str) -> None:
    client = session.client()
    with contextlib.suppress(Exception):
        client.kill(container)
    client.close()
