"""The container's filesystem view, set up inside its own mount namespace (runc's rootfs_linux.go):
mounts, device nodes and /dev symlinks, the jump into the rootfs (pivot_root), then read-only
remounts, readonlyPaths and maskedPaths."""

from __future__ import annotations

import os
import stat

from corelib.runc import linux as L
from corelib.runc.errors import RuncError, ignored, strerror
from corelib.runc.spec import Mount

DEFAULT_MOUNT_FLAGS = L.MS_NOEXEC | L.MS_NOSUID | L.MS_NODEV
PROC_SUPER_MAGIC = 0x9FA0
VALID_PROC_MOUNTS = ("/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
                     "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
                     "/proc/sys/kernel/ns_last_pid")
_ST_TO_MS = ((os.ST_RDONLY, L.MS_RDONLY), (os.ST_NOSUID, L.MS_NOSUID), (os.ST_NODEV, L.MS_NODEV),
             (os.ST_NOEXEC, L.MS_NOEXEC), (os.ST_NOATIME, L.MS_NOATIME), (os.ST_NODIRATIME, L.MS_NODIRATIME),
             (os.ST_RELATIME, L.MS_RELATIME))


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    """mount(2), failing with runc's wording: `mount SRC:DST, flags: 0x.., data: ..: reason`."""
    try:
        L.mount(source, target, fstype, flags, data)
    except OSError as e:
        where = f"{source}:{target}" if source else target
        extra = (f", flags: {flags:#x}" if flags else "") + (f", data: {data}" if data else "")
        err = RuncError(f"mount {where}{extra}: {strerror(e.errno or 0)}")
        err.errno = e.errno  # type: ignore[attr-defined]
        raise err from None


def _errno(e: Exception) -> int:
    return getattr(e, "errno", 0) or 0


def mount_flags_of(path: str) -> int:
    """The MS_* flags a mount carries (from statvfs), to keep the locked ones when remounting."""
    f = os.statvfs(path).f_flag
    return sum(ms for st, ms in _ST_TO_MS if f & st)


def secure_join(root: str, unsafe: str) -> str:
    """`unsafe` resolved inside `root` as if `root` were "/": symlinks are followed, ".." and absolute
    links never lead out (cyphar/filepath-securejoin's contract)."""
    root = root.rstrip("/") or "/"
    parts = [p for p in unsafe.split("/") if p]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        full = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(full)
        except OSError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > 255:
                raise RuncError(f"securejoin: too many links in {unsafe}")
            target = os.readlink(full)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def prepare_root(rootfs: str, propagation: int) -> None:
    """Make / slave (or what rootfsPropagation says), the rootfs' parent mount private, and bind the
    rootfs onto itself so it is a mount point pivot_root can use."""
    mount(None, "/", None, propagation or (L.MS_SLAVE | L.MS_REC))
    parent, optional = parent_mount(rootfs)
    if any(o.startswith("shared:") for o in optional):
        mount(None, parent, None, L.MS_PRIVATE)
    mount(rootfs, rootfs, "bind", L.MS_BIND | L.MS_REC)


def parent_mount(path: str) -> tuple[str, list[str]]:
    """The mount point holding `path`, with its optional fields (shared:N, master:N)."""
    best, optional = "/", []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].replace("\\040", " ")
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, optional = point, fields[6:fields.index("-")]
    return best, optional


class MountContext:
    def __init__(self, rootfs: str, cgroupns: bool, in_userns: bool):
        self.rootfs = rootfs
        self.cgroupns = cgroupns
        self.in_userns = in_userns


