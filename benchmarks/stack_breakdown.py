"""Where a `whale run busybox true` spends its time, layer by layer: N runs against a whaled of the working
tree (its own whale-containerd, our shim, whale-runc), each run's trace read back, and the median of
each step printed, the client's process timed around its root span, and whale-runc's phases.

    sudo PYTHONPATH=. .venv/bin/python benchmarks/stack_breakdown.py [runs]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks.client_run import WHALE, Whaled

MS = 1e6


def one_run(whaled: Whaled, name: str, env: dict[str, str]) -> dict[str, float]:
    started = time.time_ns()
    subprocess.run([WHALE, "-H", whaled.host, "run", "--name", name, "busybox", "true"], env=env, check=True,
                   capture_output=True, timeout=120)
    ended = time.time_ns()
    out = subprocess.run([WHALE, "-H", whaled.host, "trace", name, "--format", "json"], env=env, check=True,
                         capture_output=True, timeout=60).stdout
    subprocess.run([WHALE, "-H", whaled.host, "rm", name], env=env, check=True, capture_output=True, timeout=60)
    return steps(json.loads(out), started, ended)


def steps(spans: list[dict], started: int, ended: int) -> dict[str, float]:
    by = {(s["layer"], s["name"]): s for s in spans}

    def span(layer: str, name: str) -> dict:
        return by[(layer, name)]

    def length(layer: str, name: str) -> float:
        s = span(layer, name)
        return (s["end_ns"] - s["start_ns"]) / MS

    root, create, start = span("client", "runRun"), span("runc", "load config"), span("shim", "runc create")
    task_create, shim_create = span("containerd", "Task.Create"), span("shim", "Create")
    runc_start, exit_ = span("shim", "runc start"), span("shim", "exit")
    return {
        "client: process start -> root span": (root["start_ns"] - started) / MS,
        "client: ContainerCreate": length("client", "ContainerCreate"),
        "daemon: containerStart before containerd.Start": (span("daemon", "containerd.Start")["start_ns"]
                                                           - span("daemon", "containerStart")["start_ns"]) / MS,
        "containerd: shim.start (the shim's start action)": length("containerd", "shim.start"),
        "shim: server ready (Task.Create sent -> Create runs)": (shim_create["start_ns"]
                                                                 - task_create["start_ns"]) / MS,
        "shim: runc create": length("shim", "runc create"),
        "  whale-runc: exec -> first phase (interpreter, imports)": (create["start_ns"] - start["start_ns"]) / MS,
        "  whale-runc: namespaces + cgroups + mounts (overlapping)": (span("runc", "mounts")["end_ns"]
                                                                    - span("runc", "namespaces")["start_ns"]) / MS,
        "  whale-runc: pivot_root -> capabilities (no phase says)": (span("runc", "capabilities")["start_ns"]
                                                                   - span("runc", "pivot_root")["end_ns"]) / MS,
        "shim: Create after runc create": (shim_create["end_ns"] - start["end_ns"]) / MS,
        "containerd: Tasks.Start": length("containerd", "Tasks.Start"),
        "shim: runc start": length("shim", "runc start"),
        "  whale-runc start: its own work": length("runc", "start"),
        "shim: runc start ended -> exit seen": (exit_["start_ns"] - runc_start["end_ns"]) / MS,
        "exit -> client's root span ends": (root["end_ns"] - exit_["start_ns"]) / MS,
        "client: root span end -> process gone": (ended - root["end_ns"]) / MS,
        "total (client process)": (ended - started) / MS,
    }


def main(runs: int) -> None:
    whaled = Whaled()
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        if not whaled.start():
            raise SystemExit("whaled could not be started here")
        for i in range(3):  # warm up
            one_run(whaled, f"warm{i}", env)
        rows = [one_run(whaled, f"breakdown{i}", env) for i in range(runs)]
    finally:
        whaled.stop()
    print(f"`whale run --name N busybox true` -> whaled, {runs} runs, medians (load average {os.getloadavg()[0]:.2f})")
    for step in rows[0]:
        print(f"  {step:60s} {statistics.median(r[step] for r in rows):6.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
