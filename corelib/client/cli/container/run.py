"""`whale run`: runRun > runContainer: createContainer, attach, wait, start, in docker's order, then the
container's output until it exits, and its exit status as ours."""

from __future__ import annotations

import contextlib
import importlib
import threading

from corelib.client.cli.command import Cli, CommandSpec, StatusError, with_help
from corelib.client.cli.container.create import add_create_flags, create_container, prepare
from corelib.client.cli.flags import FlagSet, Options

ATTACH_MODULE = "corelib.client.cli.container.attach"


def flags(fs: FlagSet) -> None:
    fs.bool("detach", "d", "Run container in background and print container ID")
    fs.bool("sig-proxy", help="Proxy received signals to the process", default=True)
    fs.string("detach-keys", help="Override the key sequence for detaching a container")
    fs.bool("help", help="Print usage")
    add_create_flags(fs)


def run_run(cli: Cli, opts: Options, args: list[str]) -> int:
    from corelib.client.transport.dial import DaemonUnreachable

    try:
        container_config = prepare(cli, opts, args, "run")
    except DaemonUnreachable as e:
        raise to_status_error(e) from None
    return run_container(cli, opts, container_config)


def to_status_error(err: Exception) -> StatusError:
    """docker's toStatusError: 127 when the command was not found, 126 when it could not be run,
    else 125; the message gets docker's "--help" suggestion."""
    message = str(err)
    if "executable file not found" in message or "no such file or directory" in message:
        status = 127
    elif "permission denied" in message or "is a directory" in message:
        status = 126
    else:
        status = 125
    return StatusError(status, with_help(message, "run"))


def run_container(cli: Cli, opts: Options, container_config: dict) -> int:
    with cli.span("runContainer"):
        return _run_container(cli, opts, container_config)


def _run_container(cli: Cli, opts: Options, container_config: dict) -> int:
    config = container_config
    if opts.detach:
        if opts.attach:
            raise StatusError(1, "conflicting options: cannot specify both --attach and --detach")
        config.update(AttachStdin=False, AttachStdout=False, AttachStderr=False, StdinOnce=False)
    else:
        try:
            cli.in_.check_tty(config["AttachStdin"], config["Tty"])
        except ValueError as e:
            raise StatusError(1, str(e)) from None
    detach_keys = opts.detach_keys or cli.config_file.detach_keys
    if detach_keys:
        from corelib.client.cli.container.hijack import escape_keys

        escape_keys(detach_keys)
    attach = config["AttachStdin"] or config["AttachStdout"] or config["AttachStderr"]
    if attach:  # loaded while the daemon creates the container, which this thread only waits for
        threading.Thread(target=importlib.import_module, args=(ATTACH_MODULE,), daemon=True).start()
    try:
        container_id = create_container(cli, config, opts)
    except Exception as e:  # noqa: BLE001 - every failure to create is a status-125/126/127 error
        raise to_status_error(e) from None
    if not attach:
        cli.out.println(container_id)
        return start_detached(cli, container_id, opts.rm)
    from corelib.client.cli.container.attach import AttachedSession

    session = AttachedSession(cli, container_id, config["Tty"], stdin=config["AttachStdin"],
                              stdout=config["AttachStdout"], stderr=config["AttachStderr"],
                              detach_keys=detach_keys, sig_proxy=opts.sig_proxy and not config["Tty"])
    return session.run(wait_condition="removed" if opts.rm else "next-exit", start=True,
                       on_start_error=to_status_error)


def start_detached(cli: Cli, container_id: str, auto_remove: bool) -> int:
    """Detached: the wait is sent before the start as docker does; it matters only when the start
    fails for an --rm container, which is waited for until it is gone."""
    wait = cli.client.wait(container_id, "removed" if auto_remove else "next-exit")
    try:
        cli.client.start(container_id)
    except Exception as e:  # noqa: BLE001
        if auto_remove:
            with contextlib.suppress(Exception):
                wait.read()
        raise to_status_error(e) from None
    finally:
        wait.close()
    return 0


COMMAND = CommandSpec(
    name="run", use="run [OPTIONS] IMAGE [COMMAND] [ARG...]", short="Create and run a new container from an image",
    run=run_run, flags=flags, args=("min", 1), interspersed=False,
)
