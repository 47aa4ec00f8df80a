"""What tracing costs: `whale run --rm busybox true` against whaled with every layer recording its spans,
beside the same against a whaled started with --no-tracing and the client with WHALE_TRACE=0 (so no
traceparent travels and no layer records anything), interleaved, median of N rounds each. Target: under 5%.
Both daemons make busybox:latest from the host's busybox themselves. Every process runs from its .pyc
files, as installed (PYTHONDONTWRITEBYTECODE is dropped: with it, a module changed since its .pyc was
written is compiled again in every shim and runtime that loads it, which is no cost of tracing).

    sudo PYTHONPATH=. .venv/bin/python benchmarks/trace_overhead.py [rounds]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.client_run import WHALE, Whaled, compare, report


def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-bench-trace-", dir="/tmp"))
    env = {**os.environ, "WHALE_CONFIG": str(work / "whale-config")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    traced, untraced = Whaled(env=env), Whaled(["--no-tracing"], env=env)
    try:
        if not (traced.start() and untraced.start()):
            raise SystemExit("whaled could not be started here")
        run = ["run", "--rm", "busybox", "true"]
        # WHALE_TRACE in argv's environment: `env` runs each side with its own setting.
        times = compare(rounds, {
            "tracing on": ["env", "WHALE_TRACE=1", WHALE, "-H", traced.host, *run],
            "tracing off": ["env", "WHALE_TRACE=0", WHALE, "-H", untraced.host, *run]}, env)
        report("`whale run --rm busybox true` -> whaled (whole whale stack), tracing on beside off", times,
               "tracing on", "tracing off")
    finally:
        traced.stop()
        untraced.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
