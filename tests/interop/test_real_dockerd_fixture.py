"""The harness itself: a private real dockerd loads our busybox archive and runs it, no network."""

from corelib.images.archive import write_docker_archive
from tests.support.real_dockerd import DOCKER_CLI_28, RealDockerd


def test_real_dockerd_loads_and_runs_our_busybox(busybox_rootfs, tmp_path):
    archive = tmp_path / "busybox.tar"
    write_docker_archive(archive, busybox_rootfs, ["busybox:latest"])
    with RealDockerd() as dockerd:
        assert "Loaded image: busybox:latest" in dockerd.docker("load", "-i", str(archive)).stdout
        result = dockerd.docker("run", "--rm", "--network", "none", "busybox", "echo", "hi", cli=DOCKER_CLI_28)
        assert result.stdout == "hi\n"
        failed = dockerd.docker("run", "--rm", "--network", "none", "busybox", "/nonexistent", check=False)
        assert failed.returncode == 127
