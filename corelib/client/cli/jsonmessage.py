"""Progress streams of pull, load and import (moby's pkg/jsonmessage): one JSON message a line,
shown as docker shows them. On a terminal, lines with an id are updated in place."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from corelib.client.cli.formatter.gotime import rfc3339_nano_fixed
from corelib.client.cli.streams import OutStream
from corelib.gounits import human_size


class JSONMessageError(Exception):
    """An error reported inside the stream (`errorDetail`): the command fails with its message."""

    def __init__(self, message: str, code: int = 0):
        super().__init__(message)
        self.code = code


def progress_string(progress: dict, width: int) -> str:
    current, total = progress.get("current", 0) or 0, progress.get("total", 0) or 0
    units = progress.get("units", "")
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}" if not units else f"{current} {units}"
    percentage = min(int(current / total * 100) // 2, 50)
    bar = f"[{'=' * percentage}>{' ' * max(50 - percentage, 0)}] " if width > 110 else ""
    if progress.get("hidecounts"):
        numbers = ""
    elif not units:
        numbers = f"{human_size(current):>8}/{human_size(total)}" if current <= total else f"{human_size(current):>8}"
    else:
        numbers = f"{current}/{total} {units}" if current <= total else f"{current} {units}"
    return bar + numbers


def display(msg: dict, out: OutStream, is_terminal: bool, width: int = 0) -> None:
    """One message, as JSONMessage.Display."""
    error = msg.get("errorDetail") or ({"message": msg["error"]} if msg.get("error") else None)
    if error:
        if error.get("code") == 401:
            raise JSONMessageError("authentication is required", 401)
        raise JSONMessageError(error.get("message", ""), error.get("code") or 0)
    progress = msg.get("progressDetail")
    bar = progress_string(progress, width) if progress is not None else ""
    end = ""
    parts = []
    if is_terminal and not msg.get("stream") and progress is not None:
        parts.append("\x1b[2K\r")
        end = "\r"
    elif progress is not None and bar:
        return  # progress bars are for terminals only
    if msg.get("timeNano"):
        parts.append(rfc3339_nano_fixed(msg["timeNano"]) + " ")
    elif msg.get("time"):
        parts.append(rfc3339_nano_fixed(msg["time"] * 1_000_000_000) + " ")
    if msg.get("id"):
        parts.append(f"{msg['id']}: ")
    if msg.get("from"):
        parts.append(f"(from {msg['from']}) ")
    status = msg.get("status", "")
    if progress is not None and is_terminal:
        parts.append(f"{status} {bar}{end}")
    elif msg.get("progress"):
        parts.append(f"{status} {msg['progress']}{end}")
    elif msg.get("stream"):
        parts.append(f"{msg['stream']}{end}")
    else:
        parts.append(f"{status}{end}\n")
    out.write("".join(parts))


def display_stream(messages: Iterable[dict], out: OutStream, aux: Callable[[dict], None] | None = None) -> None:
    """DisplayJSONMessagesStream: on a terminal, a message with an id and progress rewrites its line."""
    is_terminal = out.is_terminal()
    width = out.tty_size()[1] if is_terminal else 0
    ids: dict[str, int] = {}
    for msg in messages:
        if "aux" in msg:
            if aux is not None:
                aux(msg)
            continue
        diff = 0
        if msg.get("id") and (msg.get("progressDetail") is not None or msg.get("progress")):
            if msg["id"] not in ids:
                ids[msg["id"]] = len(ids)
                if is_terminal:
                    out.write("\n")
            diff = len(ids) - ids[msg["id"]]
            if is_terminal:
                out.write(f"\x1b[{diff}A")
        else:
            ids = {}
        try:
            display(msg, out, is_terminal, width)
        finally:
            if msg.get("id") and is_terminal and diff:
                out.write(f"\x1b[{diff}B")
