"""The layer applier on real directories: attributes, links, whiteouts (plain and overlay form),
and unsafe entries refused with nothing written outside the root."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from corelib import errdefs
from corelib.errdefs import InvalidArgument
from corelib.images.diff import write_diff
from corelib.images.unpack import apply_layer, resolve_in_root
from tests.integration.containerd.harness import layer_tar as tar_of
from tests.integration.containerd.harness import tar_entry as member
from tests.support.env import require_root


def apply(root: Path, data: bytes, **kwargs):  # noqa: ANN003, ANN201
    return apply_layer(str(root), io.BytesIO(data), **kwargs)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    require_root()
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


def test_files_dirs_links_and_attributes(root):
    layer = tar_of(member("bin", "dir", mode=0o755), member("bin/tool", data=b"#!x", mode=0o4755, uid=5, gid=6),
                   member("bin/alias", "symlink", linkname="tool"), member("bin/hard", "hardlink", linkname="bin/tool"),
                   member("run/pipe", "fifo"), member("dev/null", "char", major=1, minor=3, mode=0o666),
                   member("cap", data=b"c", pax={"SCHILY.xattr.user.note": "hello"}))
    applied = apply(root, layer)
    assert applied.digest == "sha256:" + hashlib.sha256(layer).hexdigest() and applied.size == len(layer)
    tool = (root / "bin/tool").stat()
    assert (stat.S_IMODE(tool.st_mode), tool.st_uid, tool.st_gid, int(tool.st_mtime)) == (0o4755, 5, 6, 1_500_000_000)
    assert os.readlink(root / "bin/alias") == "tool"
    assert (root / "bin/hard").stat().st_ino == tool.st_ino
    assert stat.S_ISFIFO((root / "run/pipe").lstat().st_mode)
    assert os.major((root / "dev/null").lstat().st_rdev) == 1
    assert os.getxattr(root / "cap", "user.note") == b"hello"
    assert int((root / "bin").stat().st_mtime) == 1_500_000_000


def test_gzip_layers_are_digested_uncompressed(root):
    layer = tar_of(member("a", data=b"a" * 1000))
    assert apply(root, gzip.compress(layer)).digest == "sha256:" + hashlib.sha256(layer).hexdigest()


def test_whiteouts_on_a_plain_directory(root):
    apply(root, tar_of(member("d", "dir", mode=0o755), member("d/old", data=b"1"), member("f", data=b"2"),
                       member("o", "dir", mode=0o755), member("o/lower", data=b"3")))
    apply(root, tar_of(member(".wh.f"), member("d/.wh.old"), member("o/new", data=b"4"), member("o/.wh..wh..opq")))
    assert not (root / "f").exists() and not (root / "d/old").exists()
    assert os.listdir(root / "o") == ["new"]


def test_whiteouts_become_what_overlayfs_reads(tmp_path):
    require_root()
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    lower.mkdir()
    upper.mkdir()
    apply(lower, tar_of(member("etc", "dir", mode=0o711, uid=3, gid=4), member("etc/gone", data=b"x"),
                        member("opq", "dir", mode=0o755)))
    apply(upper, tar_of(member("etc/.wh.gone"), member("opq/.wh..wh..opq"), member("etc/new", data=b"n")),
          overlay=True, parents=(str(lower),))
    gone = (upper / "etc/gone").lstat()
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    assert os.getxattr(upper / "opq", "trusted.overlay.opaque") == b"y"
    made = (upper / "etc").stat()
    assert (stat.S_IMODE(made.st_mode), made.st_uid, made.st_gid) == (0o711, 3, 4)  # copied from the lower layer


@pytest.mark.parametrize(("entries", "message"), [
    ([member("../escaped", data=b"x")], 'path contains ".."'),
    ([member("a/../../escaped", data=b"x")], 'path contains ".."'),
    ([member("/tmp/escaped", data=b"x")], "absolute path"),
    ([member("link", "hardlink", linkname="../../etc/passwd")], "hard link"),
    ([member("link", "hardlink", linkname="/etc/passwd")], "hard link"),
    ([member("dev/sda", "block", major=8, minor=0)], "block device 8:0 is not allowed"),
    ([member("dev/kmsg", "char", major=1, minor=11), member("dev/misc", "char", major=10, minor=1)],
     "character device 10:1 is not allowed"),
])
def test_unsafe_entries_are_refused(root, entries, message):
    with pytest.raises(InvalidArgument, match=message):
        apply(root, tar_of(*entries))
    assert not (root.parent / "escaped").exists()


def test_writes_through_symlinks_stay_inside_the_root(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    climbing = "../../../../../" + str(outside)
    apply(root, tar_of(member("abs", "symlink", linkname=str(outside)), member("abs/one", data=b"1"),
                       member("rel", "symlink", linkname=climbing), member("rel/two", data=b"2"),
                       member("loop", "symlink", linkname="loop")))
    assert list(outside.iterdir()) == []
    inside = root / str(outside).lstrip("/")
    assert sorted(os.listdir(inside)) == ["one", "two"]
    with pytest.raises(InvalidArgument, match="too many levels"):
        apply(root, tar_of(member("loop/x", data=b"x")))


def test_overlay_xattrs_in_a_tar_are_ignored(root):
    apply(root, tar_of(member("d", "dir", mode=0o755, pax={"SCHILY.xattr.trusted.overlay.redirect": "/etc"})))
    assert "trusted.overlay.redirect" not in os.listxattr(root / "d")


def test_resolve_in_root_follows_links_as_if_root_were_slash(tmp_path):
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "lib").symlink_to("usr/lib")
    (tmp_path / "up").symlink_to("../../..")
    assert resolve_in_root(str(tmp_path), "lib/x") == str(tmp_path / "usr/lib/x")
    assert resolve_in_root(str(tmp_path), "up/etc") == str(tmp_path / "etc")


def test_a_truncated_layer_is_an_error(root):
    with pytest.raises(InvalidArgument, match="invalid layer tar"):
        apply(root, tar_of(member("big", data=b"x" * 5000))[:1024])


def test_an_overlay_upperdir_becomes_a_layer_with_oci_whiteouts(tmp_path):
    require_root()
    upper = tmp_path / "upper"
    (upper / "opq").mkdir(parents=True)
    os.setxattr(upper / "opq", "trusted.overlay.opaque", b"y")
    (upper / "opq/kept").write_bytes(b"k")
    os.mknod(upper / "gone", stat.S_IFCHR, os.makedev(0, 0))
    os.setxattr(upper / "opq/kept", "user.note", b"n")
    out = io.BytesIO()
    written = write_diff(str(upper), out, overlay=True, compress=False)
    assert written.uncompressed == "sha256:" + hashlib.sha256(out.getvalue()).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        members = {m.name: m for m in tar}
    assert sorted(members) == [".wh.gone", "opq", "opq/.wh..wh..opq", "opq/kept"]
    assert members[".wh.gone"].mode == 0 and members["opq/kept"].pax_headers == {"SCHILY.xattr.user.note": "n"}
    assert "SCHILY.xattr.trusted.overlay.opaque" not in members["opq"].pax_headers


def test_an_upperdir_with_redirects_is_refused(tmp_path):
    require_root()
    (tmp_path / "moved").mkdir()
    os.setxattr(tmp_path / "moved", "trusted.overlay.redirect", b"/elsewhere")
    with pytest.raises(errdefs.NotImplemented, match="redirects"):
        write_diff(str(tmp_path), io.BytesIO(), overlay=True, compress=True)
