from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from corelib.images.busybox import BusyboxNotFound, build_busybox_rootfs
from tests.support.env import missing


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine busybox root filesystem, built once; copy it before writing to it."""
    try:
        return build_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")
    except BusyboxNotFound as e:
        missing(str(e))


@pytest.fixture
def rootfs_copy(busybox_rootfs: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the busybox root filesystem."""
    dest = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, dest, symlinks=True)
    return dest
