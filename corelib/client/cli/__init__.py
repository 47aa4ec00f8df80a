"""The `whale` command line: `parse` (argv -> Invocation, pure: it raises StatusError with docker's
message instead of exiting) and `execute` (runs it against given streams, returns the exit status).
The notebook's `%container` magic uses both, with its own streams.

    >>> inv = parse(["run", "--rm", "busybox", "true"])
    >>> inv.path, inv.args, inv.options.rm
    ('whale run', ['busybox', 'true'], True)
"""

from __future__ import annotations

import importlib
import sys

from corelib.client.cli.command import PROG, Cli, CommandSpec, StatusError, check_args, usage_error
from corelib.client.cli.flags import FlagError, FlagSet, Options

TYPE_CHECKING = False  # typing itself is not imported: it costs the CLI's start-up time
if TYPE_CHECKING:
    from typing import IO

_C, _I, _S = "corelib.client.cli.container.", "corelib.client.cli.image.", "corelib.client.cli.system."

# Top-level commands, docker's shortcuts, and the management commands' subcommands: module paths,
# imported only when run, so start-up pays for one command.
COMMANDS = {
    "attach": _C + "attach", "create": _C + "create", "exec": _C + "exec", "kill": _C + "kill",
    "logs": _C + "logs", "pause": _C + "pause", "ps": _C + "list", "rename": _C + "rename",
    "restart": _C + "restart", "rm": _C + "rm", "run": _C + "run", "start": _C + "start", "stop": _C + "stop",
    "top": _C + "top", "trace": _C + "trace", "unpause": _C + "unpause", "wait": _C + "wait",
    "images": _I + "list", "import": _I + "import_", "load": _I + "load", "pull": _I + "pull",
    "rmi": _I + "remove", "save": _I + "save", "tag": _I + "tag",
    "events": _S + "events", "info": _S + "info", "version": _S + "version",
    "inspect": "corelib.client.cli.inspect",
}
MANAGEMENT = {
    "container": {**{name: COMMANDS[name] for name in (
        "attach", "create", "exec", "kill", "logs", "pause", "rename", "restart", "rm", "run", "start", "stop",
        "top", "trace", "unpause", "wait")}, "ls": _C + "list", "list": _C + "list", "ps": _C + "list",
        "inspect": _C + "inspect"},
    "image": {"import": _I + "import_", "load": _I + "load", "pull": _I + "pull", "save": _I + "save",
              "tag": _I + "tag", "ls": _I + "list", "list": _I + "list", "rm": _I + "remove",
              "inspect": _I + "inspect"},
    "system": {"events": _S + "events", "info": _S + "info"},
}


class Invocation:
    """A parsed command line: what to run, its options and arguments, and the global options;
    `help_text` (for --help, or no command) is printed instead of running anything."""

    def __init__(self, path: str, spec: CommandSpec | None, options: Options | None = None,
                 args: list[str] | None = None, host: str | None = None, config_dir: str | None = None,
                 debug: bool = False, help_text: str | None = None):
        self.path, self.spec, self.options, self.args = path, spec, options, args or []
        self.host, self.config_dir, self.debug, self.help_text = host, config_dir, debug, help_text

    def run(self, cli: Cli) -> int | None:
        if self.help_text is not None:
            cli.out.write(self.help_text)
            return 0
        return self.spec.run(cli, self.options, self.args)


def global_flags() -> FlagSet:
    fs = FlagSet(interspersed=False)
    fs.list("host", "H", "Daemon socket to connect to")
    fs.string("config", help="Location of client config files")
    fs.string("context", "c", "Name of the context to use to connect to the daemon")
    fs.bool("debug", "D", "Enable debug mode")
    fs.string("log-level", "l", 'Set the logging level ("debug", "info", "warn", "error", "fatal")', default="info")
    fs.bool("version", "v", "Print version information and quit")
    fs.bool("help", "h", "Print usage")
    return fs


