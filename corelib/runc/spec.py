"""The bundle's config.json (runtime-spec 1.x): loading, runc's validation with runc's wording, and
the conversions runc's specconv makes (mount options, namespaces, devices, rlimits)."""

from __future__ import annotations

import os

from corelib import jsonlite as json
from corelib.runc import linux as _l
from corelib.runc.errors import RuncError, strerror

CONFIG = "config.json"

# namespace type -> (clone flag, name under /proc/PID/ns); the order is the order runc joins them in.
NAMESPACES = {
    "user": (0x10000000, "user"),
    "ipc": (0x08000000, "ipc"),
    "uts": (0x04000000, "uts"),
    "network": (0x40000000, "net"),
    "pid": (0x20000000, "pid"),
    "mount": (0x00020000, "mnt"),
    "cgroup": (0x02000000, "cgroup"),
}

PROPAGATION = {
    "rprivate": _l.MS_PRIVATE | _l.MS_REC, "private": _l.MS_PRIVATE,
    "rslave": _l.MS_SLAVE | _l.MS_REC, "slave": _l.MS_SLAVE,
    "rshared": _l.MS_SHARED | _l.MS_REC, "shared": _l.MS_SHARED,
    "runbindable": _l.MS_UNBINDABLE | _l.MS_REC, "unbindable": _l.MS_UNBINDABLE,
}

# option -> (clear?, flag)
MOUNT_FLAGS = {
    "acl": (False, _l.MS_POSIXACL), "async": (True, _l.MS_SYNCHRONOUS), "atime": (True, _l.MS_NOATIME),
    "bind": (False, _l.MS_BIND), "defaults": (False, 0), "dev": (True, _l.MS_NODEV),
    "diratime": (True, _l.MS_NODIRATIME), "dirsync": (False, _l.MS_DIRSYNC), "exec": (True, _l.MS_NOEXEC),
    "iversion": (False, _l.MS_I_VERSION), "lazytime": (False, _l.MS_LAZYTIME), "loud": (True, _l.MS_SILENT),
    "mand": (False, _l.MS_MANDLOCK), "noacl": (True, _l.MS_POSIXACL), "noatime": (False, _l.MS_NOATIME),
    "nodev": (False, _l.MS_NODEV), "nodiratime": (False, _l.MS_NODIRATIME), "noexec": (False, _l.MS_NOEXEC),
    "noiversion": (True, _l.MS_I_VERSION), "nolazytime": (True, _l.MS_LAZYTIME), "nomand": (True, _l.MS_MANDLOCK),
    "norelatime": (True, _l.MS_RELATIME), "nostrictatime": (True, _l.MS_STRICTATIME), "nosuid": (False, _l.MS_NOSUID),
    "nosymfollow": (False, _l.MS_NOSYMFOLLOW), "rbind": (False, _l.MS_BIND | _l.MS_REC),
    "relatime": (False, _l.MS_RELATIME), "remount": (False, _l.MS_REMOUNT), "ro": (False, _l.MS_RDONLY),
    "rw": (True, _l.MS_RDONLY), "silent": (False, _l.MS_SILENT), "strictatime": (False, _l.MS_STRICTATIME),
    "suid": (True, _l.MS_NOSUID), "sync": (False, _l.MS_SYNCHRONOUS), "symfollow": (True, _l.MS_NOSYMFOLLOW),
}

RECURSIVE_ATTRS = {
    "rro": (False, _l.MOUNT_ATTR_RDONLY), "rrw": (True, _l.MOUNT_ATTR_RDONLY),
    "rnosuid": (False, _l.MOUNT_ATTR_NOSUID), "rsuid": (True, _l.MOUNT_ATTR_NOSUID),
    "rnodev": (False, _l.MOUNT_ATTR_NODEV), "rdev": (True, _l.MOUNT_ATTR_NODEV),
    "rnoexec": (False, _l.MOUNT_ATTR_NOEXEC), "rexec": (True, _l.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, _l.MOUNT_ATTR_NODIRATIME), "rdiratime": (True, _l.MOUNT_ATTR_NODIRATIME),
    "rrelatime": (False, _l.MOUNT_ATTR_RELATIME), "rnorelatime": (True, _l.MOUNT_ATTR_RELATIME),
    "rnoatime": (False, _l.MOUNT_ATTR_NOATIME), "ratime": (True, _l.MOUNT_ATTR_NOATIME),
    "rstrictatime": (False, _l.MOUNT_ATTR_STRICTATIME), "rnostrictatime": (True, _l.MOUNT_ATTR_STRICTATIME),
    "rnosymfollow": (False, _l.MOUNT_ATTR_NOSYMFOLLOW), "rsymfollow": (True, _l.MOUNT_ATTR_NOSYMFOLLOW),
}

