from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.daemon_images.conftest import (  # noqa: F401 - fixtures shared with the integration tests
    busybox_archive,
    labelled_archive,
    real_containerd,
    registry,
    svc,
)
from tests.support.real_dockerd import RealDockerd


@pytest.fixture(scope="module")
def dockerd() -> Iterator[RealDockerd]:
    with RealDockerd() as d:
        yield d
