"""`whale`: the console script."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    from corelib.client.cli import run

    exit_now(run(sys.argv[1:] if argv is None else argv))


def exit_now(status: int) -> None:
    """Exit as the docker CLI does, without the interpreter's teardown: after a `run` that is tens of
    milliseconds of freeing, one by one, what a process about to vanish made. Every file whale
    writes is closed by then; the standard streams are flushed here."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 1
    os._exit(status)


if __name__ == "__main__":
    main()
