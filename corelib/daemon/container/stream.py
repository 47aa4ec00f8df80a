"""A container's standard streams inside the daemon (moby's container/stream): output fans out to
every attached client, input comes from whichever client attached with stdin.

Output travels as (stream, bytes) items on one queue per subscriber, so a client sees stdout and
stderr in the order the daemon read them; `None` on the queue is the end of the run's output.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Awaitable, Callable

STDIN, STDOUT, STDERR = 0, 1, 2

Item = tuple[int, bytes] | None


class FdWriter:
    """Non-blocking writes to a fifo's file descriptor from asyncio (the container's stdin)."""

    def __init__(self, fd: int):
        self.fd = fd
        self._lock = asyncio.Lock()

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            view = memoryview(data)
            while view and self.fd >= 0:
                try:
                    written = os.write(self.fd, view)
                    view = view[written:]
                except BlockingIOError:
                    ready = loop.create_future()
                    loop.add_writer(self.fd, ready.set_result, None)
                    try:
                        await ready
                    finally:
                        loop.remove_writer(self.fd)
                except OSError as e:
                    if e.errno in (errno.EPIPE, errno.EBADF):
                        return
                    raise

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


class StdinPipe:
    """The container's stdin for one run (moby's StreamConfig input pipe): clients write to it even
    before the process starts; a pump moves it into the task's stdin fifo; closing it is the EOF."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False
        self._pump: asyncio.Task[None] | None = None
        self._fifo: FdWriter | None = None

    def write(self, data: bytes) -> None:
        if not self.closed and data:
            self._queue.put_nowait(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)

    def connect(self, fifo: FdWriter, on_eof: Callable[[], Awaitable[None]]) -> None:
        """Start pumping into the task's stdin; at the EOF, close it and call `on_eof` (CloseIO)."""
        self._fifo = fifo
        self._pump = asyncio.ensure_future(self._run(fifo, on_eof))

    async def _run(self, fifo: FdWriter, on_eof: Callable[[], Awaitable[None]]) -> None:
        while True:
            data = await self._queue.get()
            if data is None:
                fifo.close()
                await on_eof()
                return
            await fifo.write(data)

    def disconnect(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        if self._fifo is not None:
            self._fifo.close()
            self._fifo = None


class StreamConfig:
    def __init__(self) -> None:
        self._subscribers: dict[asyncio.Queue[Item], tuple[bool, bool]] = {}
        self.stdin: StdinPipe | None = None
        self.copiers: list[asyncio.Task[None]] = []

    def subscribe(self, stdout: bool = True, stderr: bool = True) -> asyncio.Queue[Item]:
        queue: asyncio.Queue[Item] = asyncio.Queue()
        self._subscribers[queue] = (stdout, stderr)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Item]) -> None:
        self._subscribers.pop(queue, None)

    def publish(self, stream: int, data: bytes) -> None:
        for queue, (stdout, stderr) in self._subscribers.items():
            if (stream == STDOUT and stdout) or (stream == STDERR and stderr):
                queue.put_nowait((stream, data))

    def end_run(self) -> None:
        """The run's output is over: every current subscriber gets its end."""
        subscribers, self._subscribers = self._subscribers, {}
        for queue in subscribers:
            queue.put_nowait(None)

    async def wait_drained(self, timeout: float) -> None:
        """Let the copiers reach the end of the fifos (the shim closes them after the exit)."""
        copiers = [c for c in self.copiers if not c.done()]
        if copiers:
            await asyncio.wait(copiers, timeout=timeout)
        for copier in self.copiers:
            copier.cancel()
        self.copiers = []

    def new_input_pipe(self, open_stdin: bool) -> None:
        """A fresh stdin for the next run (none unless the container keeps stdin open)."""
        self.release_stdin()
        self.stdin = StdinPipe() if open_stdin else None

    def close_stdin(self) -> None:
        """The EOF of the container's stdin."""
        if self.stdin is not None:
            self.stdin.close()

    def release_stdin(self) -> None:
        if self.stdin is not None:
            self.stdin.disconnect()
