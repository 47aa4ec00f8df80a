"""Control groups behind one interface, with cgroup v1 (`v1.py`) and v2 (`v2.py`) side by side, as
runc's cgroups/fs and cgroups/fs2. A manager is built for a new container from its cgroupsPath, or
re-made from the paths saved in its state; it creates, joins, limits, freezes, lists and removes."""

import os
import time

from corelib.runc.errors import RuncError, strerror

UNIFIED_ROOT = "/sys/fs/cgroup"
IGNORABLE = (1, 13, 30)  # EPERM, EACCES, EROFS: what a rootless container may meet and go on


def ignorable(e: Exception) -> bool:
    """A permission failure a rootless container, with no cgroupsPath of its own, may ignore."""
    cause = e if isinstance(e, OSError) else e.__cause__
    return isinstance(cause, OSError) and cause.errno in IGNORABLE


def write_file(directory: str, name: str, value: str) -> None:
    path = os.path.join(directory, name)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise RuncError(f"open {path}: {strerror(e.errno or 0)}") from e
    try:
        while True:
            try:
                os.write(fd, value.encode())
                return
            except InterruptedError:
                continue
            except OSError as e:
                raise RuncError(f'failed to write "{value}": write {path}: {strerror(e.errno or 0)}') from e
    finally:
        os.close(fd)


def read_file(directory: str, name: str) -> str:
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()


def read_pids(directory: str, recursive: bool = True) -> list[int]:
    """The pids in a cgroup (and, recursively, in its descendants)."""
    pids: list[int] = []
    for dirpath, _, files in os.walk(directory) if recursive else [(directory, None, ["cgroup.procs"])]:
        if "cgroup.procs" not in (files or ["cgroup.procs"]):
            continue
        try:
            pids += [int(p) for p in read_file(dirpath, "cgroup.procs").split()]
        except (OSError, ValueError):
            continue
    return pids


def remove_path(path: str, attempts: int = 50) -> None:
    """rmdir a cgroup and its children, deepest first, retrying while exiting tasks still hold it."""
    try:
        os.rmdir(path)  # the usual case: no children, no tasks left
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    for dirpath, _dirs, _ in sorted(os.walk(path), key=lambda w: -w[0].count("/")):
        for attempt in range(attempts):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno != 16 or attempt == attempts - 1:  # EBUSY: tasks are still leaving
                    raise RuncError(f"unable to remove cgroup {dirpath}: {strerror(e.errno or 0)}") from None
                time.sleep(0.01 * (attempt + 1))


FREEZE_FILES = {"v1": ("freezer", "freezer.state", "THAWED"), "v2": ("", "cgroup.freeze", "0")}


def frozen(saved: dict) -> bool:
    """Whether a container's cgroup is frozen, from the paths its manager saved (status checks need
    no manager, nor its module)."""
    key, name, thawed = FREEZE_FILES[saved.get("driver", "v1")]
    path = (saved.get("paths") or {}).get(key)
    try:
        return bool(path) and read_file(path, name) != thawed
    except OSError:
        return False


def warm_up_migrations() -> None:
    """The first cgroup migration after a quiet spell waits out an RCU grace period (the kernel's
    cgroup_threadgroup_rwsem taken for writing, under cgroup_mutex): 5-30 ms. Those that follow within a
    grace period do not wait. So a thread moves this process into the cgroup it is already in (no
    change) while the command goes on, and the container's init, moved later, is moved at once."""
    for path in _own_procs_files():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            continue
        import _thread

        _thread.start_new_thread(_join_own_cgroup, (fd,))
        return


def _own_procs_files():
    try:
        paths = own_cgroup_paths()
    except OSError:
        return
    for controller, path in paths.items():
        mounts = (UNIFIED_ROOT, f"{UNIFIED_ROOT}/unified") if not controller else (
            f"{UNIFIED_ROOT}/{controller.removeprefix('name=')}",)
        for mount in mounts:
            yield f"{mount}{path.rstrip('/')}/cgroup.procs"


def _join_own_cgroup(fd: int) -> None:
    try:
        os.write(fd, b"0")  # 0: the writer itself
    except OSError:
        pass
    finally:
        os.close(fd)


def own_cgroup_paths() -> dict[str, str]:
    """/proc/self/cgroup as {controller: path}; the v2 entry's key is ""."""
    paths = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(","):
                paths[c] = path
    return paths


def is_unified() -> bool:
    """True when /sys/fs/cgroup itself is a cgroup2 mount (unified mode), as runc's IsCgroup2UnifiedMode."""
    return os.path.exists(os.path.join(UNIFIED_ROOT, "cgroup.controllers"))


def new_manager(cgroups_path: str, name: str, rootless: bool) -> object:
    """The manager for a new container: `cgroupsPath` from the spec, else a cgroup named after the container
    beside this process's own (runc's default)."""
    inner = os.path.normpath(cgroups_path) if cgroups_path else name
    if is_unified():
        from corelib.runc.cgroups.v2 import Manager as V2
        return V2.for_path(UNIFIED_ROOT, inner, rootless, explicit=bool(cgroups_path))
    from corelib.runc.cgroups.v1 import Manager as V1
    return V1.for_path(inner, rootless, explicit=bool(cgroups_path))


def load_manager(saved: dict) -> object:
    """A manager re-made from what `to_state()` saved."""
    if saved.get("driver") == "v2":
        from corelib.runc.cgroups.v2 import Manager as V2
        return V2(saved["paths"][""], saved.get("rootless", False))
    from corelib.runc.cgroups.v1 import Manager as V1
    return V1(saved.get("paths", {}), saved.get("rootless", False))
