"""Starting a container process, from the runtime's side (runc's process_linux.go and nsexec.c).

The runtime forks stage 1, which joins the namespaces given by path, unshares the new ones (the
user namespace first, mapped by the runtime) and, for a pid namespace, forks stage 2: the
container's init (init.py). Runtime and child talk over a pair of pipes, one JSON message a line,
in lock step: `pid`; `cgroups` (the init moved into them, while it began its mounts); `hooks`
(cgroup limits set, prestart/createRuntime hooks run); `ready` (rlimits set, state saved); `done`.
An `error` message carries the child's failure."""

from __future__ import annotations

import _signal as signal  # the C module: `signal` wraps it in enums, which costs start-up
import os
import sys

from corelib import jsonlite as json
from corelib.runc import linux
from corelib.runc.errors import RuncError, describe, ignored, strerror


class ChildGone(RuncError):
    pass


class Channel:
    """One JSON object per line over a pipe pair; both ends survive fork and close on exec."""

    def __init__(self, rfd: int, wfd: int):
        self.rfd, self.wfd, self.buf = rfd, wfd, b""

    @staticmethod
    def pair() -> tuple[Channel, Channel]:
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        return Channel(up_r, down_w), Channel(down_r, up_w)

    def send(self, kind: str, **fields: object) -> None:
        if self.wfd < 0:
            raise OSError(9, "channel closed")
        data = (json.dumps({"type": kind, **fields}) + "\n").encode()
        while data:
            data = data[os.write(self.wfd, data):]

    def recv(self) -> dict | None:
        while b"\n" not in self.buf:
            try:
                chunk = os.read(self.rfd, 65536)
            except InterruptedError:
                continue
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def expect(self, *kinds: str) -> dict:
        msg = self.recv()
        if msg is None:
            raise ChildGone("container init exited unexpectedly")
        if msg["type"] == "error":
            raise RuncError(msg["msg"])
        if msg["type"] not in kinds:
            raise RuncError(f"unexpected message {msg['type']!r} from container init, wanted {kinds}")
        return msg

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            if fd >= 0:
                os.close(fd)
        self.rfd = self.wfd = -1


class ProcessConfig:
    """Everything the forked stages need; they read it from memory, nothing is serialised."""

    def __init__(self, **fields: object):
        self.container_id = ""
        self.spec: dict = {}
        self.process: dict = {}
        self.rootfs = ""
        self.bundle = ""
        self.namespaces: list[tuple[str, str]] = []  # (type, path) in joining order
        self.mounts: list = []
        self.devices: list[dict] = []
        self.state_dir_fd: int | None = None  # where the init finds exec.fifo
        self.console = None  # a connected socket.socket when the process gets a terminal
        self.no_pivot = False
        self.no_new_keyring = False
        self.rootless_euid = False
        self.preserve_fds = 0
        self.logger = None
        self.cgroupns = False
        self.init = True
        self.seccomp_program: bytes | None = None  # compiled in stage 1
        unknown = set(fields) - set(vars(self))
        if unknown:
            raise TypeError(f"unknown process settings: {sorted(unknown)}")
        self.__dict__.update(fields)

    def new_namespaces(self) -> list[str]:
        return [kind for kind, path in self.namespaces if not path]

    def joined_namespaces(self) -> list[tuple[str, str]]:
        return [(kind, path) for kind, path in self.namespaces if path]

    @property
    def new_userns(self) -> bool:
        return "user" in self.new_namespaces()

    @property
    def needs_fork(self) -> bool:
        return any(kind == "pid" for kind, _ in self.namespaces)


def default_signals() -> None:
    """Python starts with SIGPIPE and SIGXFSZ ignored; an ignored signal survives execve, so put them
    back before running anything else."""
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)


def flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with ignored(OSError, ValueError):
            stream.flush()


def fork_child(cfg: ProcessConfig, body: str) -> tuple[int, Channel]:
    """Fork stage 1; init.`body`(cfg, channel) runs in stage 2 and never returns. The init's code is
    imported in stage 1, beside the runtime's own work after the fork, not before it."""
    parent, child = Channel.pair()
    flush_stdio()
    pid = os.fork()
    if pid == 0:
        parent.close()
        stage1(cfg, child, body)
    child.close()
    return pid, parent


def stage1(cfg: ProcessConfig, chan: Channel, body: str) -> None:
    """Join and unshare namespaces; fork again into a pid namespace. Exits, or becomes stage 2."""
    try:
        linux.set_name("runc:[1:CHILD]")
        from corelib.runc import init

        cfg.seccomp_program = init.preload(cfg)  # while the interpreter's files are still within reach
        chan.expect("go")
        init.close_exec_from(3 + cfg.preserve_fds)  # while /proc/self/fd is the host's, before any setns
        join_namespaces(cfg.joined_namespaces())
        from corelib.runc.spec import NAMESPACES

        new = cfg.new_namespaces()
        if "user" in new:
            linux.unshare(linux.CLONE_NEWUSER)
            chan.send("usermap")
            chan.expect("usermap-ack")
            os.setresuid(0, 0, 0)
        flags = sum(NAMESPACES[k][0] for k in new if k not in ("user", "cgroup"))
        if flags:
            try:
                linux.unshare(flags)
            except OSError as e:
                raise RuncError(f"failed to unshare remaining namespaces (except cgroupns): "
                                f"{strerror(e.errno or 0)}") from None
        if cfg.needs_fork:
            flush_stdio()
            pid = os.fork()
            if pid:
                chan.send("pid", pid=pid)
                os._exit(0)
        else:
            chan.send("pid", pid=os.getpid())
        getattr(init, body)(cfg, chan)
    except BaseException as e:  # every failure goes to the runtime, nothing unwinds into its code
        report(chan, e, cfg.logger)
    os._exit(1)