def mount_to_rootfs(m: Mount, c: MountContext) -> None:
    """One `mounts` entry, as runc's mountToRootfs."""
    rootfs = c.rootfs
    if m.type in ("proc", "sysfs"):
        dest = os.path.normpath(m.destination)
        if not dest.startswith(rootfs):
            dest = os.path.join(rootfs, dest.lstrip("/"))
        if os.path.lexists(dest) and not os.path.isdir(dest) or os.path.islink(dest):
            raise RuncError(f'filesystem "{m.type}" must be mounted on ordinary directory')
        os.makedirs(dest, 0o755, exist_ok=True)
        try:
            mount_propagate(m, dest)
        except RuncError as e:
            # In a user namespace without its own network namespace sysfs cannot be mounted: bind it.
            if m.type != "sysfs" or _errno(e) not in (1, 13):
                raise
            mount("/sys", dest, "bind", L.MS_BIND | L.MS_REC)
            _remount(dest, m.flags | L.MS_BIND | L.MS_REC)
        return
    dest = secure_join(rootfs, m.destination)
    if m.type == "mqueue":
        os.makedirs(dest, 0o755, exist_ok=True)
        mount_propagate(m, dest)
    elif m.type == "tmpfs":
        try:
            mode = stat.S_IMODE(os.stat(dest).st_mode)
        except FileNotFoundError:
            os.makedirs(dest, 0o755)
            mode = None
        if "tmpcopyup" in m.extensions:
            tmpfs_copy_up(m, dest)
        else:
            mount_propagate(m, dest)
        if mode is not None and not any(o.startswith("mode=") for o in m.data.split(",")):
            os.chmod(dest, mode)
    elif m.type == "bind":
        bind_mount(m, dest, rootfs)
    elif m.type == "cgroup":
        mount_cgroup(m, dest, c)
    else:
        check_proc_mount(rootfs, dest, m.source)
        os.makedirs(dest, 0o755, exist_ok=True)
        mount_propagate(m, dest)
    if m.rec_set or m.rec_clr:
        try:
            L.mount_setattr(dest, m.rec_set, m.rec_clr)
        except OSError as e:
            raise RuncError(f"mount_setattr {dest}: {strerror(e.errno or 0)}") from None


def mount_propagate(m: Mount, dest: str) -> None:
    flags = m.flags
    if m.type == "tmpfs" or os.path.normpath(m.destination) == "/dev":
        flags &= ~L.MS_RDONLY  # files are made in them first; finalize() makes them read-only
    mount(m.source, dest, m.type, flags, m.data)
    for p in m.propagation:
        mount(None, dest, None, p)


def bind_mount(m: Mount, dest: str, rootfs: str) -> None:
    try:
        src_is_dir = os.path.isdir(m.source) if os.path.exists(m.source) else None
    except OSError:
        src_is_dir = None
    if src_is_dir is None:
        raise RuncError(f"stat {m.source}: no such file or directory")
    check_proc_mount(rootfs, dest, m.source)
    if not os.path.exists(dest):
        if src_is_dir:
            os.makedirs(dest, 0o755)
        else:
            os.makedirs(os.path.dirname(dest), 0o755, exist_ok=True)
            os.close(os.open(dest, os.O_CREAT | os.O_CLOEXEC, 0o755))
    mount_propagate(m, dest)
    if m.flags & ~(L.MS_REC | L.MS_REMOUNT | L.MS_BIND):
        _remount(dest, m.flags, m.source)


def _remount(dest: str, flags: int, source: str | None = None) -> None:
    """A bind mount takes no options; they come with a remount, keeping flags the kernel locked
    (a read-only source stays read-only)."""
    try:
        mount(source, dest, None, flags | L.MS_REMOUNT)
    except RuncError as e:
        locked = mount_flags_of(source if source and os.path.exists(source) else dest)
        if _errno(e) != 1 or not locked & ~flags:
            raise
        mount(source, dest, None, flags | L.MS_REMOUNT | locked)


def tmpfs_copy_up(m: Mount, dest: str) -> None:
    """`tmpcopyup`: the tmpfs starts with what the directory held in the image."""
    import shutil
    import tempfile

    scratch = tempfile.mkdtemp(prefix="whale-runc-copyup-")
    try:
        mount(m.source, scratch, m.type, m.flags & ~L.MS_RDONLY, m.data)
        try:
            for entry in os.listdir(dest):
                src, dst = os.path.join(dest, entry), os.path.join(scratch, entry)
                if os.path.isdir(src) and not os.path.islink(src):
                    shutil.copytree(src, dst, symlinks=True)
                else:
                    shutil.copy2(src, dst, follow_symlinks=False)
            mount(scratch, dest, None, L.MS_MOVE)
        except BaseException:
            L.umount2(scratch, L.MNT_DETACH)
            raise
    finally:
        os.rmdir(scratch)


