"""A container as the state directory `<root>/<id>/` describes it: state.json (written atomically),
exec.fifo while it is created-but-not-started, and the status runc derives from them and /proc."""

import os
import time

from corelib import jsonlite as json
from corelib.runc.errors import NOT_EXIST, NOT_RUNNING, RuncError, ignored

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
OCI_VERSION = "1.0.2-dev"

CREATED, RUNNING, PAUSED, STOPPED = "created", "running", "paused", "stopped"


def validate_id(container_id: str) -> None:
    if not container_id:
        raise RuncError("container id cannot be empty")
    ok = container_id.isascii() and all(c.isalnum() or c in "_+-." for c in container_id)
    if not ok or container_id in (".", ".."):
        raise RuncError("invalid container ID format")


def rfc3339_nano(ns: int) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped."""
    seconds, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    fraction = f"{frac:09d}".rstrip("0")
    return f"{text}{'.' + fraction if fraction else ''}Z"


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of a process, or None when there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return fields[0].decode(), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def write_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)  # no fsync: the state lives in /run (tmpfs), as runc's does
    finally:
        os.close(fd)
    os.rename(tmp, path)


class Container:
    def __init__(self, root: str, container_id: str, state: dict, cgroups=None):
        self.root = root
        self.id = container_id
        self.dir = os.path.join(root, container_id)
        self.state = state
        self._cgroups = cgroups  # made from the saved state when first needed

    @classmethod
    def load(cls, root: str, container_id: str) -> "Container":
        validate_id(container_id)
        try:
            with open(os.path.join(root, container_id, STATE_FILE), "rb") as f:
                state = json.loads(f.read())
        except (FileNotFoundError, NotADirectoryError):
            raise RuncError(NOT_EXIST) from None
        except ValueError as e:
            raise RuncError(f"unable to load state of container {container_id}: {e}") from None
        return cls(root, container_id, state)

    def save(self) -> None:
        write_atomic(os.path.join(self.dir, STATE_FILE), json.dumps(self.state).encode())

    @property
    def config(self) -> dict:
        return self.state["config"]

    @property
    def pid(self) -> int:
        return self.state["init_process_pid"]

    @property
    def cgroups(self):  # -> v1.Manager | v2.Manager
        if self._cgroups is None:
            from corelib.runc.cgroups import load_manager
            self._cgroups = load_manager(self.state.get("cgroup") or {})
        return self._cgroups

    def run_type(self) -> str:
        stat = proc_stat(self.pid)
        if stat is None or stat[1] != self.state["init_process_start"] or stat[0] in "ZXx":
            return STOPPED
        return CREATED if os.path.exists(os.path.join(self.dir, EXEC_FIFO)) else RUNNING

    def status(self) -> str:
        status = self.run_type()
        if status != STOPPED:
            from corelib.runc.cgroups import frozen

            if frozen(self.state.get("cgroup") or {}):
                return PAUSED
        return status

    @property
    def annotations(self) -> dict:
        return self.config.get("annotations") or {}

    def oci_state(self, status: str | None = None) -> dict:
        """runtime-spec's State, as hooks get it on stdin."""
        status = status or self.status()
        state = {"ociVersion": OCI_VERSION, "id": self.id, "status": status}
        if status != STOPPED:
            state["pid"] = self.pid
        state["bundle"] = self.state["bundle"]
        if self.annotations:
            state["annotations"] = self.annotations
        return state

    def state_json(self, owner: str = "") -> dict:
        """What `state` and `list` print (runc's containerState)."""
        status = self.status()
        state = {"ociVersion": OCI_VERSION, "id": self.id, "pid": 0 if status == STOPPED else self.pid,
                 "status": status, "bundle": self.state["bundle"], "rootfs": self.state["rootfs"],
                 "created": self.state["created"]}
        if self.annotations:
            state["annotations"] = self.annotations
        state["owner"] = owner
        return state

    def own_pid_namespace(self) -> bool:
        namespaces = (self.config.get("linux") or {}).get("namespaces") or []
        return any(ns.get("type") == "pid" and not ns.get("path") for ns in namespaces)

    def signal(self, sig: int, all_processes: bool = False) -> None:
        status = self.status()
        if all_processes:
            if status == STOPPED and not self.cgroups.exists():
                return
            signal_all(self.cgroups, sig)
            return
        if status == STOPPED:
            raise RuncError(NOT_RUNNING)
        try:
            os.kill(self.pid, sig)
        except OSError as e:
            from corelib.runc.errors import strerror
            raise RuncError(f"unable to signal init: {strerror(e.errno or 0)}") from None
        if status == PAUSED and sig == 9:
            self.cgroups.freeze(False)  # a frozen v1 task only dies once thawed

    def destroy(self, logger=None) -> None:
        """runc's destroy: kill what is left (when the container shares a pid namespace), remove the
        cgroups and the state directory, then run the poststop hooks."""
        errors = []
        if not self.own_pid_namespace():
            try:
                signal_all(self.cgroups, 9)
            except (RuncError, OSError) as e:
                errors.append(str(e))
        try:
            wait_cgroup_empty(self.cgroups)
            self.cgroups.destroy()
        except RuncError as e:
            errors.append(str(e))
        remove_all(self.dir)
        hooks = (self.config.get("hooks") or {}).get("poststop")
        if hooks:
            from corelib.runc.hooks import run_hooks
            try:
                run_hooks(hooks, self.oci_state(STOPPED))
            except RuncError as e:
                errors.append(str(e))
        if errors and logger is not None:
            for e in errors:
                logger.warning(e)


def signal_all(cgroups, sig: int) -> None:
    """Signal every process of the cgroup, frozen first so none forks away in the meantime."""
    frozen = False
    try:
        cgroups.freeze(True)
        frozen = True
    except (RuncError, OSError):
        pass
    for pid in cgroups.pids():
        with ignored(ProcessLookupError):
            os.kill(pid, sig)
    if frozen:
        cgroups.freeze(False)


def wait_cgroup_empty(cgroups, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.001
    while cgroups.pids() and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def remove_all(path: str) -> None:
    """rm -rf for a state directory (a few files), without shutil and the compression modules it imports."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(path)
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            remove_all(entry.path)
        else:
            with ignored(FileNotFoundError):
                os.unlink(entry.path)
    with ignored(FileNotFoundError):
        os.rmdir(path)


def list_ids(root: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(root) if e.is_dir())
    except FileNotFoundError:
        return []
