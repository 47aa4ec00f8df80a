"""Docker's default Linux runtime spec (moby's oci/defaults.go): the mounts every container gets,
the masked and read-only /proc and /sys paths, the namespaces, and the device cgroup rules."""

from __future__ import annotations

import copy

from corelib.oci.caps import DEFAULT_CAPABILITIES

OCI_VERSION = "1.0.2-dev"

MASKED_PATHS = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def _cgroup_rule(allow: bool, kind: str | None = None, major: int | None = None, minor: int | None = None) -> dict:
    rule: dict = {"allow": allow}
    if kind:
        rule.update(type=kind, major=major, minor=minor)
    rule["access"] = "rwm"
    return rule


#: Deny every device, then allow /dev/null, zero, full, urandom, random, tty, console... and deny
#: /dev/rtc explicitly (10:229), as Docker does; runc adds its own default device nodes.
DEFAULT_DEVICE_RULES = (
    _cgroup_rule(False),
    _cgroup_rule(True, "c", 1, 5), _cgroup_rule(True, "c", 1, 3), _cgroup_rule(True, "c", 1, 9),
    _cgroup_rule(True, "c", 1, 8), _cgroup_rule(True, "c", 5, 0), _cgroup_rule(True, "c", 5, 1),
    _cgroup_rule(False, "c", 10, 229),
)

_MOUNTS = (
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["ro", "nosuid", "noexec", "nodev"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777"]},
)


def default_linux_spec() -> dict:
    """A fresh copy of the default spec; the daemon fills in process, root, hostname and the rest."""
    caps = list(DEFAULT_CAPABILITIES)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "user": {"uid": 0, "gid": 0},
            "args": [],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": list(caps), "permitted": list(caps)},
        },
        "root": {"path": ""},
        "mounts": copy.deepcopy(list(_MOUNTS)),
        "linux": {
            "resources": {"devices": copy.deepcopy(list(DEFAULT_DEVICE_RULES))},
            "namespaces": [{"type": t} for t in ("mount", "network", "uts", "pid", "ipc")],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
            "devices": [],
        },
    }
