"""Mounts of the daemon: the container's root filesystem (mounted by conditionalMountOnStart from
the snapshot's mount list, as dockerd mounts its graph driver layer), and the user's volumes:
`-v /host:/ctr[:ro]` binds, `--tmpfs`, and `--mount` of type bind, tmpfs and (anonymous) volume.

The few mount(2) calls whaled makes itself go through ctypes here.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from corelib import errdefs

_libc = ctypes.CDLL(None, use_errno=True)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_SYNCHRONOUS, MS_REMOUNT = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
MS_MANDLOCK, MS_DIRSYNC, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 0x40, 0x80, 0x400, 0x800, 0x1000, 0x4000
MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_RELATIME, MS_STRICTATIME = 0x40000, 0x80000, 0x100000, 0x200000, 0x1000000
MS_UNBINDABLE = 0x20000
MNT_DETACH = 0x2

# option -> (clear?, flag), as containerd's mount package reads them
_FLAGS = {
    "async": (True, MS_SYNCHRONOUS), "atime": (True, MS_NOATIME), "bind": (False, MS_BIND),
    "defaults": (False, 0), "dev": (True, MS_NODEV), "diratime": (True, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC), "exec": (True, MS_NOEXEC), "mand": (False, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME), "nodev": (False, MS_NODEV), "nodiratime": (False, MS_NODIRATIME),
    "noexec": (False, MS_NOEXEC), "nomand": (True, MS_MANDLOCK), "norelatime": (True, MS_RELATIME),
    "nostrictatime": (True, MS_STRICTATIME), "nosuid": (False, MS_NOSUID), "rbind": (False, MS_BIND | MS_REC),
    "relatime": (False, MS_RELATIME), "remount": (False, MS_REMOUNT), "ro": (False, MS_RDONLY),
    "rw": (True, MS_RDONLY), "strictatime": (False, MS_STRICTATIME), "suid": (True, MS_NOSUID),
    "sync": (False, MS_SYNCHRONOUS),
}
PROPAGATIONS = {"private": MS_PRIVATE, "rprivate": MS_PRIVATE | MS_REC, "shared": MS_SHARED,
                "rshared": MS_SHARED | MS_REC, "slave": MS_SLAVE, "rslave": MS_SLAVE | MS_REC,
                "unbindable": MS_UNBINDABLE, "runbindable": MS_UNBINDABLE | MS_REC}


def _check(ret: int, what: str, path: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what} {path}: {os.strerror(err)}")


def mount(source: str, target: str, fstype: str, flags: int, data: str = "") -> None:
    ret = _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                      ctypes.c_ulong(flags), data.encode() if data else None)
    _check(ret, "mount", target)


def unmount(target: str) -> None:
    """Lazy unmount; a target that is no longer mounted is fine."""
    if _libc.umount2(target.encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in (22, 2):  # EINVAL, ENOENT
        err = ctypes.get_errno()
        raise OSError(err, f"unmount {target}: {os.strerror(err)}")


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """(flags, propagation flags, filesystem data) of a mount's option list."""
    flags, propagation, data = 0, 0, []
    for option in options:
        if option in _FLAGS:
            clear, flag = _FLAGS[option]
            flags = flags & ~flag if clear else flags | flag
        elif option in PROPAGATIONS:
            propagation = PROPAGATIONS[option]
        else:
            data.append(option)
    return flags, propagation, ",".join(data)


def mount_all(mounts: list[dict], target: str) -> None:
    """Mount a snapshot's mount list (overlay, or a bind for simple snapshotters) at `target`."""
    for m in mounts:
        flags, _, data = parse_options(list(m.get("options") or []))
        kind = m.get("type", "")
        if flags & MS_BIND:
            mount(m["source"], target, "", flags & ~MS_RDONLY, "")
            if flags & MS_RDONLY:
                mount("", target, "", flags | MS_REMOUNT, "")
        else:
            mount(m.get("source") or kind, target, kind, flags, data)


