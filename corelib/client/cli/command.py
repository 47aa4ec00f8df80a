"""What every command shares: the Cli (streams, the API client, the config file), command specs with
their argument rules, and StatusError (docker/cli's cli.StatusError: a message and an exit status)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable

from corelib.client.cli.flags import FlagSet, Options
from corelib.client.cli.streams import InStream, OutStream
from corelib.client.tracing import CommandTracer

TYPE_CHECKING = False  # typing itself is not imported: it costs the CLI's start-up time
if TYPE_CHECKING:
    from typing import IO

    from corelib.client.api import APIClient
    from corelib.client.config import ConfigFile

PROG = "whale"


class StatusError(Exception):
    """Exit with `status_code`, after printing `status` (if any) on stderr."""

    def __init__(self, status_code: int, status: str = ""):
        super().__init__(status)
        self.status_code = status_code
        self.status = status

    def __str__(self) -> str:
        return self.status


class CommandSpec:
    """One command, as a cobra.Command of docker/cli: its usage line, flags, argument rule
    (("min", n) | ("exact", n) | ("none",) | ("range", lo, hi) | ("any",)) and run."""

    def __init__(self, name: str, use: str, short: str, run: Callable[[Cli, Options, list[str]], int | None],
                 flags: Callable[[FlagSet], None] | None = None, args: tuple = ("any",), interspersed: bool = True,
                 aliases: tuple[str, ...] = ()):
        self.name, self.use, self.short, self.run, self.flags = name, use, short, run, flags
        self.args, self.interspersed, self.aliases = args, interspersed, aliases

    def flagset(self) -> FlagSet:
        fs = FlagSet(interspersed=self.interspersed)
        if self.flags is not None:
            self.flags(fs)
        if fs.lookup("help") is None:
            fs.bool("help", "" if fs.lookup_short("h") else "h", "Print usage", hidden=False)
        return fs


def check_args(spec: CommandSpec, path: str, args: list[str]) -> None:
    """cobra's Args validators, with docker's messages (exit status 1)."""
    rule, *n = spec.args
    if rule == "min" and len(args) < n[0]:
        plural = "argument" if n[0] == 1 else "arguments"
        raise usage_error(spec, path, f"{PROG}: '{path}' requires at least {n[0]} {plural}", "See", 1)
    if rule == "exact" and len(args) != n[0]:
        plural = "argument" if n[0] == 1 else "arguments"
        raise usage_error(spec, path, f"{PROG}: '{path}' requires {n[0]} {plural}", "Run", 1)
    if rule == "range" and not n[0] <= len(args) <= n[1]:
        raise usage_error(spec, path, f"{PROG}: '{path}' requires at least {n[0]} and at most {n[1]} arguments",
                          "See", 1)
    if rule == "none" and args:
        raise usage_error(spec, path, f"{PROG}: '{path}' accepts no arguments", "Run", 1)


def usage_error(spec: CommandSpec, path: str, message: str, verb: str = "Run", status: int = 125) -> StatusError:
    usage = " ".join([PROG, *path.split()[1:-1], spec.use])
    return StatusError(status, f"{message}\n\nUsage:  {usage}\n\n{verb} '{path} --help' for more information")


def with_help(message: str, command: str) -> str:
    """docker's withHelp: `docker: <err>` and where to look, for run and create failures."""
    return f"{PROG}: {message}\n\nRun '{PROG} {command} --help' for more information"


class Cli:
    """The streams a command reads and writes, and the daemon it talks to (DockerCli of docker/cli).

    Anything file-like works as a stream (a notebook passes its own); nothing touches sys.stdout
    directly. The API client and the config file are made when first used."""

    def __init__(self, stdin: IO | None = None, stdout: IO | None = None, stderr: IO | None = None,
                 host: str | None = None, config_dir: str | None = None, client: APIClient | None = None):
        self.in_ = InStream(stdin if stdin is not None else sys.stdin)
        self.out = OutStream(stdout if stdout is not None else sys.stdout)
        self.err = OutStream(stderr if stderr is not None else sys.stderr)
        self.host = host or os.environ.get("WHALE_HOST") or None
        self.config_dir = config_dir
        self._client = client
        # A client handed in brings its own tracing (the notebook's); one made here traces the command.
        self.tracer: CommandTracer | None = None if client is not None else CommandTracer()
        self._config: ConfigFile | None = None

    @property
    def client(self) -> APIClient:
        if self._client is None:
            from corelib.client.api import APIClient

            try:
                self._client = APIClient(self.host, tracer=self.tracer)
            except ValueError as e:
                raise StatusError(1, f"Failed to initialize: unable to resolve docker endpoint: {e}") from None
        return self._client

    @property
    def daemon_host(self) -> str:
        return self.client.host

    @property
    def config_file(self) -> ConfigFile:
        if self._config is None:
            from corelib.client.config import load_config

            self._config = load_config(self.config_dir, warn=self.err.println)
        return self._config

    def span(self, name: str, **attributes: object) -> object:
        """`with cli.span("runContainer"):` one of the command's steps, a span of its trace."""
        return self.client.span(name, **attributes)

    def hand_in_spans(self) -> None:
        """Give the command's spans to the daemon, which keeps them with the rest of the trace. A daemon
        that keeps none (the real dockerd: 404) or any other failure costs nothing but this attempt."""
        if self.tracer is None or not self.tracer.spans or self._client is None:
            return
        spans, self.tracer.spans[:] = [s.to_dict() for s in self.tracer.spans], []
        with contextlib.suppress(Exception):  # tracing must never fail a command
            self._client.post_spans(spans)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
