"""`whale run --rm busybox true` beside `docker run --rm --network none busybox true`, in one run,
interleaved, median of N rounds each:

  1. both clients against the same real dockerd 20.10 (isolates the client's own cost), and
  2. whale -> whaled beside docker -> the real dockerd (the issue's target: 0.5x or less), when
     `whaled` can be started here (skipped, and said so, when it cannot).

Also: the client's own start-up (`whale --version`, nothing but Python and the CLI's imports).

    sudo PYTHONPATH=. .venv/bin/python benchmarks/client_run.py [rounds]
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corelib.images.archive import write_docker_archive
from corelib.images.busybox import build_busybox_rootfs
from tests.support import cleanup
from tests.support.real_dockerd import DOCKER_CLI_28, RealDockerd

VENV_BIN = Path(sys.executable).parent
WHALE = str(VENV_BIN / "whale")


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time of the command, and the CPU time (user + system) of the client process itself,
    which a busy machine inflates far less than the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compare(rounds: int, commands: dict[str, list[str]], env: dict[str, str]) -> dict[str, list[tuple]]:
    for argv in commands.values():
        for _ in range(3):  # warm up: page cache, .pyc files, first container
            timed(argv, env)
    times: dict[str, list[tuple]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            times[name].append(timed(argv, env))
    return times


def report(title: str, times: dict[str, list[tuple]], ours: str, theirs: str) -> None:
    print(f"{title} (load average {os.getloadavg()[0]:.2f})", flush=True)
    for name, values in times.items():
        walls, cpus = [w for w, _ in values], [c for _, c in values]
        print(f"  {name:38s} median {statistics.median(walls) * 1000:6.1f} ms   "
              f"min {min(walls) * 1000:6.1f} ms   max {max(walls) * 1000:6.1f} ms   "
              f"client CPU median {statistics.median(cpus) * 1000:5.1f} ms")
    ratio = statistics.median(w for w, _ in times[ours]) / statistics.median(w for w, _ in times[theirs])
    print(f"  ratio ({ours} / {theirs}, medians): {ratio:.2f}x\n", flush=True)


class Whaled:
    """whaled in private directories (its own whale-containerd), or None when it cannot start."""

    def __init__(self, extra_args: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.extra_args = extra_args or []
        self.env = env  # whaled's environment (and so its children's); None: this process's
        self.dir = Path(tempfile.mkdtemp(prefix="wb-bench-whd-", dir="/tmp"))
        self.host = f"unix://{self.dir}/whaled.sock"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> bool:
        binary = VENV_BIN / "whaled"
        if not binary.exists():
            return False
        log = open(self.dir / "whaled.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen([str(binary), "-H", self.host, "--data-root", str(self.dir / "data"),
                                      "--exec-root", str(self.dir / "exec"), "--pidfile", str(self.dir / "pid"),
                                      *self.extra_args],
                                     stdout=log, stderr=log, start_new_session=True, env=self.env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            probe = subprocess.run([WHALE, "-H", self.host, "version"], capture_output=True)
            if probe.returncode == 0:
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        cleanup.kill_and_wait(cleanup.pids_with_marker(str(self.dir)))
        cleanup.unmount_all_under(str(self.dir))
        shutil.rmtree(self.dir, ignore_errors=True)


def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-bench-cli-", dir="/tmp"))
    try:
        measure(rounds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(rounds: int, work: Path) -> None:
    archive = work / "busybox.tar"
    write_docker_archive(archive, build_busybox_rootfs(work / "rootfs"), ["busybox:latest"])
    env = {**os.environ, "WHALE_CONFIG": str(work / "whale-config"), "DOCKER_CONFIG": str(work / "docker-config")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # whale starts from its .pyc files, as it does when installed
    startup = compare(rounds, {"whale --version": [WHALE, "--version"],
                               "docker --version (28.2)": [DOCKER_CLI_28, "--version"]}, env)
    report("client start-up alone", startup, "whale --version", "docker --version (28.2)")
    with RealDockerd() as dockerd:
        dockerd.docker("load", "-i", str(archive))
        run = ["run", "--rm", "--network", "none", "busybox", "true"]
        same = compare(rounds, {"whale -> dockerd": [WHALE, "-H", dockerd.host, *run],
                                "docker 28.2 -> dockerd": [DOCKER_CLI_28, "-H", dockerd.host, *run]}, env)
        report("`run --rm --network none busybox true`, both clients against the real dockerd 20.10", same,
               "whale -> dockerd", "docker 28.2 -> dockerd")
        whaled = Whaled()
        try:
            if whaled.start():
                subprocess.run([WHALE, "-H", whaled.host, "load", "-i", str(archive)], check=True, capture_output=True,
                               env=env, timeout=120)
                target = compare(rounds, {
                    "whale -> whaled": [WHALE, "-H", whaled.host, "run", "--rm", "busybox", "true"],
                    "docker 28.2 -> dockerd": [DOCKER_CLI_28, "-H", dockerd.host, *run]}, env)
                report("the issue's target: `whale run --rm busybox true` -> whaled beside "
                       "`docker run --rm --network none busybox true` -> dockerd", target,
                       "whale -> whaled", "docker 28.2 -> dockerd")
            else:
                print("whaled: could not be started here; the whale -> whaled comparison is not measured\n")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            print(f"whaled: {e}; the whale -> whaled comparison is not measured\n")
        finally:
            whaled.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
