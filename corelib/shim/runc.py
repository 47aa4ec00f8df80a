"""The runc command line, as go-runc drives it for the real shim.

Global flags `--root ROOT/NS --log BUNDLE/log.json --log-format json`; a failed command's reason
is the last error line of that JSON log (getLastRuntimeError), else its exit status and output.
Every command is spawned and reaped through the shim's Reaper.
"""

from __future__ import annotations

import os

from corelib.errdefs import WhaleError
from corelib.shim.reaper import Reaper, which
from corelib.trace.span import NO_SPAN

RUNC_ROOT = "/run/containerd/runc"
# The runtime when the options name none: $WHALE_SHIM_RUNTIME (inherited from containerd), else whale-runc
# on PATH, else the whale-runc installed beside this shim.
DEFAULT_RUNTIME = "whale-runc"
RUNTIME_ENV = "WHALE_SHIM_RUNTIME"
# whale-runc interpreters kept started ahead (corelib/standby.py): a short-lived container's create, start
# and delete follow each other within ~100 ms, and one takes ~30 ms to start on a busy machine.
STANDBYS = 2

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from corelib.shim.tracing import ShimTracer


class RuntimeFailure(WhaleError):
    """A runtime command that failed: it could not start, or it exited non-zero."""


class ExitError(RuntimeFailure):
    """A runc command exited non-zero: "exit status N: <its output>" (go-runc's wording)."""

    def __init__(self, status: int, output: bytes = b""):
        text = output.decode(errors="replace").strip()
        super().__init__(f"exit status {status}: {text}" if text else f"exit status {status}")
        self.status = status


def default_command() -> str:
    if os.environ.get(RUNTIME_ENV):
        return os.environ[RUNTIME_ENV]
    import sys

    beside = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), DEFAULT_RUNTIME)
    if not which(DEFAULT_RUNTIME) and os.access(beside, os.X_OK):
        return beside
    return DEFAULT_RUNTIME


def spawn_error(command: str, error: OSError) -> RuntimeFailure:
    """What Go's exec says when the runtime binary cannot be started."""
    if isinstance(error, FileNotFoundError) and "/" not in command:
        return RuntimeFailure(f'exec: "{command}": executable file not found in $PATH')
    return RuntimeFailure(f"fork/exec {command}: {os.strerror(error.errno or 0).lower()}")


class Runc:
    def __init__(self, reaper: Reaper, command: str, root: str, log: str, systemd_cgroup: bool = False,
                 tracer: ShimTracer | None = None):
        self.reaper = reaper
        self.tracer = tracer  # set when containerd traces this task: commands then carry TRACEPARENT
        self.command = command or default_command()
        self.root = root
        self.log = log
        self.systemd_cgroup = systemd_cgroup

    def prepare(self, count: int = 1) -> None:
        """Have the runtime's interpreter started for the next `count` commands (whale-runc only)."""
        self.reaper.prepare(self.command, count)

    def _argv(self, *args: str) -> list[str]:
        argv = [self.command, "--root", self.root, "--log", self.log, "--log-format", "json"]
        if self.systemd_cgroup:
            argv.append("--systemd-cgroup")
        return argv + list(args)

    def create(self, id: str, bundle: str, pid_file: str, stdio: Sequence[int], console_socket: str = "",
               no_pivot: bool = False, no_new_keyring: bool = False) -> None:
        args = ["create", "--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        if no_pivot:
            args.append("--no-pivot")
        if no_new_keyring:
            args.append("--no-new-keyring")
        self._detached([*args, id], stdio, standbys_after=STANDBYS)  # for `start` and `delete`, started beside it

    def exec(self, id: str, process_file: str, pid_file: str, stdio: Sequence[int], console_socket: str = "") -> None:
        args = ["exec", "--process", process_file, "--detach", "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        self._detached([*args, id], stdio)

    def start(self, id: str) -> None:
        self._run("start", id)

    def kill(self, id: str, signal: int, all: bool = False) -> None:
        self._run("kill", *(["--all"] if all else []), id, str(signal))

    def delete(self, id: str, force: bool = False) -> None:
        self._run("delete", *(["--force"] if force else []), id)

    def pause(self, id: str) -> None:
        self._run("pause", id)

    def resume(self, id: str) -> None:
        self._run("resume", id)

    def update(self, id: str, resources_json: bytes) -> None:
        self._run("update", "--resources", "-", id, stdin=resources_json)

    def ps(self, id: str) -> list[int]:
        """The container's pids; runc prints them as a JSON array of numbers (or null)."""
        output = self._run("ps", "--format", "json", id, combined=False).strip()
        if output in (b"", b"null"):
            return []
        if not output.startswith(b"[") or not output.endswith(b"]"):
            raise RuntimeFailure(f"unexpected ps output: {output[:100]!r}")
        return [int(pid) for pid in output[1:-1].split(b",") if pid.strip()]

    def _traced(self, command: str) -> object:
        """`with self._traced("create") as env:` the command's span and environment, when traced."""
        return self.tracer.runtime_command(f"runc {command}", self.log) if self.tracer else NO_SPAN

    def _detached(self, args: list[str], stdio: Sequence[int], standbys_after: int = 0) -> None:
        """A command whose stdio becomes the container process's: nothing to read, only the status.
        `standbys_after`: whale-runc standbys to have waiting for the next commands, started meanwhile."""
        argv = self._argv(*args)
        with self._traced(args[0]) as env:
            try:
                pid = self.reaper.spawn(argv, (stdio[0], stdio[1], stdio[2]), env)
            except OSError as e:
                raise spawn_error(argv[0], e) from None
            if standbys_after:
                self.prepare(standbys_after)
            status = self.reaper.wait(pid)
        if status != 0:
            raise ExitError(status)

    def _run(self, *args: str, stdin: bytes | None = None, combined: bool = True) -> bytes:
        """Run to completion; its stdout (and stderr, if combined) back, or ExitError."""
        argv = self._argv(*args)
        with self._traced(args[0]) as env:
            try:
                status, output = self.reaper.run(argv, stdin, combined, env)
            except OSError as e:
                raise spawn_error(argv[0], e) from None
        if status != 0:
            raise ExitError(status, output)
        return output

    def last_error(self) -> str:
        """The message of the last `"level":"error"` line of the runtime's JSON log, or ""."""
        import json

        message = ""
        try:
            with open(self.log, "rb") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict) and entry.get("level") == "error":
                        message = str(entry.get("msg", "")).strip()
        except FileNotFoundError:
            return ""
        return message

    def runtime_error(self, error: Exception, message: str) -> WhaleError:
        """The real shim's runtimeError: "<message>: <last runtime error>" when the log has one."""
        last = self.last_error()
        return WhaleError(f"{message}: {last}" if last else f"{message}: {error}")


def read_pid_file(path: str) -> int:
    with open(path) as f:
        return int(f.read().strip())
