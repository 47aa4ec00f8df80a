"""cgroup v2: one directory in the unified hierarchy (runc's cgroups/fs2). Controllers are enabled
down the tree through cgroup.subtree_control; device rules become an eBPF program; freezing uses
cgroup.freeze and waits for cgroup.events to say `frozen 1`."""

import os
import time

from corelib.runc.cgroups import frozen, ignorable, own_cgroup_paths, read_file, read_pids, remove_path, write_file
from corelib.runc.cgroups.devices import attach_program
from corelib.runc.errors import RuncError, ignored


def cpu_weight(shares: int) -> int:
    """cgroup v1 cpu.shares [2, 262144] onto v2 cpu.weight [1, 10000], as runc converts."""
    return 0 if shares == 0 else 1 + ((shares - 2) * 9999) // 262142


def io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] onto io.weight [1, 10000]."""
    return 0 if weight == 0 else 1 + (weight - 10) * 9999 // 990


def swap_max(swap: int, limit: int) -> int | str | None:
    """runtime-spec's memory.swap is memory+swap; v2's memory.swap.max is swap alone."""
    if swap == -1:
        return "max"
    if swap == 0:
        return None
    if limit in (0, -1):
        raise RuncError("unable to set swap limit without memory limit")
    if limit > swap:
        raise RuncError(f"memory+swap limit ({swap}) should be greater than memory limit ({limit})")
    return swap - limit


class Manager:
    driver = "v2"

    def __init__(self, path: str, rootless: bool = False):
        self.path = path
        self.rootless = rootless
        self.explicit = True
        self.paths = {"": path}

    @classmethod
    def for_path(cls, mountpoint: str, inner: str, rootless: bool, explicit: bool) -> "Manager":
        if not inner.startswith("/"):
            inner = os.path.join(own_cgroup_paths().get("", "/"), inner)
        m = cls(os.path.normpath(os.path.join(mountpoint, inner.lstrip("/"))), rootless)
        m.root = mountpoint
        m.explicit = explicit
        return m

    root = "/sys/fs/cgroup"

    def to_state(self) -> dict:
        return {"driver": self.driver, "paths": self.paths, "rootless": self.rootless}

    def apply(self, pid: int, resources: dict | None = None) -> None:
        try:
            self._create()
            write_file(self.path, "cgroup.procs", str(pid))
        except (OSError, RuncError) as e:
            if self.rootless and not self.explicit and ignorable(e):
                self.paths = {}
                return
            raise RuncError(f"unable to apply cgroup configuration: {e}") from None

    def _create(self) -> None:
        """mkdir down from the root, enabling every available controller in each parent on the way."""
        rel = os.path.relpath(self.path, self.root)
        current = self.root
        for part in [] if rel == "." else rel.split("/"):
            available = read_file(current, "cgroup.controllers").split()
            enabled = read_file(current, "cgroup.subtree_control").split()
            wanted = [c for c in available if c not in enabled]
            if wanted:
                try:
                    write_file(current, "cgroup.subtree_control", " ".join("+" + c for c in wanted))
                except RuncError:
                    for c in wanted:  # some controllers cannot move (threaded, busy); take what we can
                        with ignored(RuncError):
                            write_file(current, "cgroup.subtree_control", "+" + c)
            current = os.path.join(current, part)
            os.makedirs(current, exist_ok=True)

    def set(self, resources: dict, devices: list | None = None) -> None:
        if not self.paths:
            return
        r = resources or {}
        mem = r.get("memory") or {}
        limit, swap = mem.get("limit") or 0, mem.get("swap") or 0
        swap_value = swap_max(swap, limit)
        if swap_value is not None:
            self._write("memory.swap.max", swap_value)
        if limit:
            self._write("memory.max", "max" if limit == -1 else limit)
        if mem.get("reservation"):
            self._write("memory.low", mem["reservation"])
        cpu = r.get("cpu") or {}
        if cpu.get("shares"):
            self._write("cpu.weight", cpu_weight(cpu["shares"]))
        if cpu.get("quota") or cpu.get("period"):
            quota = cpu.get("quota") or 0
            self._write("cpu.max", f"{'max' if quota <= 0 else quota} {cpu.get('period') or 100000}")
        if cpu.get("cpus"):
            self._write("cpuset.cpus", cpu["cpus"])
        if cpu.get("mems"):
            self._write("cpuset.mems", cpu["mems"])
        pids = (r.get("pids") or {}).get("limit") or 0
        if pids:
            self._write("pids.max", "max" if pids < 0 else pids)
        self._set_io(r.get("blockIO") or {})
        for h in r.get("hugepageLimits") or []:
            self._write(f"hugetlb.{h['pageSize']}.max", h["limit"])
        for key, value in (r.get("unified") or {}).items():
            if "/" in key:
                raise RuncError(f'unified resource "{key}" must be a file name (no slashes)')
            self._write(key, value)
        if devices and not self.rootless:
            try:
                attach_program(self.path, devices)
            except OSError as e:
                raise RuncError(f"unable to set device rules: {e.strerror}") from None

    def _set_io(self, io: dict) -> None:
        if io.get("weight"):
            self._write("io.weight", io_weight(io["weight"]))
        for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                          ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
            for d in io.get(key) or []:
                self._write("io.max", f"{d['major']}:{d['minor']} {name}={d['rate']}")

    def _write(self, name: str, value: object) -> None:
        if not os.path.exists(os.path.join(self.path, name)):
            controller = name.split(".", 1)[0]
            raise RuncError(f"cannot set {name}: controller {controller} is not enabled in {self.path}")
        write_file(self.path, name, str(value))

    def freeze(self, frozen: bool) -> None:
        write_file(self.path, "cgroup.freeze", "1" if frozen else "0")
        want = f"frozen {1 if frozen else 0}"
        for _ in range(2000):
            if want in read_file(self.path, "cgroup.events").splitlines():
                return
            time.sleep(0.001)
        raise RuncError(f"unable to {'freeze' if frozen else 'thaw'} {self.path}")

    def frozen(self) -> bool:
        return frozen(self.to_state())

    def pids(self) -> list[int]:
        return read_pids(self.path) if self.paths and os.path.isdir(self.path) else []

    def exists(self) -> bool:
        return bool(self.paths) and os.path.isdir(self.path)

    def destroy(self) -> None:
        if self.paths:
            remove_path(self.path)
