"""`whale start`: start containers, or attach to one and start it (`-a`, `-i`)."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import FlagSet, Options


def flags(fs: FlagSet) -> None:
    fs.bool("attach", "a", "Attach STDOUT/STDERR and forward signals")
    fs.bool("interactive", "i", "Attach container's STDIN")
    fs.string("detach-keys", help="Override the key sequence for detaching a container")


def run_start(cli: Cli, opts: Options, args: list[str]) -> int | None:
    if opts.attach or opts.interactive:
        if len(args) > 1:
            raise StatusError(1, "you cannot start and attach multiple containers at once")
        return start_attached(cli, opts, args[0])
    failed = []
    for name in args:
        try:
            cli.client.start(name)
        except Exception as e:  # noqa: BLE001 - docker reports each and goes on
            cli.err.println(str(e))
            failed.append(name)
            continue
        cli.out.println(name)
    if failed:
        raise StatusError(1, f"Error: failed to start containers: {', '.join(failed)}")
    return None


def start_attached(cli: Cli, opts: Options, container: str) -> int:
    from corelib.client.cli.container.attach import AttachedSession

    c = cli.client.inspect_container(container)
    config, host_config = c.get("Config") or {}, c.get("HostConfig") or {}
    tty = bool(config.get("Tty"))
    session = AttachedSession(cli, c["Id"], tty, stdin=bool(opts.interactive and config.get("OpenStdin")),
                              stdout=True, stderr=True,
                              detach_keys=opts.detach_keys or cli.config_file.detach_keys, sig_proxy=not tty)
    condition = "removed" if host_config.get("AutoRemove") else "next-exit"
    return session.run(condition, start=True)


COMMAND = CommandSpec(name="start", use="start [OPTIONS] CONTAINER [CONTAINER...]",
                      short="Start one or more stopped containers", run=run_start, flags=flags, args=("min", 1))