EXTENSIONS = ("tmpcopyup",)

RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

# Devices every container gets (runc's AllowedDevices): (path, type, major, minor, cgroup access).
DEFAULT_DEVICES = (
    ("", "c", -1, -1, "m"),
    ("", "b", -1, -1, "m"),
    ("/dev/null", "c", 1, 3, "rwm"),
    ("/dev/random", "c", 1, 8, "rwm"),
    ("/dev/full", "c", 1, 7, "rwm"),
    ("/dev/tty", "c", 5, 0, "rwm"),
    ("/dev/zero", "c", 1, 5, "rwm"),
    ("/dev/urandom", "c", 1, 9, "rwm"),
    ("", "c", 136, -1, "rwm"),
    ("", "c", 5, 2, "rwm"),
    ("", "c", 10, 200, "rwm"),
)


def load(bundle: str) -> dict:
    """runc's loadSpec: config.json from the bundle, then validateProcessSpec."""
    try:
        with open(os.path.join(bundle, CONFIG), "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise RuncError(f"JSON specification file {CONFIG} not found") from None
    except OSError as e:
        raise RuncError(f"open {CONFIG}: {strerror(e.errno or 0)}") from None
    try:
        spec = json.loads(raw)
    except ValueError as e:
        raise RuncError(f"invalid {CONFIG}: {e}") from None
    if not isinstance(spec, dict):
        raise RuncError(f"invalid {CONFIG}: not a JSON object")
    validate_process(spec.get("process"))
    return spec


def validate_process(process: dict | None) -> None:
    if not process:
        raise RuncError("process property must not be empty")
    cwd = process.get("cwd", "")
    if cwd == "":
        raise RuncError("Cwd property must not be empty")
    if not cwd.startswith("/"):
        raise RuncError("Cwd must be an absolute path")
    if not process.get("args"):
        raise RuncError("args must not be empty")
    if process.get("selinuxLabel"):
        raise RuncError("selinux label is specified in config, but selinux is disabled or not supported")


def go_quote_namespace(ns: dict) -> str:
    return "{{{} {}}}".format(json.dumps(ns.get("type", "")), json.dumps(ns.get("path", "")))


def namespaces(spec: dict) -> list[tuple[str, str]]:
    """[(type, path)] in joining order; unknown or duplicated types are runc's errors."""
    seen: dict[str, str] = {}
    for ns in (spec.get("linux") or {}).get("namespaces") or []:
        kind = ns.get("type", "")
        if kind not in NAMESPACES:
            raise RuncError(f"namespace {go_quote_namespace(ns)} does not exist")
        if kind in seen:
            raise RuncError(f"malformed spec file: duplicated ns {go_quote_namespace(ns)}")
        seen[kind] = ns.get("path", "")
    return [(kind, seen[kind]) for kind in NAMESPACES if kind in seen]


def rootfs_path(spec: dict, bundle: str) -> str:
    root = spec.get("root")
    if not root:
        raise RuncError("root must be specified")
    path = root.get("path", "")
    return path if path.startswith("/") else os.path.join(bundle, path)


class Mount:
    """One entry of `mounts`, with its options turned into mount(2) flags as runc's parseMountOptions does."""

    __slots__ = ("destination", "source", "type", "flags", "propagation", "data", "rec_set", "rec_clr",
                 "extensions")

    def __init__(self, m: dict, bundle: str):
        self.destination = m.get("destination", "")
        self.source = m.get("source", "")
        self.type = m.get("type", "")
        self.flags = 0
        self.propagation: list[int] = []
        self.rec_set = self.rec_clr = 0
        self.extensions: list[str] = []
        data = []
        for o in m.get("options") or []:
            if o in MOUNT_FLAGS and MOUNT_FLAGS[o][1]:
                clear, flag = MOUNT_FLAGS[o]
                self.flags = self.flags & ~flag if clear else self.flags | flag
            elif o in PROPAGATION:
                self.propagation.append(PROPAGATION[o])
            elif o in RECURSIVE_ATTRS:
                clear, flag = RECURSIVE_ATTRS[o]
                if clear:
                    self.rec_clr |= flag
                else:
                    self.rec_set |= flag
                    if flag & _l.MOUNT_ATTR__ATIME == flag:
                        self.rec_clr |= _l.MOUNT_ATTR__ATIME
            elif o in EXTENSIONS:
                self.extensions.append(o)
            elif o != "defaults":
                data.append(o)
        self.data = ",".join(data)
        if self.flags & _l.MS_BIND:
            self.type = "bind"
            if not self.source.startswith("/"):
                self.source = os.path.join(bundle, self.source)
        if "\0" in self.source + self.destination + self.type:
            raise RuncError("mount field contains null byte")


def host_id(mappings: list[dict], container_id: int) -> int | None:
    """The host id a container id maps to, or None when it is unmapped."""
    for m in mappings or []:
        if m["containerID"] <= container_id < m["containerID"] + m["size"]:
            return m["hostID"] + container_id - m["containerID"]
    return None


VALID_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                     "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}


def validate(spec: dict, bundle: str, rootfs: str, nslist: list[tuple[str, str]]) -> None:
    """runc's configs/validate checks, in runc's order and words."""
    kinds = dict(nslist)
    linux = spec.get("linux") or {}
    try:
        os.stat(rootfs)
        real = os.path.realpath(os.path.abspath(rootfs), strict=True)
    except OSError as e:
        raise RuncError(f"invalid rootfs: stat {rootfs}: {strerror(e.errno or 0)}") from None
    if os.path.normpath(rootfs) != real:
        raise RuncError("invalid rootfs: not an absolute path, or a symlink")
    if spec.get("hostname") and "uts" not in kinds:
        raise RuncError("unable to set hostname without a private UTS namespace")
    if (linux.get("maskedPaths") or linux.get("readonlyPaths")) and "mount" not in kinds:
        raise RuncError("unable to restrict sys entries without a private MNT namespace")
    if "user" not in kinds and (linux.get("uidMappings") or linux.get("gidMappings")):
        raise RuncError("User namespace mappings specified, but USER namespace isn't enabled in the config")
    if "user" in kinds and not kinds["user"] and (not linux.get("uidMappings") or not linux.get("gidMappings")):
        raise RuncError("user namespaces enabled, but no user mapping found")
    validate_sysctl(linux.get("sysctl") or {}, kinds)
    for rlimit in (spec.get("process") or {}).get("rlimits") or []:
        if rlimit.get("type") not in RLIMITS:
            raise RuncError(f"wrong rlimit value: {rlimit.get('type')}")
    if linux.get("rootfsPropagation", "") not in ("", *PROPAGATION):
        raise RuncError(f"rootfsPropagation={linux['rootfsPropagation']} is not supported")
    for i, d in enumerate((linux.get("resources") or {}).get("devices") or []):
        if not d.get("access"):
            raise RuncError(f"device access at {i} field cannot be empty")
        if d.get("type", "a") not in ("a", "b", "c"):
            raise RuncError(f"invalid cgroup device type {json.dumps(d['type'])}")
    for d in linux.get("devices") or []:
        if d.get("type") not in ("p", "u", "c", "b"):
            raise RuncError(f"invalid device type {json.dumps(d.get('type', ''))}")


def validate_sysctl(sysctl: dict, kinds: dict) -> None:
    for key in sysctl:
        s = key
        first = next((i for i, c in enumerate(s) if c in "./"), -1)
        if first != -1 and s[first] == "/":
            s = s.translate(str.maketrans("./", "/."))
        if s in VALID_IPC_SYSCTLS or s.startswith("fs.mqueue."):
            if "ipc" in kinds:
                continue
            raise RuncError(f'sysctl "{s}" is not allowed in the hosts ipc namespace')
        if s.startswith("net."):
            if "network" not in kinds or (kinds["network"] and _is_host_netns(kinds["network"])):
                raise RuncError(f'sysctl "{s}" not allowed in host network namespace')
            continue
        if "uts" in kinds and s == "kernel.domainname":
            continue
        if "uts" in kinds and s == "kernel.hostname":
            raise RuncError(f'sysctl "{s}" is not allowed as it conflicts with the OCI "hostname" field')
        raise RuncError(f'sysctl "{s}" is not in a separate kernel namespace')


def _is_host_netns(path: str) -> bool:
    try:
        a, b = os.stat("/proc/self/ns/net"), os.stat(path)
    except OSError as e:
        raise RuncError(f"invalid netns path: stat {path}: {strerror(e.errno or 0)}") from None
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def default_devices_wanted(spec: dict) -> list[tuple[str, str, int, int, str]]:
    """runc's defaults minus those whose path the spec lists itself (the spec's entry wins)."""
    paths = {d.get("path") for d in (spec.get("linux") or {}).get("devices") or []}
    return [d for d in DEFAULT_DEVICES if not d[0] or d[0] not in paths]
