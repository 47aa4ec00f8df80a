"""Attaching to a container's stdio (moby's daemon/attach.go, container/stream/attach.go): after the
hijack, output goes to the client (framed without a TTY, raw with one), the client's input goes
to the container; the client's half-close ends the input (and closes the container's stdin for a
`StdinOnce` container without a TTY); the end of the run's output ends the stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from corelib import errdefs
from corelib.daemon.container.container import Container
from corelib.daemon.container.stream import STDERR, STDOUT, StreamConfig
from corelib.daemon.logger.jsonfile import tail
from corelib.daemon.stdcopy import DEFAULT_DETACH_KEYS, DetachScanner, frame, parse_detach_keys

log = logging.getLogger("whaled.attach")


@dataclass
class AttachConfig:
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    logs: bool = False
    stream: bool = True
    detach_keys: str = ""


class AttachMixin:
    def check_attach(self, name: str, config: AttachConfig) -> Container:
        """What can fail is checked before the hijack, so it is still an HTTP error."""
        container = self.GetContainer(name)
        if container.is_paused():
            raise errdefs.Conflict(f"container {name} is paused, unpause the container before attach.")
        if container.State.Restarting:
            raise errdefs.Conflict(f"cannot attach to a restarting container: {name}")
        parse_detach_keys(config.detach_keys or DEFAULT_DETACH_KEYS)
        return container

    async def ContainerAttach(self, container: Container, reader: asyncio.StreamReader,
                              writer: asyncio.StreamWriter, leftover: bytes, config: AttachConfig) -> None:
        tty = bool(container.Config.get("Tty"))
        send = _sender(writer, tty)
        try:
            if config.logs:
                await self._replay_logs(container, config, send)
            if not config.stream:
                return
            self.LogContainerEvent(container, "attach")
            # The client's EOF is the container's only for `run -i` without a TTY (StdinOnce).
            close_stdin = bool(container.Config.get("StdinOnce")) and not tty
            detached = await stream_attached(container.stream, reader, leftover, send, config, close_stdin)
            if detached:
                self.LogContainerEvent(container, "detach")
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            await _close(writer)

    async def _replay_logs(self, container: Container, config: AttachConfig,
                           send: Callable[[int, bytes], Awaitable[None]]) -> None:
        messages, _ = tail(container.LogPath, -1)
        for message in messages:
            stream = STDOUT if message.stream == "stdout" else STDERR
            if (stream == STDOUT and config.stdout) or (stream == STDERR and config.stderr):
                await send(stream, message.line)


def _sender(writer: asyncio.StreamWriter, tty: bool) -> Callable[[int, bytes], Awaitable[None]]:
    async def send(stream: int, data: bytes) -> None:
        writer.write(data if tty else frame(stream, data))
        await writer.drain()
    return send


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        if writer.can_write_eof():
            writer.write_eof()
        writer.close()
        await writer.wait_closed()


async def stream_attached(streams: StreamConfig, reader: asyncio.StreamReader, leftover: bytes,
                          send: Callable[[int, bytes], Awaitable[None]], config: AttachConfig,
                          close_stdin: bool) -> bool:
    """Copy output to the client and the client's input to `streams.stdin` until the output ends
    (or the client detaches); the client's EOF closes the stdin when `close_stdin`. True on a detach."""
    queue = streams.subscribe(config.stdout, config.stderr) if (config.stdout or config.stderr) else None
    scanner = DetachScanner(parse_detach_keys(config.detach_keys or DEFAULT_DETACH_KEYS))
    detach = asyncio.Event()
    input_task = None
    if config.stdin and streams.stdin is not None:
        input_task = asyncio.ensure_future(_copy_input(streams, reader, leftover, scanner, detach, close_stdin))
    try:
        if queue is None:
            if input_task is not None:
                await input_task
            return scanner.detached
        detach_wait = asyncio.ensure_future(detach.wait())
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, detach_wait}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    return True
                item = getter.result()
                if item is None:
                    return False
                await send(*item)
        finally:
            detach_wait.cancel()
    finally:
        if queue is not None:
            streams.unsubscribe(queue)
        if input_task is not None:
            input_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await input_task


async def _copy_input(streams: StreamConfig, reader: asyncio.StreamReader, leftover: bytes, scanner: DetachScanner,
                      detach: asyncio.Event, close_stdin: bool) -> None:
    stdin = streams.stdin
    data = leftover
    while True:
        if data:
            stdin.write(scanner.feed(data))
            if scanner.detached:
                detach.set()
                return
        data = await reader.read(32 * 1024)
        if not data:
            break
    if close_stdin:
        stdin.close()
