"""The harness itself: a real containerd started by the test runs a container with the real runc."""

from tests.support.real_containerd import RealContainerd


def test_real_containerd_runs_a_rootfs_with_real_runc(rootfs_copy):
    with RealContainerd() as ctd:
        result = ctd.ctr("run", "--rm", "--rootfs", str(rootfs_copy), "fixture-check", "/bin/sh", "-c",
                         "echo hello; exit 3", check=False)
        assert result.stdout.replace("\r", "") == "hello\n"
        assert result.returncode == 3
        assert ctd.ctr("task", "ls", "-q").stdout.strip() == ""


def test_real_containerd_imports_our_busybox_archive(busybox_rootfs, tmp_path):
    from corelib.images.archive import write_docker_archive

    archive = tmp_path / "busybox.tar"
    write_docker_archive(archive, busybox_rootfs, ["docker.io/library/busybox:latest"])
    with RealContainerd() as ctd:
        ctd.ctr("images", "import", str(archive))
        assert "docker.io/library/busybox:latest" in ctd.ctr("images", "ls", "-q").stdout.split()
        result = ctd.ctr("run", "--rm", "docker.io/library/busybox:latest", "img-check", "echo", "from-image")
        assert result.stdout.strip() == "from-image"
