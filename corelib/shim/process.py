"""The container's init process and its exec'd processes, and the states they move through
(containerd's pkg/process): what each state refuses, in the real shim's words, then the runc call.

Init: created -> running <-> paused; any of these -> stopped (it exited) -> deleted.
Exec: created -> running -> stopped -> deleted (it then leaves the container).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

from corelib import errdefs
from corelib.shim import mount
from corelib.shim.runc import Runc, RuntimeFailure, read_pid_file
from corelib.shim.stdio import ProcessIO

SIGKILL = 9

INIT_REFUSALS = {
    "start": {"running": "cannot start a running process", "paused": "cannot start a paused process",
              "stopped": "cannot start a stopped process", "deleted": "cannot start a deleted process"},
    "delete": {"running": "cannot delete a running process", "paused": "cannot delete a paused process"},
    "pause": {"created": "cannot pause task in created state", "paused": "cannot pause a paused container",
              "stopped": "cannot pause a stopped container", "deleted": "cannot pause a deleted process"},
    "resume": {"created": "cannot resume task in created state", "running": "cannot resume a running process",
               "stopped": "cannot resume a stopped container", "deleted": "cannot resume a deleted process"},
    "update": {"stopped": "cannot update a stopped container", "deleted": "cannot update a deleted process"},
    "exec": {"paused": "cannot exec in a paused state", "stopped": "cannot exec in a stopped state",
             "deleted": "cannot exec in a deleted state"},
    "resize": {"deleted": "cannot resize a deleted process"},
}
EXEC_REFUSALS = {
    "start": {"running": "cannot start a running process", "stopped": "cannot start a stopped process"},
    "delete": {"running": "cannot delete a running process"},
    "resize": {"stopped": "cannot resize a stopped container"},
}
# In these states the process is gone for good: containerd's clients match on NotFound here.
GONE = {("delete", "deleted"): "cannot delete a deleted process: not found",
        ("kill", "deleted"): "cannot kill a deleted process: not found"}


def refuse(refusals: dict[str, dict[str, str]], operation: str, state: str) -> None:
    """Raise the real shim's error if `operation` is not allowed in `state`."""
    if (operation, state) in GONE:
        raise errdefs.NotFound(GONE[operation, state])
    message = refusals.get(operation, {}).get(state)
    if message:
        raise errdefs.WhaleError(message)


def kill_error(error: RuntimeFailure) -> errdefs.WhaleError:
    """containerd's checkKillError: a process that is gone is NotFound, whatever runc said."""
    text = str(error)
    if "container not running" in text or "no such process" in text.lower():
        return errdefs.NotFound("process already finished: not found")
    if "does not exist" in text:
        return errdefs.NotFound("no such container: not found")
    return errdefs.WhaleError(f"unknown error after kill: {text}")


class Process:
    """What Init and Exec share: identity, stdio, the exit, and a lock around state changes."""

    refusals: dict[str, dict[str, str]] = {}

    def __init__(self, id: str, io: ProcessIO):
        self.id = id
        self.io = io
        self.pid = 0
        self.state = "created"
        self.exit_status = 0
        self.exited_at: int | None = None  # time.time_ns()
        self.lock = threading.RLock()
        self._exited = threading.Event()

    def refuse(self, operation: str) -> None:
        refuse(self.refusals, operation, self.state)

    def wait(self, timeout: float | None = None) -> bool:
        return self._exited.wait(timeout)

    def set_exited(self, status: int) -> None:
        with self.lock:
            if self.state in ("stopped", "deleted"):
                return
            self._exit(status)

    def _exit(self, status: int) -> None:
        self.io.wait_output(2.0)
        self.exit_status = status
        self.exited_at = time.time_ns()
        self.state = "stopped"
        self._exited.set()

    def resize(self, width: int, height: int) -> None:
        with self.lock:
            self.refuse("resize")
            self.io.resize(width, height)


