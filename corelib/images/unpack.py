"""Apply a layer tar to a directory (containerd's archive.Apply), safely.

- Entry names with a `..` component or an absolute path are refused; so are hard links whose target
  does so, and device files other than the harmless character devices (mem and tty majors).
- Parent directories are resolved with symlinks followed *inside* the root (like containerd's
  fs.RootPath), so no entry is ever written outside it.
- OCI whiteouts: `.wh.NAME` removes NAME, `.wh..wh..opq` empties a directory of what lower layers put
  there. Applied to an overlay upperdir they become what overlayfs reads: a 0/0 character device and
  the `trusted.overlay.opaque` xattr; missing parents are created with the attributes of the same
  directory in the lower layers.
- overlayfs's own xattrs (`trusted.overlay.*`) in the tar are ignored: only whiteouts make them.
- The uncompressed stream is digested as it is read: the result is the layer's diff ID.
- In a user namespace (rootless) as containerd does there: device nodes are skipped (mknod is
  denied), and an owner the namespace does not map is left as the unpacking user (lchown's EINVAL
  or EPERM ignored).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from corelib import errdefs
from corelib.errdefs import InvalidArgument
from corelib.runc.userns import running_in_user_ns

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
ALLOWED_DEVICE_MAJORS = (1, 5)  # mem (null, zero, full, random, urandom) and tty (tty, console, ptmx)
COPY_CHUNK = 1 << 20
_MAX_SYMLINKS = 255
UNMAPPED_OWNER = (22, 1)  # EINVAL (an id the namespace does not map), EPERM


class UnsafeLayer(InvalidArgument):
    """The layer would write outside its root, or holds a file it may not create."""


@dataclass
class Applied:
    digest: str  # sha256 of the uncompressed tar: the diff ID
    size: int


class _DigestingReader:
    """Decompresses (gzip, or none) on the fly and digests the uncompressed bytes."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0
        head = raw.read(4)
        self._pending = b""
        if head[:2] == b"\x1f\x8b":
            self._inflate = zlib.decompressobj(wbits=47)
            self._pending = self._inflate.decompress(head)
        elif head == b"\x28\xb5\x2f\xfd":
            raise errdefs.NotImplemented("zstd compressed layers are not supported: not implemented")
        else:
            self._inflate = None
            self._pending = head

    def read(self, n: int = -1) -> bytes:
        while (n < 0 or len(self._pending) < n) and self.raw is not None:
            chunk = self.raw.read(COPY_CHUNK)
            if not chunk:
                if self._inflate is not None:
                    self._pending += self._inflate.flush()
                self.raw = None
                break
            self._pending += self._inflate.decompress(chunk) if self._inflate else chunk
        out, self._pending = (self._pending, b"") if n < 0 else (self._pending[:n], self._pending[n:])
        self.hash.update(out)
        self.size += len(out)
        return out

    def drain(self) -> None:
        while self.read(COPY_CHUNK):
            pass


def apply_layer(root: str, stream: BinaryIO, overlay: bool = False, parents: tuple[str, ...] = ()) -> Applied:
    """Unpack the (possibly gzipped) layer tar `stream` into `root`.

    `overlay`: `root` is an overlay upperdir over the layers `parents` (nearest first)."""
    reader = _DigestingReader(stream)
    _Applier(os.path.realpath(root), overlay, parents).run(reader)
    reader.drain()
    return Applied("sha256:" + reader.hash.hexdigest(), reader.size)


