"""Write a layer tar of what a snapshot changed (the other way round from unpack.py).

For an overlay snapshot the changes are its upperdir, in overlayfs's form: a 0/0 character device
for a removed path becomes an OCI whiteout `.wh.NAME`, a directory marked `trusted.overlay.opaque`
is followed by `.wh..wh..opq`. A snapshot without parents is its whole tree. overlayfs's own xattrs
never go into the layer; upperdirs that rely on redirects or metacopy are refused, since their
changes are not all in the upperdir.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from corelib import errdefs
from corelib.images.unpack import OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX

_OVERLAY_XATTRS = "trusted.overlay."
_UNSUPPORTED_XATTRS = ("trusted.overlay.redirect", "trusted.overlay.metacopy")


@dataclass
class Written:
    uncompressed: str  # the diff ID
    size: int  # bytes written to `out` (compressed if asked)


class _Counting:
    """What the tar writes: counted and digested on the way to `out` (or to the gzip stream)."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.out.write(data) or len(data)


def write_diff(root: str, out: BinaryIO, overlay: bool, compress: bool) -> Written:
    """Write the changes in `root` (an overlay upperdir when `overlay`) to `out` as a layer tar."""
    sink = _Counting(out)
    gz = gzip.GzipFile(fileobj=sink, mode="wb", mtime=0) if compress else None
    plain = _Counting(gz) if gz else sink
    with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for rel in _walk(root):
            _add(tar, root, rel, overlay)
    if gz:
        gz.close()
    return Written("sha256:" + plain.hash.hexdigest(), sink.size)


def _walk(root: str) -> list[str]:
    """Every path below `root`, parents before children, in a stable order."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            paths.append(name if rel == "." else f"{rel}/{name}")
    return sorted(paths, key=lambda p: p.split("/"))


def _add(tar: tarfile.TarFile, root: str, rel: str, overlay: bool) -> None:
    path = os.path.join(root, rel)
    st = os.lstat(path)
    xattrs = _xattrs(path)
    if overlay and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
        parent, name = os.path.split(rel)
        _add_empty(tar, os.path.join(parent, WHITEOUT_PREFIX + name), st)
        return
    if any(key in xattrs for key in _UNSUPPORTED_XATTRS):
        raise errdefs.NotImplemented(f"diff of {rel}: overlay redirects and metacopy are not supported: "
                                     "not implemented")
    info = tar.gettarinfo(path, arcname=rel)
    info.uname = info.gname = ""
    info.mtime = int(info.mtime)  # whole seconds, as containerd writes them (no PAX record for them)
    info.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in xattrs.items()
                        if not k.startswith(_OVERLAY_XATTRS)}
    if info.isreg():
        with open(path, "rb") as f:
            tar.addfile(info, f)
    else:
        tar.addfile(info)
    if overlay and info.isdir() and xattrs.get(OVERLAY_OPAQUE_XATTR) == b"y":
        _add_empty(tar, os.path.join(rel, OPAQUE_WHITEOUT), st)


def _add_empty(tar: tarfile.TarFile, name: str, st: os.stat_result) -> None:
    """A whiteout marker: an empty file of mode 0, as containerd writes them."""
    info = tarfile.TarInfo(name)
    info.mode = 0
    info.mtime = int(st.st_mtime)
    tar.addfile(info)


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        return {k: os.getxattr(path, k, follow_symlinks=False) for k in os.listxattr(path, follow_symlinks=False)}
    except OSError:
        return {}
