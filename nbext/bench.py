"""Runs measured the way the magics trace them, for comparing stacks side by side (the last notebook):
`whale run --rm --network none busybox true`, N times against one daemon, as a DataFrame of spans."""

from __future__ import annotations

import io
import os

import pandas as pd

from corelib.client.cli import execute, parse
from corelib.client.cli.command import Cli
from corelib.trace.span import Span, Tracer
from nbext.frames import spans_frame
from nbext.tracing import TracedClient

RUN = ["run", "--rm", "--network", "none", "busybox", "true"]


def measure(host: str, runs: int = 5, argv: list[str] | None = None, label: str = "") -> pd.DataFrame:
    """The client's spans of `runs` runs (one trace each), with a `stack` column; a failed run raises."""
    spans: list[Span] = []
    tracer = Tracer("client", sink=spans.append)
    argv = argv or RUN
    for _ in range(runs):
        client = TracedClient(host, tracer, on_open=lambda span: None)
        errors = io.StringIO()
        with open(os.devnull, "w") as devnull, client.command("whale run", " ".join(argv)):
            status = execute(parse(argv), Cli(io.BytesIO(), devnull, errors, host=host, client=client))
        if status != 0:
            raise RuntimeError(f"whale {' '.join(argv)} exited {status}: {errors.getvalue().strip()}")
    return spans_frame(spans).assign(stack=label or host)