def check_proc_mount(rootfs: str, dest: str, source: str) -> None:
    """Nothing may be mounted over /proc or inside it, but for the files lxcfs emulates."""
    proc = os.path.join(rootfs, "proc")
    if dest != proc and not dest.startswith(proc + "/"):
        return
    if dest == proc:
        try:
            if source and _statfs_type(source) == PROC_SUPER_MAGIC:
                return
        except OSError:
            pass
        raise RuncError(f'"{dest}" cannot be mounted because it is not of type proc')
    if any(dest == os.path.join(rootfs, p.lstrip("/")) for p in VALID_PROC_MOUNTS):
        return
    raise RuncError(f'"{dest}" cannot be mounted because it is inside /proc')


def _statfs_type(path: str) -> int:
    """f_type of statfs(2); os.statvfs lacks it, so ask the kernel through /proc/self/mountinfo."""
    real = os.path.realpath(path)
    point, fstype = "/", ""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mp = fields[4]
            if (real == mp or real.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(point):
                point, fstype = mp, fields[fields.index("-") + 1]
    return PROC_SUPER_MAGIC if fstype == "proc" else 0


def mount_cgroup(m: Mount, dest: str, c: MountContext) -> None:
    from corelib.runc.cgroups import is_unified, own_cgroup_paths

    if is_unified():
        os.makedirs(dest, 0o755, exist_ok=True)
        try:
            mount(m.source, dest, "cgroup2", m.flags, m.data)
        except RuncError as e:
            if _errno(e) not in (1, 16):
                raise
            bind = Mount({"destination": m.destination, "source": "/sys/fs/cgroup",
                          "options": ["rbind"] + (["ro"] if m.flags & L.MS_RDONLY else [])}, "/")
            bind_mount(bind, dest, c.rootfs)
        return
    from corelib.runc.cgroups.v1 import cgroup_mounts

    tmpfs = Mount({"destination": m.destination, "type": "tmpfs", "source": "tmpfs",
                   "options": ["noexec", "nosuid", "nodev", "mode=755"]}, "/")
    tmpfs.propagation = m.propagation
    mount_to_rootfs(tmpfs, c)
    own = own_cgroup_paths()
    hierarchies = {}
    for subsystem, (point, root) in cgroup_mounts().items():
        if subsystem:
            hierarchies[point] = (subsystem, root)
    for point, (subsystem, root) in hierarchies.items():
        name = os.path.basename(point)
        target = os.path.join(dest, name)
        os.makedirs(target, 0o755, exist_ok=True)
        if c.cgroupns:
            data = subsystem if subsystem != "name=systemd" else "name=systemd"
            mount("systemd" if subsystem == "name=systemd" else "cgroup", target, "cgroup",
                  DEFAULT_MOUNT_FLAGS | (m.flags & L.MS_RDONLY), data)
            continue
        rel = os.path.relpath(own.get(subsystem, "/"), root)
        source = os.path.normpath(os.path.join(point, rel))
        mount(source, target, "bind", L.MS_BIND | L.MS_REC | m.flags)
        for p in m.propagation:
            mount(None, target, None, p)
        if m.flags & ~(L.MS_REC | L.MS_REMOUNT | L.MS_BIND):
            _remount(target, L.MS_BIND | L.MS_REC | m.flags, source)
        if "," in name:
            for sub in name.split(","):
                with ignored(FileExistsError):
                    os.symlink(name, os.path.join(dest, sub))


def create_devices(rootfs: str, devices: list[dict], bind: bool) -> None:
    """Device nodes under /dev: mknod, or a bind mount of the host's node where mknod is not allowed."""
    old = os.umask(0)
    try:
        for d in devices:
            if os.path.normpath(d["path"]) == "/dev/ptmx":
                continue  # setup_ptmx links it to pts/ptmx
            dest = secure_join(rootfs, d["path"])
            os.makedirs(os.path.dirname(dest), 0o755, exist_ok=True)
            if bind:
                bind_device(d, dest)
                continue
            try:
                mknod_device(d, dest)
            except FileExistsError:
                pass
            except PermissionError:
                bind_device(d, dest)
    finally:
        os.umask(old)


def mknod_device(d: dict, dest: str) -> None:
    kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[d["type"]]
    mode = (d.get("fileMode") if d.get("fileMode") is not None else 0o666) & 0o7777
    try:
        os.mknod(dest, mode | kind, os.makedev(d.get("major", 0), d.get("minor", 0)))
    except OSError as e:
        if e.errno in (17, 1, 13):
            raise
        raise RuncError(f"mknod {dest}: {strerror(e.errno or 0)}") from None
    os.chown(dest, d.get("uid") or 0, d.get("gid") or 0)


def bind_device(d: dict, dest: str) -> None:
    if not os.path.exists(dest):
        os.close(os.open(dest, os.O_CREAT | os.O_CLOEXEC, 0o600))
    mount(d["path"], dest, "bind", L.MS_BIND)


def setup_ptmx(rootfs: str) -> None:
    ptmx = os.path.join(rootfs, "dev/ptmx")
    with ignored(FileNotFoundError):
        os.remove(ptmx)
    os.symlink("pts/ptmx", ptmx)


def setup_dev_symlinks(rootfs: str) -> None:
    links = [("/proc/self/fd", "dev/fd"), ("/proc/self/fd/0", "dev/stdin"), ("/proc/self/fd/1", "dev/stdout"),
             ("/proc/self/fd/2", "dev/stderr")]
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "dev/core"))
    for src, dst in links:
        with ignored(FileExistsError):
            os.symlink(src, os.path.join(rootfs, dst))


