"""The json-file log driver (moby's daemon/logger/jsonfilelog): one JSON object per line,

    {"log":"hello\\n","stream":"stdout","time":"2026-11-29T20:20:54.37594716Z"}

in `<data-root>/containers/<id>/<id>-json.log`, and the reader behind `docker logs` (tail, since,
until, follow). Lines are split as the daemon's log copier splits them: at each newline, and at
16 KiB for very long lines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from corelib.daemon.container.state import format_time_ns

MAX_LINE = 16 * 1024
STREAM_NAMES = {1: "stdout", 2: "stderr"}


@dataclass
class LogMessage:
    stream: str
    line: bytes
    time_ns: int


class Notifier:
    """Wakes every task waiting for the next write."""

    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None

    def notify(self) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(None)
        self._future = None

    async def wait(self, timeout: float | None = None) -> None:
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._future), timeout)


class JSONFileLogger:
    def __init__(self, path: str, notifier: Notifier | None = None):
        self.path = path
        self.notifier = notifier or Notifier()
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the run
        self._partial: dict[int, bytes] = {}

    def write(self, stream: int, data: bytes) -> None:
        """Take raw output of `stream` (1 stdout, 2 stderr); log every complete line."""
        buffered = self._partial.pop(stream, b"") + data
        lines = []
        while buffered:
            cut = buffered.find(b"\n")
            if cut < 0 and len(buffered) < MAX_LINE:
                break
            end = cut + 1 if 0 <= cut < MAX_LINE else MAX_LINE
            lines.append(buffered[:end])
            buffered = buffered[end:]
        if buffered:
            self._partial[stream] = buffered
        self._log(stream, lines)

    def flush(self, stream: int | None = None) -> None:
        """The end of a stream: a last line without its newline is logged as it is."""
        for s in [stream] if stream is not None else list(self._partial):
            if s in self._partial:
                self._log(s, [self._partial.pop(s)])

    def close(self) -> None:
        self.flush()
        self._file.close()

    def _log(self, stream: int, lines: list[bytes]) -> None:
        if not lines:
            return
        name = STREAM_NAMES[stream]
        records = []
        for line in lines:
            record = {"log": line.decode("utf-8", errors="replace"), "stream": name,
                      "time": format_time_ns(time.time_ns())}
            records.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
        self._file.write(b"".join(records))
        self.notifier.notify()


def parse_time_ns(value: str) -> int:
    """RFC3339Nano (what the driver writes) to Unix nanoseconds."""
    base, _, rest = value.partition(".")
    frac = rest.rstrip("Z")
    if not rest:
        base = base.rstrip("Z")
    seconds = int(datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    return seconds * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


def _decode(raw: bytes) -> LogMessage | None:
    try:
        record = json.loads(raw)
        return LogMessage(record["stream"], record["log"].encode(), parse_time_ns(record["time"]))
    except (ValueError, KeyError):
        return None  # a torn last line after a crash: skip it, as dockerd does


class LogReader:
    """Reads a log file from an offset on, line by line; `follow` picks up what is appended later."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0
        self._rest = b""

    def read_available(self) -> Iterator[LogMessage]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        data = self._rest + data
        *complete, self._rest = data.split(b"\n")
        for raw in complete:
            message = _decode(raw)
            if message is not None:
                yield message


def tail(path: str, count: int) -> tuple[list[LogMessage], int]:
    """The last `count` messages (all when negative) and the offset after them."""
    reader = LogReader(path)
    messages = list(reader.read_available())
    if count >= 0:
        messages = messages[len(messages) - count:] if count else []
    return messages, reader.offset - len(reader._rest)


def remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
