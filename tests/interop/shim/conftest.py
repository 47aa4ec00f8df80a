"""A real containerd 1.6 with our shim on its PATH and a busybox image imported, once per module and
per OCI runtime under the shim (real runc, whale-runc): what `ctr run --runtime io.containerd.whale.v2`
needs."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import pytest

from corelib.images.archive import write_docker_archive
from corelib.shim.runc import RUNC_ROOT
from tests.support.env import require_binary, venv_bin
from tests.support.real_containerd import RealContainerd

IMAGE = "docker.io/library/busybox:latest"
RUNTIME = "io.containerd.whale.v2"
SHIM = "containerd-shim-whale-v2"


@pytest.fixture(scope="session")
def busybox_archive(busybox_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = tmp_path_factory.mktemp("image") / "busybox.tar"
    write_docker_archive(archive, busybox_rootfs, [IMAGE])
    return archive


def oci_runtime(name: str) -> str:
    return require_binary("runc") if name == "runc" else venv_bin("whale-runc")


@pytest.fixture(scope="module", params=["runc", "whale-runc"])
def containerd(request, busybox_archive):
    """containerd whose shims (ours) run `runc` or `whale-runc`, chosen by $WHALE_SHIM_RUNTIME."""
    shim_dir = os.path.dirname(venv_bin(SHIM))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WHALE_SHIM_RUNTIME", oci_runtime(request.param))
        # an explicit namespace: one made from a temp dir's name may end in "_", which containerd refuses
        namespace = f"wbshim{os.getpid()}x{secrets.token_hex(3)}"
        with RealContainerd(extra_path=[shim_dir], namespace=namespace) as ctd:
            ctd.ctr("images", "import", str(busybox_archive))
            ctd.runtime_name = request.param
            yield ctd
        remove_runtime_root(namespace)


def remove_runtime_root(namespace: str) -> None:
    """The runtime's state directory for the namespace, which runc leaves behind once it is empty."""
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(os.path.join(RUNC_ROOT, namespace))