def _unescape(field: str) -> str:
    return field.encode().decode("unicode_escape")


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below `prefix`, deepest first."""
    prefix = prefix.rstrip("/")
    points = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = _unescape(line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                points.add(point)
    return sorted(points, key=len, reverse=True)


def is_mountpoint(path: str) -> bool:
    return path.rstrip("/") in mounts_under(path)


def remove_tree(path: Path) -> None:
    """rm -rf, after unmounting anything still mounted beneath `path` (never through a mount)."""
    for point in mounts_under(str(path)):
        unmount(point)
    if mounts_under(str(path)):
        raise errdefs.WhaleError(f"{path} is still mounted")
    shutil.rmtree(path, ignore_errors=True)


# -- the user's mounts ---------------------------------------------------------------------------

@dataclass
class MountPoint:
    """One of the container's mounts, as inspect's `Mounts` shows it (plus what the spec needs)."""

    Type: str
    Source: str
    Destination: str
    Mode: str = ""
    RW: bool = True
    Propagation: str = ""
    Name: str = ""
    Driver: str = ""
    NonRecursive: bool = False
    TmpfsOptions: str = ""

    def to_inspect(self) -> dict:
        shown = {"Type": self.Type}
        if self.Name:
            shown["Name"] = self.Name
        shown.update(Source=self.Source, Destination=self.Destination)
        if self.Driver:
            shown["Driver"] = self.Driver
        shown.update(Mode=self.Mode, RW=self.RW, Propagation=self.Propagation)
        return shown

    def to_record(self) -> dict:
        return asdict(self)

    def spec_mount(self) -> dict:
        if self.Type == "tmpfs":
            options = ["noexec", "nosuid", "nodev", *([o for o in self.TmpfsOptions.split(",") if o])]
            if not self.RW:
                options.append("ro")
            return {"destination": self.Destination, "type": "tmpfs", "source": "tmpfs",
                    "options": merge_tmpfs_options(options)}
        options = ["bind" if self.NonRecursive else "rbind"]
        if not self.RW:
            options.append("ro")
        options.append(self.Propagation or "rprivate")
        return {"destination": self.Destination, "type": "bind", "source": self.Source, "options": options}


def merge_tmpfs_options(options: list[str]) -> list[str]:
    """Later options win over their opposites (`exec` after the default `noexec`)."""
    merged: dict[str, str] = {}
    opposites = {"exec": "noexec", "suid": "nosuid", "dev": "nodev", "rw": "ro"}
    opposites.update({v: k for k, v in opposites.items()})
    for option in options:
        key = option.split("=", 1)[0]
        merged.pop(opposites.get(key, ""), None)
        merged[key] = option
    return list(merged.values())


_BIND_MODES = {"ro", "rw", "z", "Z", "nocopy", *PROPAGATIONS}


def _invalid_spec(raw: str, reason: str = "") -> errdefs.WhaleError:
    """dockerd 20.10 answers these with a 500 (the error is not typed on its way out of create)."""
    return errdefs.WhaleError(f"invalid volume specification: '{raw}'" + (f": {reason}" if reason else ""))


def parse_bind(raw: str, volumes_dir: Path) -> MountPoint:
    """`-v SRC:DST[:MODE]` (and the anonymous `-v /DST`)."""
    parts = raw.split(":")
    if len(parts) == 1:
        return anonymous_volume(parts[0], volumes_dir, raw)
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise _invalid_spec(raw)
    source, destination = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 else []
    if any(m not in _BIND_MODES for m in modes):
        raise errdefs.WhaleError(f"invalid mode: {parts[2]}")
    if not destination.startswith("/"):
        raise _invalid_spec(raw, f"invalid mount config for type \"bind\": invalid mount path: '{destination}' "
                                 "mount path must be absolute")
    if not source.startswith("/"):
        raise errdefs.InvalidArgument(f'named volumes are not supported by whaled yet: "{source}"; use a bind mount '
                                      "of a host directory (-v /host/dir:/dir) or an anonymous volume (-v /dir)")
    propagation = next((m for m in modes if m in PROPAGATIONS), "rprivate")
    return MountPoint("bind", os.path.normpath(source), os.path.normpath(destination), Mode=parts[2] if modes else "",
                      RW="ro" not in modes, Propagation=propagation)


def anonymous_volume(destination: str, volumes_dir: Path, raw: str | None = None) -> MountPoint:
    if not destination.startswith("/"):
        raise _invalid_spec(raw or destination, f"invalid mount config for type \"volume\": invalid mount path: "
                                                f"'{destination}' mount path must be absolute")
    name = secrets.token_hex(32)
    return MountPoint("volume", str(volumes_dir / name / "_data"), os.path.normpath(destination), Name=name,
                      Driver="local")


def parse_mount(spec: dict, volumes_dir: Path) -> MountPoint:
    """One `HostConfig.Mounts` entry (`--mount type=...`)."""
    kind, target, source = spec.get("Type", ""), spec.get("Target", ""), spec.get("Source", "")
    read_only = bool(spec.get("ReadOnly"))
    if not target:
        raise errdefs.InvalidArgument("invalid mount config: mount target must not be empty") if kind else \
            errdefs.InvalidArgument("invalid mount config for type \"\": mount type unknown")
    if not target.startswith("/"):
        raise errdefs.InvalidArgument(f'invalid mount config for type "{kind}": invalid mount path: \'{target}\' '
                                      "mount path must be absolute")
    if kind == "bind":
        if not source:
            raise errdefs.InvalidArgument('invalid mount config for type "bind": field Source must not be empty')
        if not os.path.exists(source):
            raise errdefs.InvalidArgument(f'invalid mount config for type "bind": bind source path does not exist: '
                                          f"{source}")
        options = spec.get("BindOptions") or {}
        return MountPoint("bind", source, os.path.normpath(target), RW=not read_only,
                          Propagation=options.get("Propagation") or "rprivate",
                          NonRecursive=bool(options.get("NonRecursive")))
    if kind == "tmpfs":
        if source:
            raise errdefs.InvalidArgument('invalid mount config for type "tmpfs": field Source must not be specified')
        options = spec.get("TmpfsOptions") or {}
        data = []
        if options.get("SizeBytes"):
            data.append(f"size={options['SizeBytes']}")
        if options.get("Mode"):
            data.append(f"mode={options['Mode']:o}")
        return MountPoint("tmpfs", "", os.path.normpath(target), RW=not read_only, TmpfsOptions=",".join(data))
    if kind == "volume":
        if source:
            raise errdefs.InvalidArgument(f'named volumes are not supported by whaled yet: "{source}"')
        point = anonymous_volume(target, volumes_dir)
        point.RW = not read_only
        return point
    raise errdefs.InvalidArgument(f'invalid mount config for type "{kind}": mount type unknown')


def parse_tmpfs(destination: str, options: str) -> MountPoint:
    if not destination.startswith("/"):
        raise errdefs.InvalidArgument(f"invalid mount path: '{destination}' mount path must be absolute")
    return MountPoint("tmpfs", "", os.path.normpath(destination), TmpfsOptions=options)


def container_mount_points(host_config: dict, config: dict, volumes_dir: Path) -> list[MountPoint]:
    """Every user mount of a container, checked for duplicate destinations (Docker's wording)."""
    points = [parse_bind(b, volumes_dir) for b in host_config.get("Binds") or []]
    points += [parse_mount(m, volumes_dir) for m in host_config.get("Mounts") or []]
    seen: set[str] = set()
    for point in points:
        if point.Destination in seen:
            raise errdefs.InvalidArgument(f"Duplicate mount point: {point.Destination}")
        seen.add(point.Destination)
    for destination in (config.get("Volumes") or {}):
        if os.path.normpath(destination) not in seen:
            points.append(anonymous_volume(destination, volumes_dir))
            seen.add(os.path.normpath(destination))
    for destination, _options in (host_config.get("Tmpfs") or {}).items():
        if os.path.normpath(destination) in seen:
            raise errdefs.InvalidArgument(f"Duplicate mount point: {destination}")
        seen.add(os.path.normpath(destination))
    return points


def tmpfs_points(host_config: dict) -> list[MountPoint]:
    return [parse_tmpfs(d, o) for d, o in (host_config.get("Tmpfs") or {}).items()]
