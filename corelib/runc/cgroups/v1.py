"""cgroup v1: one directory per controller hierarchy (runc's cgroups/fs). On a hybrid host the
container also joins the unified hierarchy (key ""), as runc does."""

import os
import time

from corelib.runc.cgroups import frozen, ignorable, own_cgroup_paths, read_file, read_pids, remove_path, write_file
from corelib.runc.errors import RuncError

SUBSYSTEMS = ("cpuset", "cpu", "cpuacct", "memory", "devices", "freezer", "net_cls", "net_prio", "blkio",
              "perf_event", "pids", "hugetlb", "rdma", "misc", "name=systemd")


def cgroup_mounts() -> dict[str, tuple[str, str]]:
    """{subsystem: (mountpoint, root of the mount)} for every v1 hierarchy, plus "" for a cgroup2 mount."""
    found: dict[str, tuple[str, str]] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, superopts = fields[sep + 1], fields[sep + 3]
            root, point = fields[3], fields[4].replace("\\040", " ")
            if fstype == "cgroup":
                for opt in superopts.split(","):
                    if opt in SUBSYSTEMS and opt not in found:
                        found[opt] = (point, root)
            elif fstype == "cgroup2" and "" not in found:
                found[""] = (point, root)
    return found


class Manager:
    driver = "v1"

    def __init__(self, paths: dict[str, str], rootless: bool = False):
        self.paths = dict(paths)
        self.rootless = rootless
        self.explicit = True

    @classmethod
    def for_path(cls, inner: str, rootless: bool, explicit: bool) -> "Manager":
        own = own_cgroup_paths() if not inner.startswith("/") else {}
        paths = {}
        for subsystem, (point, root) in cgroup_mounts().items():
            if inner.startswith("/"):
                paths[subsystem] = os.path.join(point, inner.lstrip("/"))
            else:
                base = os.path.relpath(own.get(subsystem, "/"), root) if root != "/" else own.get(subsystem, "/")
                paths[subsystem] = os.path.normpath(os.path.join(point, base.lstrip("/"), inner))
        m = cls(paths, rootless)
        m.explicit = explicit
        return m

    def to_state(self) -> dict:
        return {"driver": self.driver, "paths": self.paths, "rootless": self.rootless}

    def apply(self, pid: int, resources: dict | None = None) -> None:
        """Create the cgroups and move `pid` in (before it forks, so nothing escapes)."""
        cpu = (resources or {}).get("cpu") or {}
        for subsystem, path in list(self.paths.items()):
            try:
                if subsystem == "cpuset":
                    self._make_cpuset(path, cpu.get("cpus", ""), cpu.get("mems", ""))
                else:
                    os.makedirs(path, exist_ok=True)
                write_file(path, "cgroup.procs", str(pid))
            except (OSError, RuncError) as e:
                if self.rootless and not self.explicit and ignorable(e):
                    del self.paths[subsystem]
                    continue
                raise RuncError(f"unable to apply cgroup configuration: {e}") from None

    def _make_cpuset(self, path: str, cpus: str, mems: str) -> None:
        """A new cpuset starts empty and cannot take tasks: fill it (and any new parent) from its parent."""
        missing = []
        p = path
        while not os.path.isdir(p):
            missing.append(p)
            p = os.path.dirname(p)
        for d in reversed(missing):
            os.mkdir(d)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not read_file(d, name):
                    write_file(d, name, read_file(os.path.dirname(d), name))
        if cpus:
            write_file(path, "cpuset.cpus", cpus)
        if mems:
            write_file(path, "cpuset.mems", mems)

    def set(self, resources: dict, devices: list | None = None) -> None:
        """Write the limits of an OCI LinuxResources; unset or zero values are left alone."""
        r = resources or {}
        if r.get("unified"):
            raise RuncError("invalid configuration: cannot use unified on cgroup v1")
        self._set_memory(r.get("memory") or {})
        self._set_cpu(r.get("cpu") or {})
        self._set_pids(r.get("pids") or {})
        self._set_blkio(r.get("blockIO") or {})
        self._set_misc(r)
        if devices is not None and not self.rootless:
            path = self._path("devices", required=bool(devices))
            if path:
                from corelib.runc.cgroups.devices import v1_rules

                for file, rule in v1_rules(devices):
                    write_file(path, file, rule)

    def _path(self, subsystem: str, required: bool = True) -> str | None:
        path = self.paths.get(subsystem)
        if path is None and required:
            raise RuncError(f"cannot set {subsystem} limit: container could not join or create cgroup")
        return path

    def _set_memory(self, mem: dict) -> None:
        limit, swap = mem.get("limit") or 0, mem.get("swap") or 0
        if mem:
            path = self._path("memory", required=bool(limit or swap or mem.get("reservation")))
            if not path:
                return
        else:
            return
        if limit == -1 and swap == 0:
            swap = -1
        order = []
        if limit and swap:
            current = int(read_file(path, "memory.limit_in_bytes"))
            if swap == -1 or current < swap:
                order = [("memory.memsw.limit_in_bytes", swap), ("memory.limit_in_bytes", limit)]
        if not order:
            order = [(f, v) for f, v in (("memory.limit_in_bytes", limit), ("memory.memsw.limit_in_bytes", swap)) if v]
        for name, value in order:
            if name.startswith("memory.memsw") and not os.path.exists(os.path.join(path, name)):
                if value != -1:
                    raise RuncError("invalid memory resources: swap limit is not supported on this kernel")
                continue
            try:
                write_file(path, name, str(value))
            except RuncError as e:
                busy = getattr(e.__cause__, "errno", 0) == 16
                if busy and name == "memory.limit_in_bytes":
                    usage = read_file(path, "memory.usage_in_bytes")
                    peak = read_file(path, "memory.max_usage_in_bytes")
                    raise RuncError(f"unable to set memory limit to {value} (current usage: {usage}, "
                                    f"peak usage: {peak})") from None
                raise
        if mem.get("reservation"):
            write_file(path, "memory.soft_limit_in_bytes", str(mem["reservation"]))
        if mem.get("swappiness") is not None and mem["swappiness"] != -1:
            if not 0 <= mem["swappiness"] <= 100:
                raise RuncError(f"invalid memory swappiness value: {mem['swappiness']} (valid range is 0-100)")
            write_file(path, "memory.swappiness", str(mem["swappiness"]))
        if mem.get("disableOOMKiller"):
            write_file(path, "memory.oom_control", "1")

    def _set_cpu(self, cpu: dict) -> None:
        if cpu.get("shares") or cpu.get("period") or cpu.get("quota") or cpu.get("realtimePeriod") \
                or cpu.get("realtimeRuntime"):
            path = self._path("cpu")
            if cpu.get("shares"):
                write_file(path, "cpu.shares", str(cpu["shares"]))
                actual = int(read_file(path, "cpu.shares"))
                if actual != cpu["shares"]:
                    bound = "maximum" if cpu["shares"] > actual else "minimum"
                    raise RuncError(f"the {bound} allowed cpu-shares is {actual}")
            if cpu.get("period"):
                write_file(path, "cpu.cfs_period_us", str(cpu["period"]))
            if cpu.get("quota"):
                write_file(path, "cpu.cfs_quota_us", str(cpu["quota"]))
            if cpu.get("realtimePeriod"):
                write_file(path, "cpu.rt_period_us", str(cpu["realtimePeriod"]))
            if cpu.get("realtimeRuntime"):
                write_file(path, "cpu.rt_runtime_us", str(cpu["realtimeRuntime"]))
        if cpu.get("cpus"):
            write_file(self._path("cpuset"), "cpuset.cpus", cpu["cpus"])
        if cpu.get("mems"):
            write_file(self._path("cpuset"), "cpuset.mems", cpu["mems"])

    def _set_pids(self, pids: dict) -> None:
        limit = pids.get("limit") or 0
        if limit:
            write_file(self._path("pids"), "pids.max", str(limit) if limit > 0 else "max")

    def _set_blkio(self, io: dict) -> None:
        if not any(io.values()):
            return
        path = self._path("blkio")
        if io.get("weight"):
            name = "blkio.weight" if os.path.exists(os.path.join(path, "blkio.weight")) else "blkio.bfq.weight"
            write_file(path, name, str(io["weight"]))
        if io.get("leafWeight"):
            write_file(path, "blkio.leaf_weight", str(io["leafWeight"]))
        for d in io.get("weightDevice") or []:
            if d.get("weight"):
                write_file(path, "blkio.weight_device", f"{d['major']}:{d['minor']} {d['weight']}")
            if d.get("leafWeight"):
                write_file(path, "blkio.leaf_weight_device", f"{d['major']}:{d['minor']} {d['leafWeight']}")
        for key, name in (("throttleReadBpsDevice", "read_bps"), ("throttleWriteBpsDevice", "write_bps"),
                          ("throttleReadIOPSDevice", "read_iops"), ("throttleWriteIOPSDevice", "write_iops")):
            for d in io.get(key) or []:
                write_file(path, f"blkio.throttle.{name}_device", f"{d['major']}:{d['minor']} {d['rate']}")

    def _set_misc(self, r: dict) -> None:
        for limit in r.get("hugepageLimits") or []:
            write_file(self._path("hugetlb"), f"hugetlb.{limit['pageSize']}.limit_in_bytes", str(limit["limit"]))
        net = r.get("network") or {}
        if net.get("classID"):
            write_file(self._path("net_cls"), "net_cls.classid", str(net["classID"]))
        for prio in net.get("priorities") or []:
            write_file(self._path("net_prio"), "net_prio.ifpriomap", f"{prio['name']} {prio['priority']}")

    def freeze(self, frozen: bool) -> None:
        path = self._path("freezer")
        want = "FROZEN" if frozen else "THAWED"
        for attempt in range(1000):
            if frozen and attempt and attempt % 50 == 0:
                write_file(path, "freezer.state", "THAWED")  # a stuck FREEZING: retry from scratch, as runc does
            write_file(path, "freezer.state", want)
            if read_file(path, "freezer.state") == want:
                return
            time.sleep(0.001 * min(attempt + 1, 10))
        raise RuncError(f"unable to freeze: freezer.state stuck at {read_file(path, 'freezer.state')}")

    def frozen(self) -> bool:
        return frozen(self.to_state())

    def pids(self) -> list[int]:
        path = self.paths.get("devices") or self.paths.get("pids") or next(iter(self.paths.values()), None)
        return read_pids(path) if path and os.path.isdir(path) else []

    def exists(self) -> bool:
        return any(os.path.isdir(p) for p in self.paths.values())

    def destroy(self) -> None:
        errors = []
        for path in self.paths.values():
            try:
                remove_path(path)
            except RuncError as e:
                errors.append(str(e))
        if errors:
            raise RuncError("; ".join(errors))

