"""`whale attach`, and the attached session `run` and `start -a` share: attach (hijacked stream),
wait, [start], stream until the container exits, its exit status."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.container.hijack import HijackedIOStreamer
from corelib.client.cli.container.signals import ResizeMonitor, SignalForwarder
from corelib.client.cli.flags import FlagSet, Options


class AttachedSession:
    def __init__(self, cli: Cli, container_id: str, tty: bool, stdin: bool, stdout: bool, stderr: bool,
                 detach_keys: str = "", sig_proxy: bool = True):
        self.cli, self.id, self.tty = cli, container_id, tty
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.detach_keys, self.sig_proxy = detach_keys, sig_proxy

    def run(self, wait_condition: str | None, start: bool,
            on_start_error: Callable[[Exception], Exception] | None = None, wait: object = None) -> int:
        client = self.cli.client
        forward = SignalForwarder(lambda sig: client.kill(self.id, sig), self._restore) if self.sig_proxy else None
        with forward or contextlib.nullcontext():
            sock = client.attach_socket(self.id, stdin=self.stdin, stdout=self.stdout, stderr=self.stderr,
                                        detach_keys=self.detach_keys or None)
            try:
                if wait is None:
                    wait = client.wait(self.id, wait_condition)
                self.streamer = HijackedIOStreamer(
                    sock, self.cli.in_ if self.stdin else None, self.cli.out if self.stdout else None,
                    (self.cli.out if self.tty else self.cli.err) if self.stderr else None, self.tty, self.detach_keys)
                if start:
                    self._start(wait, wait_condition, on_start_error)
                resize = self.tty and self.cli.out.is_terminal()
                with ResizeMonitor(self._resize, self._gave_up) if resize else contextlib.nullcontext(), \
                        self.cli.span("hijackedIOStreamer.stream"):
                    self.streamer.stream()
            finally:
                sock.close()
            if self.streamer.detached:
                wait.close()
                return 0
            with self.cli.span("waitExitOrRemoved"):
                return self.exit_status(wait)

    def _start(self, wait: object, wait_condition: str | None, on_start_error: Callable | None) -> None:
        try:
            self.cli.client.start(self.id)
        except Exception as e:
            if wait_condition == "removed":
                with contextlib.suppress(Exception):
                    wait.read()
            wait.close()
            raise (on_start_error(e) if on_start_error else e) from None

    def _resize(self) -> None:
        h, w = self.cli.out.tty_size()
        if h or w:
            self.cli.client.resize(self.id, h, w)

    def _gave_up(self) -> None:
        self.cli.err.println("failed to resize tty, using default size")

    def _restore(self) -> None:
        streamer = getattr(self, "streamer", None)
        if streamer is not None:
            streamer.restore_terminal()
        self.cli.err.write("\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n")

    def exit_status(self, wait: object) -> int:
        try:
            result = self.cli.client.wait_result(wait)
        except Exception as e:  # noqa: BLE001 - docker logs it and exits 125
            self.cli.err.println(f"error waiting for container: {e}")
            return 125
        if result.get("Error"):
            self.cli.err.println(f"Error waiting for container: {result['Error'].get('Message', '')}")
            return 125
        return int(result.get("StatusCode", 0))


def check_state(cli: Cli, container: str) -> dict:
    """inspectContainerAndCheckState: only a running, unpaused container can be attached to."""
    c = cli.client.inspect_container(container)
    state = c.get("State") or {}
    if not state.get("Running"):
        raise StatusError(1, "You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise StatusError(1, "You cannot attach to a paused container, unpause it first")
    if state.get("Restarting"):
        raise StatusError(1, "You cannot attach to a restarting container, wait until it is running")
    return c


def flags(fs: FlagSet) -> None:
    fs.bool("no-stdin", help="Do not attach STDIN")
    fs.bool("sig-proxy", help="Proxy all received signals to the process", default=True)
    fs.string("detach-keys", help="Override the key sequence for detaching a container")


def run_attach(cli: Cli, opts: Options, args: list[str]) -> int:
    container = args[0]
    wait = cli.client.wait(container)
    try:
        c = check_state(cli, container)
        config = c.get("Config") or {}
        stdin = not opts.no_stdin and bool(config.get("OpenStdin"))
        try:
            cli.in_.check_tty(not opts.no_stdin, bool(config.get("Tty")))
        except ValueError as e:
            raise StatusError(1, str(e)) from None
    except BaseException:
        wait.close()
        raise
    session = AttachedSession(cli, c["Id"], bool(config.get("Tty")), stdin, True, True,
                              opts.detach_keys or cli.config_file.detach_keys,
                              opts.sig_proxy and not config.get("Tty"))
    return session.run(None, start=False, wait=wait)


COMMAND = CommandSpec(
    name="attach", use="attach [OPTIONS] CONTAINER",
    short="Attach local standard input, output, and error streams to a running container",
    run=run_attach, flags=flags, args=("exact", 1),
)