class Init(Process):
    refusals = INIT_REFUSALS

    def __init__(self, id: str, bundle: str, runtime: Runc, io: ProcessIO, rootfs: str = "",
                 no_pivot: bool = False, no_new_keyring: bool = False):
        super().__init__(id, io)
        self.bundle = bundle
        self.runtime = runtime
        self.rootfs = rootfs
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.pausing = False

    @property
    def pid_file(self) -> str:
        return os.path.join(self.bundle, "init.pid")

    def create(self) -> None:
        with ConsoleSocket.maybe(self.io.terminal) as console:
            stdio = self.io.open()
            try:
                self.runtime.create(self.id, self.bundle, self.pid_file, stdio, console.path,
                                    self.no_pivot, self.no_new_keyring)
            except RuntimeFailure as e:
                self.io.close()
                raise self.runtime.runtime_error(e, "OCI runtime create failed") from None
            try:
                self.io.handed_over()
                if console.path:
                    self.io.attach_console(console.receive_master())
                self.pid = read_pid_file(self.pid_file)
            except BaseException:  # created, but not usable: take it down again
                self.io.close()
                with contextlib.suppress(RuntimeFailure):
                    self.runtime.delete(self.id, force=True)
                raise

    def status(self) -> str:
        return "pausing" if self.pausing else self.state

    def start(self) -> None:
        with self.lock:
            self.refuse("start")
            self._runtime("start", "OCI runtime start failed")
            self.state = "running"

    def _runtime(self, command: str, message: str, *args: object) -> None:
        try:
            getattr(self.runtime, command)(self.id, *args)
        except RuntimeFailure as e:
            raise self.runtime.runtime_error(e, message) from None

    def _exit(self, status: int) -> None:
        if self.state == "paused":  # a frozen cgroup would keep its other processes stuck
            with contextlib.suppress(RuntimeFailure):
                self.runtime.resume(self.id)
        super()._exit(status)

    def kill(self, signal: int, all: bool = False) -> None:
        with self.lock:
            self.refuse("kill")
            try:
                self.runtime.kill(self.id, signal, all)
            except RuntimeFailure as e:
                raise kill_error(e) from None

    def kill_all(self) -> None:
        with self.lock:
            self._runtime("kill", "OCI runtime killall failed", SIGKILL, True)

    def pause(self) -> None:
        with self.lock:
            self.refuse("pause")
            self.pausing = True
            try:
                self._runtime("pause", "OCI runtime pause failed")
            finally:
                self.pausing = False
            self.state = "paused"

    def resume(self) -> None:
        with self.lock:
            self.refuse("resume")
            self._runtime("resume", "OCI runtime resume failed")
            self.state = "running"

    def update(self, resources_json: bytes) -> None:
        with self.lock:
            self.refuse("update")
            self._runtime("update", "OCI runtime update failed", resources_json)

    def delete(self) -> None:
        with self.lock:
            self.refuse("delete")
            error: Exception | None = None
            try:
                self.runtime.delete(self.id)
            except RuntimeFailure as e:
                if "does not exist" not in str(e):
                    error = self.runtime.runtime_error(e, "failed to delete task")
            self.io.close()
            try:
                mount.unmount_all(self.runtime.reaper, self.rootfs)
            except OSError as e:
                error = error or errdefs.WhaleError(f"failed rootfs umount: {e}")
            self.state = "deleted"
            if error:
                raise error


class Exec(Process):
    refusals = EXEC_REFUSALS

    def __init__(self, id: str, parent: Init, io: ProcessIO, spec_json: bytes):
        super().__init__(id, io)
        self.parent = parent
        self.spec_json = spec_json

    @property
    def pid_file(self) -> str:
        return os.path.join(self.parent.bundle, f"{self.id}.pid")

    def status(self) -> str:
        parent = self.parent.status()
        return parent if parent in ("paused", "pausing") else self.state

    def start(self) -> None:
        with self.lock:
            self.refuse("start")
            process_file = os.path.join(self.parent.bundle, f".{self.id}-process.json")
            with ConsoleSocket.maybe(self.io.terminal) as console:
                stdio = self.io.open()
                try:
                    _write_file(process_file, self.spec_json)
                    self.parent.runtime.exec(self.parent.id, process_file, self.pid_file, stdio, console.path)
                except RuntimeFailure as e:
                    self.io.close()
                    self._exited.set()
                    raise self.parent.runtime.runtime_error(e, "OCI runtime exec failed") from None
                finally:
                    _remove(process_file)
                self.io.handed_over()
                if console.path:
                    self.io.attach_console(console.receive_master())
            self.pid = read_pid_file(self.pid_file)
            self.state = "running"

    def kill(self, signal: int, all: bool = False) -> None:
        with self.lock:
            if self.pid == 0:
                raise errdefs.FailedPrecondition("process not created: failed precondition")
            if self.exited_at is not None:
                raise errdefs.NotFound("process already finished: not found")
            try:
                os.kill(self.pid, signal)
            except ProcessLookupError:
                raise errdefs.NotFound("exec kill error: process already finished: not found") from None

    def delete(self) -> None:
        with self.lock:
            self.refuse("delete")
            self.io.close()
            _remove(self.pid_file)
            self.state = "deleted"


def _write_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class ConsoleSocket:
    """Where runc sends a terminal's master (--console-socket), as go-runc's NewTempConsoleSocket."""

    def __init__(self) -> None:
        import socket
        import tempfile

        self.dir = tempfile.mkdtemp(prefix="pty", dir=os.environ.get("XDG_RUNTIME_DIR") or "/tmp")
        self.path = os.path.join(self.dir, "pty.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(1)

    @classmethod
    def maybe(cls, terminal: bool) -> ConsoleSocket | _NoConsole:
        return cls() if terminal else _NoConsole()

    def receive_master(self, timeout: float = 30.0) -> int:
        import socket

        self._sock.settimeout(timeout)
        conn, _ = self._sock.accept()
        with conn:
            conn.settimeout(timeout)
            _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        if not fds:
            raise errdefs.WhaleError("failed to retrieve console master: no file descriptor received")
        return fds[0]

    def __enter__(self) -> ConsoleSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
        _remove(self.path)
        os.rmdir(self.dir)


class _NoConsole:
    path = ""

    def __enter__(self) -> _NoConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
