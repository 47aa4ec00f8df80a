"""whale-runc beside the real runc: the integration fixtures, plus `runc` with its own root and log."""

from __future__ import annotations

import os

import pytest

from tests.integration.runc import conftest as shared
from tests.support.env import require_binary

# the fixtures of tests/integration/runc, shared here
whale_bin, workdir, reaper, whale = shared.whale_bin, shared.workdir, shared.reaper, shared.whale
bundle, public_bundle = shared.bundle, shared.public_bundle


@pytest.fixture
def runc(workdir, reaper) -> shared.Runtime:
    runtime = shared.Runtime(require_binary("runc"), str(workdir / "runc-root"), str(workdir / "runc-log.json"))
    yield runtime
    for container_id in os.listdir(runtime.root) if os.path.isdir(runtime.root) else []:
        runtime("delete", "--force", container_id, check=False)
