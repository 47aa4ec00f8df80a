"""The whole whale stack at an earlier revision beside the working tree: `whale run --rm busybox true`
against a whaled (with its own whale-containerd, our shim and whale-runc) of each, interleaved, median
of N rounds. The earlier revision runs from a git worktree in /tmp, every layer of it (the client
too) through PYTHONPATH, the same interpreter and venv for both.

    sudo PYTHONPATH=. .venv/bin/python benchmarks/stack_ab.py REVISION [rounds]
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

from benchmarks.client_run import WHALE, Whaled

REPO = Path(__file__).resolve().parent.parent


class WhaledAt(Whaled):
    """A Whaled whose every process imports corelib from `source` (None: the working tree)."""

    def __init__(self, source: Path | None) -> None:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # every layer from its .pyc files, as when installed
        env.pop("PYTHONPATH", None)
        if source is not None:
            env["PYTHONPATH"] = str(source)
        super().__init__(env=env)

    def run(self) -> float:
        start = time.perf_counter()
        subprocess.run([WHALE, "-H", self.host, "run", "--rm", "busybox", "true"], env=self.env, check=True,
                       capture_output=True, timeout=120)
        return time.perf_counter() - start


def main(revision: str, rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-bench-ab-", dir="/tmp"))
    tree = work / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(tree), revision], check=True)
    sides = {f"at {revision}": WhaledAt(tree), "working tree": WhaledAt(None)}
    try:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "corelib")], check=True,
                       stdout=subprocess.DEVNULL)
        if not all(side.start() for side in sides.values()):
            raise SystemExit("whaled could not be started here")
        for side in sides.values():
            for _ in range(3):  # warm up: page cache, the first container
                side.run()
        times: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(rounds):
            for name, side in sides.items():
                times[name].append(side.run())
    finally:
        for side in sides.values():
            side.stop()
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(work, ignore_errors=True)
    print(f"`whale run --rm busybox true` -> whaled, whole stack, {rounds} rounds interleaved "
          f"(load average {os.getloadavg()[0]:.2f})")
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    for name, values in times.items():
        print(f"  {name:24s} median {medians[name]:6.1f} ms   min {min(values) * 1000:6.1f} ms")
    first, second = medians.values()
    print(f"  ratio (working tree / {revision}): {second / first:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20)