def report(chan: Channel, e: BaseException, logger=None) -> None:
    """Tell the runtime; once it has gone (after `done`), the log is the only place left to say it."""
    try:
        chan.send("error", msg=describe(e))
    except OSError:
        if logger is not None:
            logger.error(describe(e))


def join_namespaces(joined: list[tuple[str, str]]) -> None:
    """setns into each namespace given by path; all are opened first, the user namespace joined first."""
    from corelib.runc.spec import NAMESPACES

    fds = []
    for kind, path in joined:
        try:
            fds.append((kind, path, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
        except OSError as e:
            raise RuncError(f"failed to open {path}: {strerror(e.errno or 0)}") from None
    for kind, path, fd in fds:
        try:
            linux.setns(fd, NAMESPACES[kind][0])
        except OSError as e:
            raise RuncError(f"failed to setns into {kind} namespace (with path {path}): "
                            f"{strerror(e.errno or 0)}") from None
        finally:
            os.close(fd)


def write_id_maps(pid: int, linux_spec: dict, rootless: bool) -> None:
    """The runtime writes the child's uid_map/gid_map (a child cannot map itself with privilege)."""
    def lines(key: str) -> str:
        return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux_spec.get(key) or [])

    try:
        if rootless:
            with open(f"/proc/{pid}/setgroups", "w") as f:
                f.write("deny")
        for name, key in (("uid_map", "uidMappings"), ("gid_map", "gidMappings")):
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(lines(key))
    except OSError as e:
        raise RuncError(f"failed to write user namespace mappings of {pid}: {describe(e)}") from None


def set_rlimits(pid: int, rlimits: list[dict]) -> None:
    from corelib.runc.spec import RLIMITS

    for r in rlimits or []:
        try:
            linux.prlimit(pid, RLIMITS[r["type"]], r.get("soft", 0), r.get("hard", 0))
        except OSError as e:
            raise RuncError(f"error setting rlimit type {RLIMITS[r['type']]}: {strerror(e.errno or 0)}") from None


def kill_quietly(*pids: int | None) -> None:
    for pid in pids:
        if pid:
            with ignored(OSError):
                os.kill(pid, signal.SIGKILL)


def reap(pid: int) -> int | None:
    """waitpid for a direct child; its exit code, or None if it is not ours to wait for."""
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except ChildProcessError:
        return None


def forward_and_wait(pid: int) -> int:
    """Wait for `pid` (a child, or an orphan we reap as subreaper), passing our signals on to it.
    Returns its exit code as a shell reports it (128 + signal)."""
    forwarded = [s for s in signal.valid_signals()
                 if s not in (signal.SIGCHLD, signal.SIGKILL, signal.SIGSTOP, signal.SIGWINCH, signal.SIGURG)
                 and s < signal.SIGRTMIN]
    previous = {}
    for s in forwarded:
        with ignored(OSError, ValueError):
            previous[s] = signal.signal(s, lambda sig, _frame: _pass_on(pid, sig))
    try:
        while True:
            try:
                done, status = os.waitpid(-1, 0)
            except InterruptedError:
                continue
            except ChildProcessError:
                return 255
            if done == pid:
                code = os.waitstatus_to_exitcode(status)
                return 128 - code if code < 0 else code
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _pass_on(pid: int, sig: int) -> None:
    with ignored(OSError):
        os.kill(pid, sig)


def write_pid_file(path: str, pid: int) -> None:
    """Atomically, as runc: a temporary file renamed into place."""
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        os.write(fd, str(pid).encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)


class Janitor:
    """Cleans up after a `create` killed midway (kill -9): a forked watcher holding a pipe from us.
    If the pipe closes before we say `done`, it kills the half-made container and removes its
    cgroups and state directory, so nothing is left behind."""

    def __init__(self, state_dir: str, cgroups):
        self.state_dir, self.cgroups = state_dir, cgroups
        self.pids: list[int] = []
        self.pid = self.fd = -1

    def start(self) -> None:
        read_end, self.fd = os.pipe()
        flush_stdio()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.fd)
            try:
                self._watch(read_end, self.state_dir, self.cgroups)
            finally:
                os._exit(0)
        os.close(read_end)

    def tell(self, pid: int) -> None:
        os.write(self.fd, f"{pid}\n".encode())

    def done(self) -> None:
        if self.fd >= 0:
            os.write(self.fd, b"done\n")
            os.close(self.fd)
            self.fd = -1
            reap(self.pid)

    @staticmethod
    def _watch(fd: int, state_dir: str, cgroups) -> None:
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        for std in range(3):
            os.dup2(null, std)
        os.closerange(3, fd)
        os.closerange(fd + 1, 65536)
        data = b""
        while chunk := os.read(fd, 4096):  # EOF: our parent is gone (the container's init has no copy)
            data += chunk
            if b"done\n" in data:
                return
        for line in data.split():
            kill_quietly(int(line))
        from corelib.runc.container import remove_all, wait_cgroup_empty

        wait_cgroup_empty(cgroups)
        with ignored(RuncError):
            cgroups.destroy()
        remove_all(state_dir)