class _Applier:
    def __init__(self, root: str, overlay: bool, parents: tuple[str, ...]):
        self.root = root
        self.overlay = overlay
        self.parents = parents
        self.unpacked: set[str] = set()
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []
        self.in_userns = running_in_user_ns()

    def run(self, reader: _DigestingReader) -> None:
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in tar:
                    self.entry(tar, member)
        except tarfile.TarError as e:
            raise InvalidArgument(f"invalid layer tar: {e}: invalid argument") from None
        for path, member in reversed(self.dirs):
            if os.path.isdir(path) and not os.path.islink(path):
                os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)

    def entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = _safe_name(member.name)
        if name is None:
            return  # the root itself
        parent, base = os.path.split(name)
        parent_path = resolve_in_root(self.root, parent)
        self.make_parents(parent_path)
        path = os.path.join(parent_path, base)
        if base == OPAQUE_WHITEOUT:
            self.opaque(parent_path)
            return
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(os.path.join(parent_path, base[len(WHITEOUT_PREFIX):]))
            return
        self.check_allowed(member)
        existing = _lstat(path)
        if existing and not (stat.S_ISDIR(existing.st_mode) and member.isdir()):
            _remove(path)
        self.create(tar, member, path)
        self.unpacked.add(path)

    def check_allowed(self, member: tarfile.TarInfo) -> None:
        if member.isblk() or (member.ischr() and member.devmajor not in ALLOWED_DEVICE_MAJORS):
            kind = "block" if member.isblk() else "character"
            raise UnsafeLayer(f'refusing layer entry "{member.name}": {kind} device '
                              f"{member.devmajor}:{member.devminor} is not allowed: invalid argument")
        if member.islnk() and not _inside(member.linkname):
            raise UnsafeLayer(f'refusing layer entry "{member.name}": hard link to "{member.linkname}" '
                              "outside the layer: invalid argument")

    def create(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        if member.isdir():
            if not os.path.isdir(path):
                os.mkdir(path, 0o700)
            self.dirs.append((path, member))
        elif member.isreg():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(tar.extractfile(member), out, COPY_CHUNK)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            os.link(self.link_target(member), path, follow_symlinks=False)
            return  # the same inode as its target: its attributes are the target's
        elif (member.ischr() or member.isblk()) and self.in_userns:
            return  # containerd: "cannot create a device if running in user namespace"
        elif member.ischr() or member.isblk():
            mode = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, mode | 0o600, os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            raise UnsafeLayer(f'refusing layer entry "{member.name}": unsupported type {member.type!r}: '
                              "invalid argument")
        self.set_attributes(member, path)

    def link_target(self, member: tarfile.TarInfo) -> str:
        name = _safe_name(member.linkname) or ""
        parent, base = os.path.split(name)
        target = os.path.join(resolve_in_root(self.root, parent), base)
        if not _lstat(target):
            raise InvalidArgument(f'hard link "{member.name}" to missing "{member.linkname}": invalid argument')
        return target

    def set_attributes(self, member: tarfile.TarInfo, path: str) -> None:
        self.lchown(path, member.uid, member.gid)
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr.") and not key.startswith("SCHILY.xattr.trusted.overlay."):
                _set_xattr(path, key[len("SCHILY.xattr."):], value.encode("utf-8", "surrogateescape"))
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)  # after chown, which clears set-id bits
            if not member.isdir():
                os.utime(path, (member.mtime, member.mtime))
        else:
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)

    def lchown(self, path: str, uid: int, gid: int) -> None:
        try:
            os.lchown(path, uid, gid)
        except OSError as e:
            if not (self.in_userns and e.errno in UNMAPPED_OWNER):
                raise

    def make_parents(self, parent_path: str) -> None:
        """Create missing directories between the root and `parent_path`, like the lower layers' ones."""
        missing = []
        path = parent_path
        while path != self.root and not _lstat(path):
            missing.append(path)
            path = os.path.dirname(path)
        for path in reversed(missing):
            os.mkdir(path, 0o755)
            lower = self.lower_stat(os.path.relpath(path, self.root))
            if lower is not None:
                self.lchown(path, lower.st_uid, lower.st_gid)
                os.chmod(path, stat.S_IMODE(lower.st_mode))
                os.utime(path, ns=(lower.st_atime_ns, lower.st_mtime_ns))

    def lower_stat(self, rel: str) -> os.stat_result | None:
        for parent in self.parents:
            st = _lstat(resolve_in_root(parent, rel))
            if st is not None:
                return st
        return None

    def whiteout(self, path: str) -> None:
        if self.overlay:
            _remove(path)
            os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        else:
            _remove(path)

    def opaque(self, dir_path: str) -> None:
        if self.overlay:
            os.setxattr(dir_path, OVERLAY_OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        for entry in os.listdir(dir_path):
            child = os.path.join(dir_path, entry)
            if not any(p == child or p.startswith(child + "/") for p in self.unpacked):
                _remove(child)



def _safe_name(name: str) -> str | None:
    """The entry's path relative to the root ('./a/b' -> 'a/b'); None for the root itself.
    Raises UnsafeLayer for an absolute path or one with a `..` component."""
    if name.startswith("/"):
        raise UnsafeLayer(f'refusing layer entry "{name}": absolute path: invalid argument')
    parts = [p for p in PurePosixPath(name).parts if p != "."]
    if ".." in parts:
        raise UnsafeLayer(f'refusing layer entry "{name}": path contains "..": invalid argument')
    return "/".join(parts) or None


def _inside(name: str) -> bool:
    try:
        return _safe_name(name) is not None
    except UnsafeLayer:
        return False


def resolve_in_root(root: str, rel: str) -> str:
    """`rel` under `root` with every symlink followed as if `root` were `/` (never leaving it)."""
    pending = [p for p in rel.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        st = _lstat(candidate)
        if st is None or not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_SYMLINKS:
            raise InvalidArgument(f"too many levels of symbolic links resolving {rel}: invalid argument")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending = [p for p in target.split("/") if p not in ("", ".")] + pending
    return os.path.join(root, *resolved)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


def _remove(path: str) -> None:
    st = _lstat(path)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _set_xattr(path: str, key: str, value: bytes) -> None:
    try:
        os.setxattr(path, key, value, follow_symlinks=False)
    except OSError as e:
        if e.errno not in (95, 1):  # EOPNOTSUPP, EPERM: the filesystem or namespace cannot hold it
            raise
