"""The same ImageService on our own containerd (whale-containerd): load, pull, rootfs, delete."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.daemon_images.helpers import Service, chunks_of
from tests.support import cleanup
from tests.support.env import require_root, venv_bin
from tests.support.registry import Registry


@pytest.fixture(scope="module")
def whale_containerd() -> Iterator[str]:
    require_root()
    work = Path(tempfile.mkdtemp(prefix="wb-wcd-", dir="/tmp"))
    address = str(work / "c.sock")
    with open(work / "log", "wb") as log:
        proc = subprocess.Popen([venv_bin("whale-containerd"), "--address", address, "--root", str(work / "root"),
                                 "--state", str(work / "state")], stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(address):
            assert proc.poll() is None and time.monotonic() < deadline, (work / "log").read_text()
            time.sleep(0.05)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        cleanup.kill_and_wait(cleanup.pids_with_marker(str(work)))
        cleanup.unmount_all_under(str(work))
        shutil.rmtree(work, ignore_errors=True)


def test_images_on_whale_containerd(whale_containerd: str, busybox_archive: Path, registry: Registry) -> None:
    svc = Service(whale_containerd, "moby")
    try:
        assert svc.run(svc.images.load(chunks_of(busybox_archive.read_bytes()), None)) == ["busybox:local"]
        svc.run(svc.images.pull(f"{registry.host}/team/app", "v1", None, svc.record))
        assert svc.progress[-1]["status"] == f"Status: Downloaded newer image for {registry.host}/team/app:v1"
        assert {t for i in svc.run(svc.images.list_images()) for t in i["RepoTags"]} == \
            {"busybox:local", f"{registry.host}/team/app:v1"}
        [mount] = svc.run(svc.images.prepare_rootfs("busybox:local", "c1"))
        lower = next(o for o in mount.options if o.startswith("lowerdir=")).removeprefix("lowerdir=")
        assert os.path.isfile(os.path.join(lower.split(":")[0], "bin/busybox"))
        svc.run(svc.images.remove_rootfs("c1"))
        for ref in ("busybox:local", f"{registry.host}/team/app:v1"):
            assert svc.run(svc.images.delete(ref))[-1]["Deleted"].startswith("sha256:")
        assert svc.run(svc.images.list_images()) == []
    finally:
        svc.close()