def pivot_root(rootfs: str) -> None:
    """pivot_root(".", ".") then detach the old root from under us (the LXC trick runc uses)."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new_root)
        try:
            L.pivot_root(".", ".")
        except OSError as e:
            raise RuncError(f"pivot_root .: {strerror(e.errno or 0)}") from None
        os.fchdir(old_root)
        mount(None, ".", None, L.MS_SLAVE | L.MS_REC)
        L.umount2(".", L.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old_root)
        os.close(new_root)


def ms_move_root(rootfs: str) -> None:
    """--no-pivot: cover the host's full proc/sysfs mounts, move the rootfs over / and chroot."""
    with open("/proc/self/mountinfo") as f:
        infos = [line.split() for line in f]
    for fields in infos:
        sep = fields.index("-")
        root, point, fstype = fields[3], fields[4], fields[sep + 1]
        if root != "/" or fstype not in ("proc", "sysfs") or point.startswith(rootfs):
            continue
        try:
            mount(None, point, None, L.MS_SLAVE | L.MS_REC)
        except RuncError as e:
            if _errno(e) == 2:
                continue
            raise
        try:
            L.umount2(point, L.MNT_DETACH)
        except OSError as e:
            if e.errno not in (22, 1):
                raise
            mount("tmpfs", point, "tmpfs", 0)
    mount(rootfs, "/", None, L.MS_MOVE)
    chroot()


def chroot() -> None:
    os.chroot(".")
    os.chdir("/")


def reopen_dev_null() -> None:
    """Stdio that was the host's /dev/null becomes the container's."""
    null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
    try:
        rdev = os.fstat(null).st_rdev
        for fd in range(3):
            try:
                if os.fstat(fd).st_rdev == rdev:
                    os.dup2(null, fd)
            except OSError:
                continue
    finally:
        os.close(null)


def remount_readonly(dest: str, flags: int) -> None:
    mount(None, dest, None, flags | L.MS_REMOUNT | L.MS_BIND | L.MS_RDONLY)


def set_readonly_root() -> None:
    flags = L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY
    try:
        mount(None, "/", None, flags)
    except RuncError:
        mount(None, "/", None, flags | mount_flags_of("/"))


def readonly_path(path: str) -> None:
    try:
        L.mount(path, path, None, L.MS_BIND | L.MS_REC)
    except OSError as e:
        if e.errno == 2:
            return
        raise RuncError(f"mount {path}:{path}, flags: {L.MS_BIND | L.MS_REC:#x}: {strerror(e.errno or 0)}") from None
    keep = mount_flags_of(path) & (L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC)
    mount(path, path, None, keep | L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY)


def mask_path(path: str) -> None:
    try:
        L.mount("/dev/null", path, None, L.MS_BIND)
    except OSError as e:
        if e.errno == 2:
            return
        if e.errno == 20:  # ENOTDIR: a directory is covered by an empty read-only tmpfs
            mount("tmpfs", path, "tmpfs", L.MS_RDONLY)
            return
        raise RuncError(f"mount /dev/null:{path}, flags: 0x1000: {strerror(e.errno or 0)}") from None


def write_sysctl(key: str, value: str) -> None:
    path = os.path.join("/proc/sys", key.replace(".", "/"))
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        raise RuncError(f"open {path}: {strerror(e.errno or 0)}") from None