def parse(argv: list[str]) -> Invocation:
    """argv (without the program name) -> Invocation. Raises StatusError for bad usage, with docker's
    message and status (125 for flag errors, 1 for argument counts and unknown commands)."""
    try:
        gopts, rest = global_flags().parse(argv)
    except FlagError as e:
        raise StatusError(125, f"{e}\n\nRun '{PROG} --help' for more information") from None
    base = {"host": gopts.host[-1] if gopts.host else None, "config_dir": gopts.config or None,
            "debug": gopts.debug}
    if gopts.version:
        from corelib.client.cli.system.version import VERSION

        return Invocation(PROG, None, help_text=f"Whale version {VERSION}\n", **base)
    if not rest or gopts.help:
        return Invocation(PROG, None, help_text=main_help(), **base)
    name, rest = rest[0], rest[1:]
    path = f"{PROG} {name}"
    if name in MANAGEMENT:
        if not rest or rest[0] in ("--help", "-h"):
            return Invocation(path, None, help_text=management_help(name), **base)
        sub, rest = rest[0], rest[1:]
        module = MANAGEMENT[name].get(sub)
        path = f"{path} {sub}"
    else:
        module = COMMANDS.get(name)
    if module is None:
        raise StatusError(1, f"{PROG}: unknown command: {path}\n\nRun '{PROG} --help' for more information")
    spec: CommandSpec = importlib.import_module(module).COMMAND
    fs = spec.flagset()
    try:
        opts, args = fs.parse(rest)
    except FlagError as e:
        raise usage_error(spec, path, str(e)) from None
    if opts.help:
        return Invocation(path, spec, opts, args, help_text=command_help(spec, path, fs), **base)
    check_args(spec, path, args)
    return Invocation(path, spec, opts, args, **base)


def command_help(spec: CommandSpec, path: str, fs: FlagSet) -> str:
    usage = " ".join([PROG, *path.split()[1:-1], spec.use])
    aliases = ""
    if spec.aliases:
        names = [path, *(" ".join([*path.split()[:-1], a]) for a in spec.aliases)]
        aliases = "\nAliases:\n  " + ", ".join(names) + "\n"
    return f"\nUsage:  {usage}\n\n{spec.short}\n{aliases}\nOptions:\n{fs.usages()}"


def management_help(name: str) -> str:
    lines = "".join(f"  {sub:<10}{_short(module)}\n" for sub, module in sorted(MANAGEMENT[name].items()))
    return f"\nUsage:  {PROG} {name} COMMAND\n\nManage {name}s\n\nCommands:\n{lines}"


def main_help() -> str:
    lines = "".join(f"  {name:<10}{_short(module)}\n" for name, module in sorted(COMMANDS.items()))
    managed = "".join(f"  {name:<10}Manage {name}s\n" for name in sorted(MANAGEMENT))
    return (f"\nUsage:  {PROG} [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\n"
            f"Management Commands:\n{managed}\nCommands:\n{lines}\nGlobal Options:\n{global_flags().usages()}"
            f"\nRun '{PROG} COMMAND --help' for more information on a command.\n")


def _short(module: str) -> str:
    return importlib.import_module(module).COMMAND.short


def execute(invocation: Invocation, cli: Cli) -> int:
    """Run a parsed command; every failure becomes docker's message on cli.err and an exit status."""
    from corelib.client.errors import APIError
    from corelib.client.transport.dial import DaemonUnreachable
    from corelib.errdefs import WhaleError

    try:
        status = _run_traced(invocation, cli)
    except StatusError as e:
        if e.status:
            cli.err.println(e.status)
        return e.status_code
    except (APIError, DaemonUnreachable, WhaleError, ValueError, LookupError, OSError) as e:
        cli.err.println(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - an error mid-stream (pull, attach): its message, as docker
        if invocation.debug:
            import traceback

            cli.err.write(traceback.format_exc())
        cli.err.println(str(e) or type(e).__name__)
        return 1
    finally:
        cli.hand_in_spans()
        cli.close()
    return status or 0


def _run_traced(invocation: Invocation, cli: Cli) -> int | None:
    """The command as the root span of its trace (the notebook, handing in its own client, makes its own)."""
    if cli.tracer is None or invocation.spec is None or invocation.help_text is not None:
        return invocation.run(cli)
    from corelib.client.tracing import command_name

    with cli.tracer.span(command_name(invocation.path), command=invocation.path):
        return invocation.run(cli)


def run(argv: list[str], stdin: IO | None = None, stdout: IO | None = None, stderr: IO | None = None) -> int:
    """Parse and execute one command line against the given streams (sys's by default)."""
    err = stderr if stderr is not None else sys.stderr
    try:
        invocation = parse(argv)
    except StatusError as e:
        if e.status:
            err.write(e.status + "\n")
            err.flush()
        return e.status_code
    cli = Cli(stdin, stdout, stderr, host=invocation.host, config_dir=invocation.config_dir)
    return execute(invocation, cli)
