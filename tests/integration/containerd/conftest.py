from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.containerd.harness import WhaleContainerd, real_containerd
from tests.support.real_containerd import RealContainerd


@pytest.fixture(scope="module")
def whale() -> Iterator[WhaleContainerd]:
    with WhaleContainerd() as ctd:
        yield ctd


@pytest.fixture(scope="module")
def real() -> Iterator[RealContainerd]:
    with real_containerd() as ctd:
        yield ctd
