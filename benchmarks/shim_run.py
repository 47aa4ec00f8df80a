"""`ctr run --rm IMAGE id /bin/true` under the real containerd 1.6 with our containerd-shim-whale-v2 and
with the real containerd-shim-runc-v2, both over the real runc (so only the shims differ), in one
run, interleaved: the shim's share of a container's start-to-teardown (start action, server start,
Create/Start/Wait/Delete/Shutdown, the delete action).

    sudo PYTHONPATH=. .venv/bin/python benchmarks/shim_run.py [rounds]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corelib.images.archive import write_docker_archive
from corelib.images.busybox import build_busybox_rootfs
from tests.support.real_containerd import RealContainerd

IMAGE = "docker.io/library/busybox:latest"
SHIMS = {"containerd-shim-whale-v2": "io.containerd.whale.v2", "containerd-shim-runc-v2": "io.containerd.runc.v2"}


def run_rm(ctd: RealContainerd, runtime: str, name: str) -> float:
    argv = [ctd.ctr_binary, "--address", ctd.address, "--namespace", ctd.namespace, "run", "--runtime", runtime,
            "--rm", IMAGE, name, "/bin/true"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-bench-shimrun-", dir="/tmp"))
    try:
        archive = work / "busybox.tar"
        write_docker_archive(archive, build_busybox_rootfs(work / "rootfs"), [IMAGE])
        os.environ["WHALE_SHIM_RUNTIME"] = "/usr/sbin/runc"
        with RealContainerd(extra_path=[os.path.dirname(sys.executable)], namespace=f"wbbench{os.getpid()}") as ctd:
            ctd.ctr("images", "import", str(archive))
            times: dict[str, list[float]] = {name: [] for name in SHIMS}
            for i in range(rounds + 3):
                for name, runtime in SHIMS.items():
                    elapsed = run_rm(ctd, runtime, f"{name[16:20]}{i}")
                    if i >= 3:  # the first rounds warm the page cache and the snapshotter
                        times[name].append(elapsed)
        with contextlib.suppress(OSError):  # the runtime's (now empty) state directory of the namespace
            os.rmdir(f"/run/containerd/runc/wbbench{os.getpid()}")
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"ctr run --rm {IMAGE} ID /bin/true, {rounds} rounds each, interleaved, runc 1.1.5 under both")
        for name, values in times.items():
            print(f"  {name:26s} median {medians[name] * 1000:6.1f} ms   min {min(values) * 1000:6.1f} ms"
                  f"   max {max(values) * 1000:6.1f} ms")
        ours, real = medians["containerd-shim-whale-v2"], medians["containerd-shim-runc-v2"]
        print(f"  ratio (ours / real, medians): {ours / real:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
