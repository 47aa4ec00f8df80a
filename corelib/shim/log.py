"""Log lines in logrus's text format on stderr (the bundle's `log` fifo, which containerd copies into
its own log). Written with os.write on a non-blocking fd: a reader that stops reading costs the shim
lines, never a hang."""

from __future__ import annotations

import contextlib
import os
import time

debug_enabled = False
_fields = ""


def configure(debug: bool, **fields: str) -> None:
    global debug_enabled, _fields
    debug_enabled = debug
    _fields = "".join(f" {k}={_quote(v)}" for k, v in fields.items())


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "-._/:@" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _timestamp() -> str:
    now = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 1_000_000_000)) + f".{now % 1_000_000_000:09d}Z"


def log(level: str, message: str) -> None:
    line = f"time=\"{_timestamp()}\" level={level} msg={_quote(message)}{_fields}\n"
    with contextlib.suppress(OSError):
        os.write(2, line.encode(errors="replace"))


def warn(message: str) -> None:
    log("warning", message)


def error(message: str) -> None:
    log("error", message)


def debug(message: str) -> None:
    if debug_enabled:
        log("debug", message)
