"""Capability sets of the container process: bounding dropped before the user changes, then
effective/permitted/inheritable set with capset(2), then ambient raised (errors ignored, as runc)."""

from __future__ import annotations

from corelib.runc import linux
from corelib.runc.errors import ignored

NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
NUMBERS = {name: i for i, name in enumerate(NAMES)}
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


class Caps:
    """The five sets of `process.capabilities` as bit masks; names this kernel lacks are collected."""

    def __init__(self, config: dict | None):
        top = last_cap()
        self.unknown: list[str] = []
        self.masks = {}
        for kind in SETS:
            mask = 0
            for name in (config or {}).get(kind) or []:
                n = NUMBERS.get(name)
                if n is None or n > top:
                    if name not in self.unknown:
                        self.unknown.append(name)
                    continue
                mask |= 1 << n
            self.masks[kind] = mask
        self.top = top

    def apply_bounding(self) -> None:
        effective = linux.capget()[0]
        if not effective & (1 << NUMBERS["CAP_SETPCAP"]):
            return
        for cap in range(self.top + 1):
            if self.masks["bounding"] & (1 << cap):
                continue
            try:
                linux.prctl(linux.PR_CAPBSET_DROP, cap)
            except OSError as e:
                if e.errno != 22:  # EINVAL: not a capability of this kernel
                    raise

    def apply(self) -> None:
        self.apply_bounding()
        linux.capset(self.masks["effective"], self.masks["permitted"], self.masks["inheritable"])
        for cap in range(self.top + 1):
            raise_it = self.masks["ambient"] & (1 << cap)
            # ambient needs the cap in permitted and inheritable; runc ignores the failure too
            with ignored(OSError):
                linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_RAISE if raise_it else 3, cap)
