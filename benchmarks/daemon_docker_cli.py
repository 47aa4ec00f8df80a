"""The real docker CLI against whaled beside the same CLI against the real dockerd 20.10: in one
run, interleaved, median of N rounds of `docker run --rm --network none busybox true`.

  * whaled on the real containerd 1.6 (so only the daemon differs: the same containerd, shim, runc);
  * whaled on its own whale-containerd (the whole whale stack below the CLI), with --whale-stack.

    sudo PYTHONPATH=. .venv/bin/python benchmarks/daemon_docker_cli.py [rounds] [--whale-stack]
"""

from __future__ import annotations

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
from tests.integration.daemon.harness import Whaled
from tests.support.real_containerd import RealContainerd
from tests.support.real_dockerd import DOCKER_CLI_28, RealDockerd


def run_once(host: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([DOCKER_CLI_28, "-H", host, "run", "--rm", "--network", "none", "busybox", "true"], check=True,
                   capture_output=True, env=env, timeout=120)
    return time.perf_counter() - start


def measure(hosts: dict[str, str], rounds: int, env: dict[str, str]) -> dict[str, list[float]]:
    for host in hosts.values():
        for _ in range(3):  # warm up: page cache, the first container, lazily built state
            run_once(host, env)
    times: dict[str, list[float]] = {name: [] for name in hosts}
    for _ in range(rounds):
        for name, host in hosts.items():
            times[name].append(run_once(host, env))
    return times


def main() -> None:
    rounds = int(next((a for a in sys.argv[1:] if a.isdigit()), "20"))
    whale_stack = "--whale-stack" in sys.argv
    work = Path(tempfile.mkdtemp(prefix="wb-bench-", dir="/tmp"))
    try:
        times = measure_all(work, rounds, whale_stack)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{rounds} rounds, interleaved; load average {os.getloadavg()[0]:.2f}")
    reference = statistics.median(times["docker -> dockerd 20.10"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:42s} median {median * 1000:6.1f} ms  (min {min(values) * 1000:6.1f})  "
              f"ratio {median / reference:.2f}x")


def measure_all(work: Path, rounds: int, whale_stack: bool) -> dict[str, list[float]]:
    archive = work / "busybox.tar"
    write_docker_archive(archive, build_busybox_rootfs(work / "rootfs"), ["busybox:latest"])
    env = {**os.environ, "DOCKER_CONFIG": str(work / "cli")}
    with RealDockerd() as dockerd, RealContainerd() as containerd, \
            Whaled(containerd=containerd.address, namespace=containerd.namespace) as on_real:
        dockerd.docker("load", "-i", str(archive))
        hosts = {"docker -> dockerd 20.10": dockerd.host, "docker -> whaled -> containerd 1.6": on_real.host}
        stack = Whaled() if whale_stack else None
        try:
            if stack is not None:
                stack.start()
                hosts["docker -> whaled -> whale-containerd"] = stack.host
            return measure(hosts, rounds, env)
        finally:
            if stack is not None:
                stack.stop()


if __name__ == "__main__":
    main()
