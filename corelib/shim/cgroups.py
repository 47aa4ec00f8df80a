"""The container's cgroup, read for Task.Stats and watched for OOM kills (what containerd/cgroups does
for the real shim): v1 hierarchies found through /proc/self/mountinfo, or the v2 unified tree."""

from __future__ import annotations

import contextlib
import os
import threading

from corelib import errdefs

CGROUP_ROOT = "/sys/fs/cgroup"
USER_HZ = os.sysconf("SC_CLK_TCK")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def unified() -> bool:
    return os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))


def directories(cgroup: str) -> list[str]:
    """`cgroup` (a path from a hierarchy's root) in each hierarchy that has it: the v2 tree on a unified
    machine, else the v1 hierarchies, as containerd/cgroups' Load."""
    if unified():
        candidates = [os.path.join(CGROUP_ROOT, cgroup.lstrip("/"))]
    else:
        candidates = [os.path.join(point, cgroup.lstrip("/")) for point, _ in set(v1_mounts().values())]
    return [candidate for candidate in candidates if os.path.isdir(candidate)]


def add_proc(directory: str, pid: int) -> None:
    """Move `pid` (its whole thread group) into the cgroup at `directory`."""
    fd = os.open(os.path.join(directory, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(pid).encode())
    finally:
        os.close(fd)


def process_cgroups(pid: int) -> dict[str, str]:
    """{controller: path} from /proc/PID/cgroup; the v2 path is under the key ""."""
    paths = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller.removeprefix("name=")] = path
    return paths


def v1_mounts() -> dict[str, tuple[str, str]]:
    """{controller: (mount point, root of the hierarchy it shows)} of the cgroup v1 mounts."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] != "cgroup":
                continue
            for option in fields[sep + 3].split(","):
                mounts.setdefault(option.removeprefix("name="), (fields[4], fields[3]))
    return mounts


def v1_dirs(pid: int) -> dict[str, str]:
    """{controller: directory} of the cgroups `pid` is in, for every mounted v1 controller."""
    mounts, dirs = v1_mounts(), {}
    for controller, path in process_cgroups(pid).items():
        if controller in mounts:
            mount_point, root = mounts[controller]
            dirs[controller] = os.path.join(mount_point, os.path.relpath(path, root).removeprefix("."))
    return dirs


def read_int(path: str) -> int:
    try:
        with open(path) as f:
            value = f.read().strip()
    except OSError:
        return 0
    return 0 if value in ("max", "") else int(value)


def read_flat(path: str) -> dict[str, int]:
    """A `key value` per line file (memory.stat, cpu.stat, memory.events...)."""
    values = {}
    with contextlib.suppress(OSError), open(path) as f:
        for line in f:
            key, _, value = line.partition(" ")
            if value.strip().lstrip("-").isdigit():
                values[key] = int(value)
    return values


def stats(pid: int) -> tuple[str, bytes]:
    """(Any type url, value) of the metrics of the cgroup `pid` is in."""
    if not pid or not os.path.exists(f"/proc/{pid}"):
        raise errdefs.NotFound("cgroup does not exist: not found")
    if unified():
        path = os.path.join(CGROUP_ROOT, process_cgroups(pid)[""].lstrip("/"))
        return "io.containerd.cgroups.v2.Metrics", v2_metrics(path).SerializeToString()
    return "io.containerd.cgroups.v1.Metrics", v1_metrics(pid).SerializeToString()


def v1_metrics(pid: int):
    from corelib.api.cgroups.v1 import metrics_pb2 as v1

    metrics, dirs = v1.Metrics(), v1_dirs(pid)
    if pids := dirs.get("pids"):
        metrics.pids.current, metrics.pids.limit = read_int(f"{pids}/pids.current"), read_int(f"{pids}/pids.max")
    if cpuacct := dirs.get("cpuacct"):
        usage = metrics.cpu.usage
        usage.total = read_int(f"{cpuacct}/cpuacct.usage")
        ticks = read_flat(f"{cpuacct}/cpuacct.stat")
        usage.kernel, usage.user = (ticks.get(k, 0) * 1_000_000_000 // USER_HZ for k in ("system", "user"))
        with contextlib.suppress(OSError), open(f"{cpuacct}/cpuacct.usage_percpu") as f:
            usage.per_cpu.extend(int(v) for v in f.read().split())
    if cpu := dirs.get("cpu"):
        throttled = read_flat(f"{cpu}/cpu.stat")
        metrics.cpu.throttling.periods = throttled.get("nr_periods", 0)
        metrics.cpu.throttling.throttled_periods = throttled.get("nr_throttled", 0)
        metrics.cpu.throttling.throttled_time = throttled.get("throttled_time", 0)
    if memory := dirs.get("memory"):
        v1_memory(metrics, memory)
    return metrics


V1_MEMORY_STAT = {"pgpgin": "pg_pg_in", "pgpgout": "pg_pg_out", "pgfault": "pg_fault", "pgmajfault": "pg_maj_fault",
                  "hierarchical_memsw_limit": "hierarchical_swap_limit"}


def v1_memory(metrics, memory: str) -> None:
    stat = metrics.memory
    for key, value in read_flat(f"{memory}/memory.stat").items():
        total = key.startswith("total_")
        name = V1_MEMORY_STAT.get(key.removeprefix("total_"), key.removeprefix("total_"))
        name = f"total_{name}" if total else name
        set_scalar(stat, name, value)
    for entry, prefix in ((stat.usage, "memory"), (stat.swap, "memory.memsw"), (stat.kernel, "memory.kmem"),
                          (stat.kernel_tcp, "memory.kmem.tcp")):
        entry.usage = read_int(f"{memory}/{prefix}.usage_in_bytes")
        entry.max = read_int(f"{memory}/{prefix}.max_usage_in_bytes")
        entry.limit = read_int(f"{memory}/{prefix}.limit_in_bytes")
        entry.failcnt = read_int(f"{memory}/{prefix}.failcnt")
    oom = read_flat(f"{memory}/memory.oom_control")
    metrics.memory_oom_control.oom_kill_disable = oom.get("oom_kill_disable", 0)
    metrics.memory_oom_control.under_oom = oom.get("under_oom", 0)
    metrics.memory_oom_control.oom_kill = oom.get("oom_kill", 0)


def set_scalar(message, name: str, value: int) -> None:
    """Copy a stat file's `name value` into the field of that name, if it is a number field."""
    field = message.DESCRIPTOR.fields_by_name.get(name)
    if field is not None and field.message_type is None:
        setattr(message, name, value)


