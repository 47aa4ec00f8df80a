"""The attach stream format (moby's pkg/stdcopy), sans I/O: without a TTY, each chunk of output is
a frame `[stream, 0, 0, 0, size (uint32 big-endian)] + payload` (1 stdout, 2 stderr); with a TTY
the bytes go raw. Also the detach sequence (ctrl-p ctrl-q by default) found in client input."""

from __future__ import annotations

import struct

from corelib import errdefs

HEADER = struct.Struct(">BxxxI")
MAX_FRAME = 32 * 1024
DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def frame(stream: int, data: bytes) -> bytes:
    """`data` as one or more frames of `stream` (no frame is longer than 32 KiB)."""
    return b"".join(HEADER.pack(stream, len(data[i:i + MAX_FRAME])) + data[i:i + MAX_FRAME]
                    for i in range(0, len(data), MAX_FRAME))


class Demuxer:
    """Feed bytes of a multiplexed stream, get (stream, payload) frames back."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= HEADER.size:
            stream, size = HEADER.unpack_from(self._buffer)
            if len(self._buffer) < HEADER.size + size:
                break
            frames.append((stream, self._buffer[HEADER.size:HEADER.size + size]))
            self._buffer = self._buffer[HEADER.size + size:]
        return frames


def parse_detach_keys(keys: str) -> bytes:
    """`ctrl-p,ctrl-q` -> b"\\x10\\x11" (moby's term.ToBytes)."""
    sequence = bytearray()
    for key in keys.split(","):
        key = key.strip()
        if key.startswith("ctrl-") and len(key) == 6:
            char = key[5].lower()
            codes = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}
            if "a" <= char <= "z":
                sequence.append(ord(char) - ord("a") + 1)
            elif char in codes:
                sequence.append(codes[char])
            else:
                raise errdefs.InvalidArgument(f"Unknown character: '{key}'")
        elif len(key) == 1:
            sequence.append(ord(key))
        else:
            raise errdefs.InvalidArgument(f"Unknown character: '{key}'")
    return bytes(sequence)


class DetachScanner:
    """Passes input through until the detach sequence; holds back a prefix of it that may continue."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self._held = b""
        self.detached = False

    def feed(self, data: bytes) -> bytes:
        if not self.keys:
            return data
        out = bytearray()
        for byte in data:
            self._held += bytes([byte])
            if self.keys.startswith(self._held):
                if self._held == self.keys:
                    self.detached = True
                    self._held = b""
                    return bytes(out)
                continue
            out += self._held
            self._held = b""
        return bytes(out)
