"""What tracing costs: `whale run --rm busybox true` against whaled with every layer recording its spans,
beside the same against a whaled started with --no-tracing and the client with WHALE_TRACE=0 (so no
traceparent travels and no layer records anything), interleaved, median of N rounds each. Target: under 5%.
Both daemons make busybox:latest from the host's busybox themselves. Every process runs from its .pyc
files, as installed (PYTHONDONTWRITEBYTECODE is dropped: with it, a module changed since its .pyc was
written is compiled again in every shim and runtime that loads it, which is no cost of tracing).
Beside the wall times, the CPU time per run of each side's whole stack (whaled, whale-containerd, the shims
and the runtimes: each whaled is moved into a cpuacct cgroup of its own with its containerd, the shims
inherit it) and of the client: what a loaded machine pays, where the wall time of an idle one hides work
done off the critical path.

    sudo PYTHONPATH=. .venv/bin/python benchmarks/trace_overhead.py [rounds]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.client_run import WHALE, Whaled, compare, report

CPUACCT = Path("/sys/fs/cgroup/cpuacct")  # cgroup v1; elsewhere the CPU lines are left out
WARM_UPS = 3  # compare's, per command: counted in the stack's CPU time as well


class StackCpu:
    """CPU time of a whaled and all it starts, from a cpuacct cgroup it and its whale-containerd move to."""

    def __init__(self, name: str, whaled: Whaled):
        self.group = CPUACCT / name if CPUACCT.is_dir() and whaled.proc is not None else None
        if self.group is None:
            return
        self.group.mkdir()
        pid = whaled.proc.pid
        for process in [str(pid), *Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]:
            (self.group / "cgroup.procs").write_text(process)
        self.start_ns = self.usage_ns()

    def usage_ns(self) -> int:
        return int((self.group / "cpuacct.usage").read_text()) if self.group is not None else 0

    def per_run_ms(self, runs: int) -> float:
        return (self.usage_ns() - self.start_ns) / runs / 1e6

    def close(self) -> None:
        """Its processes back to the root group (the daemons are stopped after), the group removed."""
        if self.group is None:
            return
        for process in (self.group / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):  # gone already
                (CPUACCT / "cgroup.procs").write_text(process)
        self.group.rmdir()


def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-bench-trace-", dir="/tmp"))
    env = {**os.environ, "WHALE_CONFIG": str(work / "whale-config")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    traced, untraced = Whaled(env=env), Whaled(["--no-tracing"], env=env)
    cpu: dict[str, StackCpu] = {}
    try:
        if not (traced.start() and untraced.start()):
            raise SystemExit("whaled could not be started here")
        cpu = {"tracing on": StackCpu(f"wb-bench-trace-on-{os.getpid()}", traced),
               "tracing off": StackCpu(f"wb-bench-trace-off-{os.getpid()}", untraced)}
        run = ["run", "--rm", "busybox", "true"]
        # WHALE_TRACE in argv's environment: `env` runs each side with its own setting.
        times = compare(rounds, {
            "tracing on": ["env", "WHALE_TRACE=1", WHALE, "-H", traced.host, *run],
            "tracing off": ["env", "WHALE_TRACE=0", WHALE, "-H", untraced.host, *run]}, env)
        report("`whale run --rm busybox true` -> whaled (whole whale stack), tracing on beside off", times,
               "tracing on", "tracing off")
        report_cpu(cpu, times, rounds)
    finally:
        for group in cpu.values():
            group.close()
        traced.stop()
        untraced.stop()
        shutil.rmtree(work, ignore_errors=True)


def report_cpu(cpu: dict[str, StackCpu], times: dict[str, list[tuple]], rounds: int) -> None:
    if not all(group.group is not None for group in cpu.values()):
        return
    time.sleep(1.0)  # the spans' delayed work (the daemon's store, a shim's exit) done
    totals = {}
    for name, group in cpu.items():
        stack = group.per_run_ms(rounds + WARM_UPS)
        client = statistics.mean(c for _, c in times[name]) * 1000
        totals[name] = stack + client
        print(f"  {name:38s} CPU per run: stack {stack:6.1f} ms + client {client:5.1f} ms = {totals[name]:6.1f} ms")
    print(f"  CPU ratio (tracing on / tracing off): {totals['tracing on'] / totals['tracing off']:.2f}x\n", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
