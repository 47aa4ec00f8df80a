"""The multiplexed stream of attach/logs without a TTY (moby's pkg/stdcopy), sans-IO: 8-byte headers
`[stream, 0, 0, 0, size uint32 big-endian]`, then `size` bytes of that stream."""

from __future__ import annotations

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
HEADER_SIZE = 8


class StreamError(Exception):
    pass


def frame(stream: int, payload: bytes) -> bytes:
    return bytes((stream, 0, 0, 0)) + len(payload).to_bytes(4, "big") + payload


class Demuxer:
    """Feed bytes as they come; get back complete frames as (stream, payload)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        frames = []
        while len(self._buf) >= HEADER_SIZE:
            stream, size = self._buf[0], int.from_bytes(self._buf[4:HEADER_SIZE], "big")
            if stream not in (STDIN, STDOUT, STDERR, SYSTEMERR):
                raise StreamError(f"Unrecognized input header: {stream}")
            end = HEADER_SIZE + size
            if len(self._buf) < end:
                break
            payload = bytes(self._buf[HEADER_SIZE:end])
            del self._buf[:end]
            if stream == SYSTEMERR:
                raise StreamError(f"error from daemon in stream: {payload.decode('utf-8', 'replace')}")
            frames.append((stream, payload))
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still held."""
        return len(self._buf)
