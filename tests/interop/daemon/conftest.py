from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from corelib.images.archive import write_docker_archive
from tests.integration.daemon.conftest import real_containerd, whaled
from tests.integration.daemon.harness import DOCKER_CLI_20, DOCKER_CLI_28
from tests.support.env import missing
from tests.support.real_dockerd import RealDockerd
from tests.support.registry import Registry

__all__ = ["real_containerd", "whaled"]  # the same module-scoped daemons as the integration tests


@pytest.fixture(scope="module")
def busybox_archive(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archives") / "busybox.tar"
    write_docker_archive(out, busybox_rootfs, ["busybox:latest"])
    return out


@pytest.fixture(scope="module")
def registry(busybox_archive: Path) -> Iterator[Registry]:
    """Debian's docker-registry on 127.0.0.1, with busybox pushed as pulled/busybox:test."""
    with Registry() as reg:
        reg.push(busybox_archive, "pulled/busybox:test")
        yield reg


@pytest.fixture(scope="module")
def dockerd(busybox_archive: Path) -> Iterator[RealDockerd]:
    """The real dockerd 20.10, to compare whaled with."""
    with RealDockerd() as daemon:
        daemon.docker("load", "-i", str(busybox_archive))
        yield daemon


@pytest.fixture(params=[DOCKER_CLI_20, DOCKER_CLI_28], ids=["cli20", "cli28"])
def cli(request: pytest.FixtureRequest) -> str:
    if not os.access(request.param, os.X_OK):
        missing(f"{request.param} is not installed (docker.io for 20.10; 28.x in /usr/local/bin)")
    return request.param
