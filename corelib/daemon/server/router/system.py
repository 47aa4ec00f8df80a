"""System routes (moby's api/server/router/system): _ping, version, info, events, system/df."""

from __future__ import annotations

import asyncio
import time

from corelib import errdefs
from corelib.daemon.events import EventFilter, parse_timestamp
from corelib.daemon.server.http import Request, ResponseWriter, encode_json
from corelib.daemon.server.httputils import parse_filters
from corelib.daemon.server.server import Route, route


class SystemRouter:
    def __init__(self, daemon: object):
        self.daemon = daemon

    def routes(self) -> list[Route]:
        return [
            route("GET", "/_ping", self.pingHandler),
            route("GET", "/version", self.getVersion),
            route("GET", "/info", self.getInfo),
            route("GET", "/system/df", self.getDiskUsage),
            route("GET", "/events", self.getEvents, cancel_on_disconnect=True),
        ]

    async def pingHandler(self, r: Request, w: ResponseWriter) -> None:
        w.set_header("Cache-Control", "no-cache, no-store, must-revalidate")
        w.set_header("Pragma", "no-cache")
        await w.write_body(200, b"" if r.method == "HEAD" else b"OK", "text/plain; charset=utf-8")

    async def getVersion(self, r: Request, w: ResponseWriter) -> None:
        await w.write_json(200, await self.daemon.SystemVersion())

    async def getInfo(self, r: Request, w: ResponseWriter) -> None:
        await w.write_json(200, await self.daemon.SystemInfo())

    async def getDiskUsage(self, r: Request, w: ResponseWriter) -> None:
        await w.write_json(200, await self.daemon.SystemDiskUsage())

    async def getEvents(self, r: Request, w: ResponseWriter) -> None:
        since, until = parse_timestamp(r.form("since")), parse_timestamp(r.form("until"))
        if since is not None and until is not None and until < since:
            raise errdefs.InvalidArgument(f"`since` time ({r.form('since')}) cannot be after `until` time "
                                          f"({r.form('until')})")
        event_filter = EventFilter(parse_filters(r.form("filters")))
        only_past = until is not None and until < time.time_ns()
        past, queue = self.daemon.events.subscribe(since, until)
        try:
            await w.start_stream(200, "application/json")
            for event in past:
                if event_filter.match(event):
                    await w.write(encode_json(event))
            if not only_past:
                await self._follow(w, queue, event_filter, until)
        finally:
            self.daemon.events.unsubscribe(queue)
        await w.end()

    async def _follow(self, w: ResponseWriter, queue: asyncio.Queue, event_filter: EventFilter,
                      until: int | None) -> None:
        while True:
            timeout = None if until is None else max(0.0, (until - time.time_ns()) / 1e9)
            try:
                event = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                return
            if until is not None and event["timeNano"] > until:
                return
            if event_filter.match(event):
                await w.write(encode_json(event))
