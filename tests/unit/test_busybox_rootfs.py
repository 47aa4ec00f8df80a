import os
import subprocess

from corelib.images.busybox import _is_static, applets, build_busybox_rootfs, find_host_busybox


def test_rootfs_has_every_applet_and_the_basics(tmp_path):
    busybox = find_host_busybox()
    root = build_busybox_rootfs(tmp_path / "rootfs")
    for applet in applets(busybox):
        assert os.path.lexists(root / applet), applet
    assert (root / "bin/sh").resolve() == (root / "bin/busybox").resolve()
    for d in ("proc", "sys", "dev", "tmp"):
        assert (root / d).is_dir()
    assert (root / "tmp").stat().st_mode & 0o1777 == 0o1777
    assert (root / "etc/passwd").read_text().startswith("root:x:0:0:")
    assert "nogroup:x:65534:" in (root / "etc/group").read_text()


def test_applet_links_are_relative_so_they_work_inside_the_container(tmp_path):
    root = build_busybox_rootfs(tmp_path / "rootfs")
    for applet in ("bin/sh", "usr/bin/env", "sbin/ifconfig"):
        assert not os.readlink(root / applet).startswith("/")
    out = subprocess.run(["chroot", str(root), "/usr/bin/env", "echo", "inside"], capture_output=True, text=True)
    assert out.stdout == "inside\n"


def test_static_detection(tmp_path):
    assert _is_static(find_host_busybox())
    assert not _is_static("/bin/ls")
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert not _is_static(str(tmp_path / "script"))
