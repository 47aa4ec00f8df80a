from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.nbext.harness import GatedDockerd


@pytest.fixture(scope="session")
def dockerd(busybox_rootfs: Path) -> Iterator[GatedDockerd]:
    """One real dockerd for the notebook tests, busybox loaded; every test names its containers."""
    with GatedDockerd(busybox_rootfs) as daemon:
        yield daemon


@pytest.fixture
def whale_host(dockerd: GatedDockerd, monkeypatch: pytest.MonkeyPatch) -> str:
    """The kernels the test starts connect to the real dockerd."""
    monkeypatch.setenv("WHALE_HOST", dockerd.host)
    return dockerd.host
