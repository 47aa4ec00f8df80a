"""`docker logs` (moby's daemon/logs.go) over the json-file driver: tail, since, until, follow."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from corelib import errdefs
from corelib.daemon.container.container import Container
from corelib.daemon.logger.jsonfile import LogMessage, LogReader, tail

FOLLOW_POLL = 1.0  # a follower re-checks the container's state at least this often


@dataclass
class LogsOptions:
    stdout: bool = True
    stderr: bool = True
    follow: bool = False
    since_ns: int | None = None
    until_ns: int | None = None
    tail: int = -1


class LogsMixin:
    def ContainerLogs(self, name: str, options: LogsOptions) -> tuple[Container, AsyncIterator[LogMessage]]:
        """The container (checked before the response starts) and its log messages."""
        container = self.GetContainer(name)
        if not (options.stdout or options.stderr):
            raise errdefs.InvalidArgument("You must choose at least one stream")
        if (container.HostConfig.get("LogConfig") or {}).get("Type") == "none":
            raise errdefs.NotImplemented("configured logging driver does not support reading")
        return container, self._read_logs(container, options)

    async def _read_logs(self, container: Container, options: LogsOptions) -> AsyncIterator[LogMessage]:
        wanted = {"stdout"} if options.stdout else set()
        if options.stderr:
            wanted.add("stderr")

        def selected(message: LogMessage) -> bool:
            return (message.stream in wanted
                    and (options.since_ns is None or message.time_ns >= options.since_ns)
                    and (options.until_ns is None or message.time_ns <= options.until_ns))

        follow = options.follow and container.is_running()
        messages, offset = tail(container.LogPath, options.tail)
        for message in messages:
            if selected(message):
                yield message
        if not follow:
            return
        reader = LogReader(container.LogPath)
        reader.offset = offset
        while True:
            running = container.is_running()
            for message in reader.read_available():
                if selected(message):
                    yield message
            if not running or (options.until_ns is not None and time.time_ns() > options.until_ns):
                return
            await container.log_notifier.wait(FOLLOW_POLL)
