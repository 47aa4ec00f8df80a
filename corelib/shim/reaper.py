"""Every child of the shim is reaped here, with its real exit status (containerd's sys/reaper).

The shim is a child subreaper: container processes whose runc parent exited become its children.
One thread waits for any child; an exit goes to whoever spawned that pid and waits for it (a
runc command), or else to the subscriber (the task service, which matches container pids).
Spawning and matching share one lock, so an exit can never arrive before its waiter is known.
"""

from __future__ import annotations

import _signal  # not signal: its enums would cost every shim memory
import os
import threading

from corelib import standby

# Python ignores SIGPIPE (and SIGXFSZ); children must start with the default dispositions, as
# they would under a Go shim, or `yes | head -1` in a container would see EPIPE instead of dying.
DEFAULT_SIGNALS = (_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGINT, _signal.SIGTERM)


def exit_status(wait_status: int) -> int:
    """128+N for a death by signal N, the exit code otherwise (as containerd reports them)."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


class _Exit:
    __slots__ = ("done", "status")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.status = -1


class Reaper:
    def __init__(self, on_exit=None):
        self._lock = threading.Lock()
        self._spawned = threading.Condition(self._lock)
        self._generation = 0
        self._waiting: dict[int, _Exit] = {}
        self._standbys: dict[str, list[tuple[int, object]]] = {}  # binary: [(pid, our end of its socket)]
        self._standby_pids: set[int] = set()  # standbys not (yet) given a command: their exits are ours
        self.on_exit = on_exit  # called as on_exit(pid, status) for exits nobody spawned-and-waits-for

    def start(self) -> None:
        threading.Thread(target=self._reap, name="reaper", daemon=True).start()

    def spawn(self, argv: list[str], fds: tuple[int, int, int], env: dict[str, str] | None = None) -> int:
        """Start argv[0] (searched on PATH) with `fds` as its stdin, stdout and stderr: a standby of
        it, if one waits and takes the command line, else a new process."""
        pid = self._give_standby(argv, fds, env) if self._standbys else None
        if pid is not None:
            return pid
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
        with self._lock:
            pid = os.posix_spawnp(argv[0], argv, os.environ if env is None else env, file_actions=actions,
                                  setsigdef=DEFAULT_SIGNALS, setsigmask=())
            self._waiting[pid] = _Exit()
            self._generation += 1
            self._spawned.notify()
        return pid

    def prepare(self, binary: str, count: int = 1) -> None:
        """Have `count` standbys of `binary` wait for its next commands (corelib/standby.py). Only
        whale-runc takes orders so; other binaries are always exec'd with their command line."""
        if os.path.basename(binary) != "whale-runc" or not standby.enabled():
            return
        binary = which(binary) or binary
        with self._lock:
            while len(self._standbys.get(binary, ())) < count and self._spawn_standby(binary):
                pass

    def _spawn_standby(self, binary: str) -> bool:
        """Under the lock: one more standby of `binary`; False if it cannot be started."""
        ours, theirs = standby.socketpair()
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                   (os.POSIX_SPAWN_DUP2, theirs.fileno(), 3)]
        try:
            pid = os.posix_spawnp(binary, standby.spawn_argv(binary), {**os.environ, standby.ENV: "3"},
                                  file_actions=actions, setsigdef=DEFAULT_SIGNALS, setsigmask=())
        except OSError:
            ours.close()
            return False
        finally:
            os.close(null)
            theirs.close()
        self._standbys.setdefault(binary, []).append((pid, ours))
        self._standby_pids.add(pid)
        self._generation += 1
        self._spawned.notify()
        return True

    def _give_standby(self, argv: list[str], fds: tuple[int, int, int], env: dict[str, str] | None) -> int | None:
        """The pid of a standby that took this command line, or None. Its waiter is in place before the
        order goes, so its exit, however soon, is the command's."""
        with self._lock:
            waiting = self._standbys.get(which(argv[0]) or argv[0])
            if not waiting:
                return None
            pid, sock = waiting.pop(0)
            self._standby_pids.discard(pid)
            self._waiting[pid] = waiter = _Exit()
        if standby.give(sock, argv, dict(os.environ) if env is None else env, os.getcwd(), fds):
            return pid
        with self._lock:  # gone, or never a standby: what it does now is none of the command's
            del self._waiting[pid]
            if not waiter.done.is_set():
                self._standby_pids.add(pid)
        return None

    def wait(self, pid: int) -> int:
        """The exit status of a child started with spawn()."""
        waiter = self._waiting[pid]
        waiter.done.wait()
        with self._lock:
            self._waiting.pop(pid, None)
        return waiter.status

    def run(self, argv: list[str], stdin: bytes | None = None, combined: bool = True,
            env: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Run to completion: (exit status, its stdout, and stderr too if `combined`; else that goes to ours)."""
        out_r, out_w = os.pipe()
        in_r, in_w = os.pipe() if stdin is not None else (os.open(os.devnull, os.O_RDONLY), -1)
        try:
            try:
                pid = self.spawn(argv, (in_r, out_w, out_w if combined else 2), env)
            finally:
                os.close(out_w)
                os.close(in_r)
            if in_w >= 0:
                _write_all(in_w, stdin or b"")
                os.close(in_w)
                in_w = -1
            output = _read_all(out_r)
        finally:
            os.close(out_r)
            if in_w >= 0:
                os.close(in_w)
        return self.wait(pid), output

    def _reap(self) -> None:
        while True:
            with self._lock:
                generation = self._generation
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                with self._lock:
                    while self._generation == generation:
                        self._spawned.wait()
                continue
            except InterruptedError:
                continue
            self._dispatch(pid, exit_status(status))

    def _dispatch(self, pid: int, status: int) -> None:
        with self._lock:
            if pid in self._standby_pids:  # idle too long: its binary is exec'd as usual next time
                self._standby_pids.discard(pid)
                self._forget_standby(pid)
                return
            waiter = self._waiting.get(pid)
            if waiter is not None:
                waiter.status = status
                waiter.done.set()
                return
        if self.on_exit is not None:
            self.on_exit(pid, status)

    def _forget_standby(self, pid: int) -> None:
        """Under the lock: a standby that left without an order is no longer waiting."""
        for waiting in self._standbys.values():
            for entry in waiting:
                if entry[0] == pid:
                    waiting.remove(entry)
                    entry[1].close()
                    return


def which(command: str) -> str:
    """The file a command runs, as posix_spawnp finds it on PATH ("" if none): shutil.which without
    shutil (its compression modules would stay in every shim). Remembered per PATH, as each spawn asks."""
    key = (command, os.environ.get("PATH", os.defpath))
    if key not in _found:
        _found[key] = _search(*key)
    return _found[key]


def _search(command: str, path: str) -> str:
    if "/" in command:
        return os.path.abspath(command) if os.access(command, os.X_OK) else ""
    for directory in path.split(os.pathsep):
        candidate = os.path.join(directory or ".", command)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return os.path.abspath(candidate)
    return ""


_found: dict[tuple[str, str], str] = {}


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BrokenPipeError:
            return
