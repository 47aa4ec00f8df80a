"""`ctr run --rm IMAGE id /bin/true` against whale-containerd and against the real containerd 1.6,
both driving the real containerd-shim-runc-v2 and runc (so the comparison is of containerd alone),
in one run, interleaved, same image.

    sudo PYTHONPATH=. .venv/bin/python benchmarks/containerd_run.py [rounds]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corelib.images.archive import write_docker_archive
from corelib.images.busybox import build_busybox_rootfs
from tests.integration.containerd.harness import WhaleContainerd, real_containerd

IMAGE = "docker.io/library/busybox:latest"


def run_rm(ctd, name: str) -> float:  # noqa: ANN001
    argv = [ctd.ctr_binary, "--address", ctd.address, "--namespace", ctd.namespace, "run", "--rm", IMAGE, name,
            "/bin/true"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-bench-ctd-", dir="/tmp"))
    try:
        times = measure(work, rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(times, rounds)


def measure(work: Path, rounds: int) -> dict[str, list[float]]:
    archive = work / "busybox.tar"
    write_docker_archive(archive, build_busybox_rootfs(work / "rootfs"), [IMAGE])
    with WhaleContainerd() as ours, real_containerd() as real:
        for ctd in (ours, real):
            ctd.ctr("images", "import", str(archive))
            for i in range(3):  # warm up: page cache, first shim start
                run_rm(ctd, f"warm{i}")
        times: dict[str, list[float]] = {"whale-containerd": [], "containerd 1.6.20": []}
        for i in range(rounds):
            times["whale-containerd"].append(run_rm(ours, f"bench{i}"))
            times["containerd 1.6.20"].append(run_rm(real, f"bench{i}"))
    return times


def report(times: dict[str, list[float]], rounds: int) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"ctr run --rm {IMAGE} ID /bin/true, {rounds} rounds each, interleaved")
    for name, values in times.items():
        print(f"  {name:20s} median {medians[name] * 1000:6.1f} ms   mean {statistics.mean(values) * 1000:6.1f} ms"
              f"   min {min(values) * 1000:6.1f} ms")
    print(f"  ratio (whale / real, medians): {medians['whale-containerd'] / medians['containerd 1.6.20']:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