def v2_metrics(path: str):
    from corelib.api.cgroups.v2 import metrics_pb2 as v2

    metrics = v2.Metrics()
    metrics.pids.current, metrics.pids.limit = read_int(f"{path}/pids.current"), read_int(f"{path}/pids.max")
    for target, values in ((metrics.cpu, read_flat(f"{path}/cpu.stat")),
                           (metrics.memory, read_flat(f"{path}/memory.stat")),
                           (metrics.memory_events, read_flat(f"{path}/memory.events"))):
        for key, value in values.items():
            set_scalar(target, key, value)
    metrics.memory.usage = read_int(f"{path}/memory.current")
    metrics.memory.usage_limit = read_int(f"{path}/memory.max")
    metrics.memory.swap_usage = read_int(f"{path}/memory.swap.current")
    metrics.memory.swap_limit = read_int(f"{path}/memory.swap.max")
    return metrics


class OOMWatch:
    """cgroup v1: an eventfd registered on memory.oom_control fires on every OOM in the cgroup."""

    def __init__(self, memory_dir: str, notify: Callable[[], None]):
        self.memory_dir = memory_dir
        self.notify = notify
        self._event = os.eventfd(0, os.EFD_CLOEXEC)
        control = os.open(f"{memory_dir}/memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        try:
            with open(f"{memory_dir}/cgroup.event_control", "w") as f:
                f.write(f"{self._event} {control}")
        except OSError:
            os.close(self._event)
            raise
        finally:
            os.close(control)
        self._closed = False
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="oom", daemon=True).start()

    def _run(self) -> None:
        try:
            while True:
                os.eventfd_read(self._event)
                # the eventfd also fires when the cgroup goes away (and on close()): that is no OOM
                if self._closed or not os.path.exists(f"{self.memory_dir}/memory.oom_control"):
                    return
                self.notify()
        finally:
            with self._lock:
                self._closed = True
                os.close(self._event)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.eventfd_write(self._event, 1)


def watch_oom(pid: int, notify: Callable[[], None]) -> OOMWatch | None:
    if unified():
        return None  # v2 reports OOM kills in memory.events; not watched by this shim yet
    memory = v1_dirs(pid).get("memory")
    return OOMWatch(memory, notify) if memory else None
