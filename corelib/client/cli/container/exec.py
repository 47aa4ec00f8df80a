"""`whale exec`: a new process in a running container (exec create, then start attached or detached)."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.container.opts import read_kv_file, validate_env
from corelib.client.cli.flags import FlagSet, Options


def flags(fs: FlagSet) -> None:
    fs.string("detach-keys", help="Override the key sequence for detaching a container")
    fs.bool("interactive", "i", "Keep STDIN open even if not attached")
    fs.bool("tty", "t", "Allocate a pseudo-TTY")
    fs.bool("detach", "d", "Detached mode: run command in the background")
    fs.string("user", "u", 'Username or UID (format: "<name|uid>[:<group|gid>]")')
    fs.bool("privileged", help="Give extended privileges to the command")
    fs.list("env", "e", "Set environment variables", convert=validate_env, min_api="1.25")
    fs.list("env-file", help="Read in a file of environment variables", min_api="1.25")
    fs.string("workdir", "w", "Working directory inside the container", min_api="1.35")


def parse_exec(opts: Options, command: list[str]) -> dict:
    env = [line for path in opts.env_file for line in read_kv_file(path, env_lookup=True)] + opts.env
    attach = not opts.detach
    return {"User": opts.user, "Privileged": opts.privileged, "Tty": opts.tty,
            "AttachStdin": attach and opts.interactive, "AttachStderr": attach, "AttachStdout": attach,
            "Detach": opts.detach, "DetachKeys": opts.detach_keys, "Env": env or None,
            "WorkingDir": opts.workdir, "Cmd": command}


def run_exec(cli: Cli, opts: Options, args: list[str]) -> int:
    try:
        config = parse_exec(opts, args[1:])
    except ValueError as e:
        raise StatusError(1, str(e)) from None
    config["DetachKeys"] = config["DetachKeys"] or cli.config_file.detach_keys
    cli.client.inspect_container(args[0])  # "No such container" before anything is created
    if not opts.detach:
        try:
            cli.in_.check_tty(config["AttachStdin"], config["Tty"])
        except ValueError as e:
            raise StatusError(1, str(e)) from None
    if config["Tty"]:
        config["ConsoleSize"] = list(cli.out.tty_size())
    exec_id = cli.client.exec_create(args[0], config).get("Id")
    if not exec_id:
        raise StatusError(1, "exec ID empty")
    if opts.detach:
        cli.client.exec_start_detached(exec_id, config["Tty"])
        return 0
    return interactive_exec(cli, config, exec_id)


def interactive_exec(cli: Cli, config: dict, exec_id: str) -> int:
    import contextlib

    from corelib.client.cli.container.hijack import HijackedIOStreamer
    from corelib.client.cli.container.signals import ResizeMonitor

    tty = config["Tty"]
    sock = cli.client.exec_start_socket(exec_id, tty, config.get("ConsoleSize"))
    streamer = HijackedIOStreamer(sock, cli.in_ if config["AttachStdin"] else None, cli.out,
                                  cli.out if tty else cli.err, tty, config["DetachKeys"])

    def resize() -> None:
        h, w = cli.out.tty_size()
        if h or w:
            cli.client.exec_resize(exec_id, h, w)

    try:
        gave_up = lambda: cli.err.println("failed to resize tty, using default size")  # noqa: E731
        with ResizeMonitor(resize, gave_up) if tty and cli.in_.is_terminal() else contextlib.nullcontext():
            streamer.stream()
    finally:
        sock.close()
    if streamer.detached:
        return 0
    return int(cli.client.exec_inspect(exec_id).get("ExitCode") or 0)


COMMAND = CommandSpec(name="exec", use="exec [OPTIONS] CONTAINER COMMAND [ARG...]",
                      short="Execute a command in a running container", run=run_exec, flags=flags,
                      args=("min", 2), interspersed=False)
