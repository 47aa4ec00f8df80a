"""The CLI's input and output streams: any file-like object (a terminal, a pipe, a StringIO, a notebook's
stream), written with text or bytes, flushed at once so streamed output shows as it comes."""

from __future__ import annotations

import codecs
import os

TYPE_CHECKING = False  # typing itself is not imported: it costs the CLI's start-up time
if TYPE_CHECKING:
    from typing import IO


class _Stream:
    def __init__(self, stream: IO):
        self.stream = stream

    def fileno(self) -> int | None:
        try:
            return self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return None

    def is_terminal(self) -> bool:
        fd = self.fileno()
        return fd is not None and os.isatty(fd)


class OutStream(_Stream):
    def __init__(self, stream: IO):
        super().__init__(stream)
        self._binary = getattr(self.stream, "buffer", None)
        if self._binary is None and _is_binary(self.stream):
            self._binary = self.stream
        self._decoder = None if self._binary is not None else codecs.getincrementaldecoder("utf-8")("replace")

    def write(self, data: str | bytes) -> None:
        if self._binary is not None:
            if self._binary is not self.stream:
                self.stream.flush()
            self._binary.write(data.encode() if isinstance(data, str) else data)
            self._binary.flush()
        else:
            text = self._decoder.decode(data) if isinstance(data, bytes | bytearray) else data
            if text:
                self.stream.write(text)
                self.stream.flush()

    def println(self, text: str = "") -> None:
        self.write(text + "\n")

    def tty_size(self) -> tuple[int, int]:
        """(height, width) of the terminal, (0, 0) when not one."""
        fd = self.fileno()
        if fd is None or not os.isatty(fd):
            return 0, 0
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            return 0, 0
        return size.lines, size.columns


class _Nowhere:
    def write(self, data: object) -> None:
        pass

    def flush(self) -> None:
        pass


def discard() -> OutStream:
    """An output stream that drops everything (`-q`)."""
    return OutStream(_Nowhere())


class InStream(_Stream):
    def read_chunk(self, size: int = 32768) -> bytes:
        """What is there to read now (at most `size`), b"" at end of input."""
        fd = self.fileno()
        if fd is not None:
            return os.read(fd, size)
        read = getattr(self.stream, "read1", None) or self.stream.read
        data = read(size)
        return data.encode() if isinstance(data, str) else data

    def check_tty(self, attach_stdin: bool, tty: bool) -> None:
        """docker's CheckTty: a TTY asked for with stdin attached needs a terminal on stdin."""
        if tty and attach_stdin and not self.is_terminal():
            raise ValueError("the input device is not a TTY")


def _is_binary(stream: IO) -> bool:
    mode = getattr(stream, "mode", "")
    if isinstance(mode, str) and "b" in mode:
        return True
    import io

    return isinstance(stream, io.BytesIO | io.BufferedIOBase | io.RawIOBase)
