from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from corelib.images.archive import ImageConfig, write_docker_archive
from tests.integration.daemon_images.helpers import Service
from tests.support.real_containerd import RealContainerd
from tests.support.registry import Registry

_namespaces = itertools.count()


@pytest.fixture(scope="session")
def real_containerd() -> Iterator[RealContainerd]:
    with RealContainerd() as ctd:
        yield ctd


@pytest.fixture
def svc(real_containerd: RealContainerd) -> Iterator[Service]:
    """An ImageService in a namespace of its own (so tests never see each other's images)."""
    service = Service(real_containerd.address, f"wbimg{os.getpid()}n{next(_namespaces)}")
    yield service
    service.close()


@pytest.fixture(scope="session")
def busybox_archive(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archives") / "busybox.tar"
    write_docker_archive(out, busybox_rootfs, ["busybox:local"])
    return out


@pytest.fixture(scope="session")
def labelled_archive(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second image (other config, same layer)."""
    out = tmp_path_factory.mktemp("archives") / "labelled.tar"
    write_docker_archive(out, busybox_rootfs, ["app:v1"],
                         ImageConfig(cmd=["echo", "hi"], labels={"role": "test"}, working_dir="/tmp"))
    return out


@pytest.fixture(scope="session")
def registry(busybox_archive: Path, labelled_archive: Path) -> Iterator[Registry]:
    with Registry() as reg:
        reg.push(busybox_archive, "library/busybox:latest")
        reg.push(busybox_archive, "team/busybox:test")
        reg.push(labelled_archive, "team/app:v1")
        yield reg
