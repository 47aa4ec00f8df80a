from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.daemon.harness import Whaled
from tests.support.real_containerd import RealContainerd


@pytest.fixture(scope="module")
def real_containerd() -> Iterator[RealContainerd]:
    with RealContainerd() as ctd:
        yield ctd


@pytest.fixture(scope="module")
def whaled(real_containerd: RealContainerd) -> Iterator[Whaled]:
    """whaled on the real containerd 1.6 (and so the real runc shim and runc)."""
    with Whaled(containerd=real_containerd.address, namespace=real_containerd.namespace) as daemon:
        yield daemon
