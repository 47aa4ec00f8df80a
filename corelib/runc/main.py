"""whale-runc: runc's command line. Global flags, then one module per command, imported only when
that command runs (start-up time is what the hot path pays for), and errors worded as runc words them."""

import os
import sys

from corelib.runc import cli
from corelib.runc.errors import RuncError, UsageError, describe
from corelib.runc.logs import Logger

VERSION = "1.1.5"
SPEC_VERSION = "1.0.2-dev"

COMMANDS = {
    "create": "create a container",
    "delete": "delete any resources held by the container often used with detached container",
    "exec": "execute new process inside the container",
    "kill": "kill sends the specified signal (default: SIGTERM) to the container's init process",
    "list": "lists containers started by runc with the given root",
    "pause": "pause suspends all processes inside the container",
    "ps": "ps displays the processes running inside a container",
    "resume": "resumes all processes that have been previously paused",
    "run": "create and run a container",
    "spec": "create a new specification file",
    "start": "executes the user defined process in a created container",
    "state": "output the state of a container",
    "update": "update container resource constraints",
    "features": "show the enabled features",
}

GLOBAL_FLAGS = (
    cli.Flag("debug", bool, False, "enable debug logging"),
    cli.Flag("log", str, "", "set the log file to write runc logs to (default is '/dev/stderr')"),
    cli.Flag("log-format", str, "text", "set the log format ('text' (default), or 'json')"),
    cli.Flag("root", str, "", "root directory for storage of container state (default: \"/run/whale-runc\")"),
    cli.Flag("criu", str, "criu", "path to the criu binary (checkpoint/restore is not supported)"),
    cli.Flag("systemd-cgroup", bool, False, "enable systemd cgroup support (not supported by whale-runc)"),
    cli.Flag("rootless", str, "auto", "ignore cgroup permission errors ('true', 'false', or 'auto')"),
    cli.Flag("version, v", bool, False, "print the version"),
)


class Context:
    """The global flags, as every command sees them."""

    def __init__(self, opts: dict, logger: Logger):
        self.log_path: str = opts["log"]
        self.log_format: str = opts["log-format"]
        self.debug: bool = opts["debug"]
        self.systemd_cgroup: bool = opts["systemd-cgroup"]
        self.rootless_flag: str = opts["rootless"]
        self.logger = logger
        self.root = os.path.abspath(opts["root"] or default_root())

    @property
    def rootless_euid(self) -> bool:
        return os.geteuid() != 0

    @property
    def rootless_cgroups(self) -> bool:
        """runc's shouldUseRootlessCgroupManager, without systemd: ignore cgroup permission errors when not
        root, or root of a user namespace (whose cgroups path runc cannot know to be writable)."""
        if self.rootless_flag in ("true", "false"):
            return self.rootless_flag == "true"
        from corelib.runc.userns import running_in_user_ns

        return os.geteuid() != 0 or running_in_user_ns()


def default_root() -> str:
    if os.geteuid() != 0 and os.environ.get("XDG_RUNTIME_DIR"):
        return os.path.join(os.environ["XDG_RUNTIME_DIR"], "whale-runc")
    return "/run/whale-runc"


def version_text() -> str:
    python = sys.version.split()[0]
    return f"runc version {VERSION}+whalebone\ncommit: whalebone\nspec: {SPEC_VERSION}\npython: {python}\n"


def usage_text() -> str:
    width = max(map(len, COMMANDS))
    commands = "\n".join(f"   {name:<{width}}  {summary}" for name, summary in COMMANDS.items())
    flags = "\n".join(f"   --{f.key:<20}{f.help}" for f in GLOBAL_FLAGS)
    return (f"NAME:\n   whale-runc - Open Container Initiative runtime (whalebone)\n\nUSAGE:\n"
            f"   whale-runc [global options] command [command options] [arguments...]\n\nVERSION:\n"
            f"   {VERSION}\n\nCOMMANDS:\n{commands}\n\nGLOBAL OPTIONS:\n{flags}\n")


def main(argv: list[str] | None = None) -> int:
    if argv is None and "WHALE_STANDBY_FD" in os.environ:  # started ahead of its command by a shim
        standby()
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts, rest = cli.parse(argv, GLOBAL_FLAGS, reorder=False)
    except UsageError as e:
        sys.stderr.write(f"Incorrect Usage. {e}\n\n{usage_text()}")
        return 1
    if opts["version"]:
        sys.stdout.write(version_text())
        return 0
    if not rest or rest[0] in ("help", "h"):
        sys.stdout.write(usage_text())
        return 0
    name, argv = rest[0], rest[1:]
    try:
        logger = Logger(opts["log"], opts["log-format"], opts["debug"])
    except OSError as e:
        sys.stderr.write(f"{describe(e)}\n")
        return 1
    if opts["log-format"] not in ("text", "json"):
        logger.error(f"invalid log-format: {opts['log-format']}")
        return 1
    if name not in COMMANDS:
        logger.error(f"No help topic for '{name}'")
        return 3
    return run_command(name, argv, Context(opts, logger))


def run_command(name: str, argv: list[str], ctx: Context) -> int:
    module = __import__(f"corelib.runc.commands.{name}", fromlist=["run"])
    flags = getattr(module, "FLAGS", ())
    help_text = cli.help_text("whale-runc", name, COMMANDS[name], module.USAGE, flags)
    try:
        opts, args = cli.parse(argv, flags, reorder=getattr(module, "REORDER", True))
        check_args(name, args, *module.ARGS)
    except UsageError as e:
        if str(e) == "help":
            sys.stdout.write(help_text)
            return 0
        sys.stderr.write(f"Incorrect Usage: {e}\n\n{help_text}")
        ctx.logger.error(str(e))
        return 1
    except RuncError as e:
        sys.stderr.write(help_text)
        ctx.logger.error(str(e))
        return e.code
    try:
        return module.run(ctx, opts, args) or 0
    except RuncError as e:
        ctx.logger.error(str(e))
        return e.code
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # an unexpected failure still gets runc's one-line error form
        ctx.logger.debug(f"{type(e).__name__}: {e}")
        ctx.logger.error(describe(e))
        return 1


def check_args(name: str, args: list[str], least: int, most: int | None) -> None:
    if least == most and len(args) != least:
        raise RuncError(f'whale-runc: "{name}" requires exactly {least} argument(s)')
    if len(args) < least:
        raise RuncError(f'whale-runc: "{name}" requires a minimum of {least} argument(s)')
    if most is not None and len(args) > most:
        raise RuncError(f'whale-runc: "{name}" requires a maximum of {most} argument(s)')


def standby() -> None:
    """Started ahead of its command by a shim (corelib/standby.py): import what `create` needs, the
    command that follows a shim's start, then wait for the command line and become that command."""
    import _socket  # noqa: F401
    import fcntl  # noqa: F401
    import struct  # noqa: F401

    import corelib.runc.commands.create  # noqa: F401
    import corelib.runc.init  # noqa: F401
    import corelib.runc.launch  # noqa: F401
    from corelib import standby as orders

    orders.take_order()


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown (module cleanup, GC): several milliseconds of a short
    command. Everything whale-runc writes goes through os.write or closed files; stdio is flushed."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
