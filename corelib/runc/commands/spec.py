"""`spec [--rootless] [--bundle DIR]`: write runc's example config.json."""

from corelib.runc.cli import Flag
from corelib.runc.errors import RuncError

USAGE = ""
ARGS = (0, 0)
FLAGS = (
    Flag("bundle, b", str, "", "path to the root of the bundle directory"),
    Flag("rootless", bool, False, "generate a configuration for a rootless container"),
)

CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def example() -> dict:
    """The spec `runc spec` writes (runc's specconv.Example)."""
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(CAPS) for k in ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                            "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def to_rootless(spec: dict) -> dict:
    """runc's specconv.ToRootless: no network namespace, a user namespace mapping only the caller,
    /sys bound from the host, no uid=/gid= mount options, no cgroup limits."""
    import os

    linux = spec["linux"]
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] not in ("network", "user")]
    linux["namespaces"].append({"type": "user"})
    linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    mounts = []
    for m in spec["mounts"]:
        if os.path.normpath(m["destination"]) == "/sys":
            mounts.append({"destination": "/sys", "type": "none", "source": "/sys",
                           "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
            continue
        if "options" in m:
            m["options"] = [o for o in m["options"] if not o.startswith(("gid=", "uid="))]
        mounts.append(m)
    spec["mounts"] = mounts
    linux.pop("resources", None)
    # key order as runc's struct: uidMappings, gidMappings before namespaces
    spec["linux"] = {k: linux[k] for k in ("uidMappings", "gidMappings", "namespaces", "maskedPaths", "readonlyPaths")}
    return spec


def run(ctx, opts: dict, args: list[str]) -> int:
    import os

    from corelib import jsonlite as json

    bundle = opts["bundle"]
    if bundle and not os.path.isdir(bundle):
        raise RuncError(f"chdir {bundle}: no such file or directory")
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise RuncError("File config.json exists. Remove it first")
    spec = to_rootless(example()) if opts["rootless"] else example()
    with open(path, "w") as f:
        f.write(json.dumps(spec, indent="\t"))
    return 0
