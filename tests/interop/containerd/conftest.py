from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corelib.images.archive import write_docker_archive
from tests.integration.containerd.harness import WhaleContainerd

IMAGE = "docker.io/library/busybox:latest"


@pytest.fixture(scope="session")
def busybox_tar(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our busybox rootfs as a `docker save` archive, as `ctr images import` and `docker load` take it."""
    out = tmp_path_factory.mktemp("whale-containerd-images") / "busybox.tar"
    write_docker_archive(out, busybox_rootfs, [IMAGE])
    return out


@pytest.fixture(scope="module")
def whale(busybox_tar: Path) -> Iterator[WhaleContainerd]:
    """whale-containerd with the busybox image imported (by the real ctr)."""
    with WhaleContainerd() as ctd:
        ctd.ctr("images", "import", str(busybox_tar))
        yield ctd
