"""The Engine API server: listeners, the route table, and the middlewares dockerd wraps around every
handler (version negotiation, the Server/Api-Version/Ostype/Docker-Experimental headers, errors).

Routes are registered without a version; each one answers both `/path` and `/vX.Y/path`, as moby's
router does. Anything else is `404 {"message":"page not found"}`, without the middleware headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from corelib import errdefs
from corelib.daemon.server import http
from corelib.daemon.server.http import Handler, Request, ResponseWriter
from corelib.daemon.tracing import UNTRACED_HANDLERS, tracer
from corelib.trace.context import TRACEPARENT, parse_traceparent
from corelib.trace.span import adopt

log = logging.getLogger("whaled.api")

API_VERSION = "1.41"
MIN_API_VERSION = "1.12"
_VERSIONED = re.compile(r"^/v([0-9.]+)(/.*)$")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    cancel_on_disconnect: bool = False


def route(method: str, path: str, handler: Handler, cancel_on_disconnect: bool = False) -> Route:
    """`path` like moby's: `/containers/{name:.*}/json`; a bare `{name}` matches one segment."""
    regex = re.sub(r"\{(\w+)(?::([^}]+))?\}", lambda m: f"(?P<{m.group(1)}>{m.group(2) or '[^/]+'})", path)
    return Route(method, re.compile(f"^{regex}$"), handler, cancel_on_disconnect)


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as API version `a` is lower than, equal to or greater than `b` (moby's versions)."""
    pa, pb = [_int(x) for x in a.split(".")], [_int(x) for x in b.split(".")]
    for i in range(max(len(pa), len(pb))):
        x, y = (pa[i] if i < len(pa) else 0), (pb[i] if i < len(pb) else 0)
        if x != y:
            return -1 if x < y else 1
    return 0


def _int(s: str) -> int:
    return int(s) if s.isdigit() else 0


class Server:
    def __init__(self, server_version: str, experimental: bool = False):
        self.routes: list[Route] = []
        self.server_header = f"Docker/{server_version} (linux)"
        self.experimental = "true" if experimental else "false"
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[asyncio.Task[None]] = set()

    def add_routes(self, routes: Iterable[Route]) -> None:
        self.routes.extend(routes)

    # -- listening -----------------------------------------------------------------------------

    async def listen(self, address: str) -> None:
        """`unix:///path`, `/path`, `tcp://host:port` (dockerd's -H forms)."""
        if address.startswith("tcp://"):
            host, _, port = address[len("tcp://"):].rpartition(":")
            self._servers.append(await asyncio.start_server(self._accept, host or "127.0.0.1", int(port)))
            return
        path = address[len("unix://"):] if address.startswith("unix://") else address
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        server = await asyncio.start_unix_server(self._accept, path)
        os.chmod(path, 0o660)
        self._servers.append(server)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await http.serve_connection(reader, writer, self.resolve)
        finally:
            self._connections.discard(task)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    # -- dispatch ------------------------------------------------------------------------------

    def resolve(self, request: Request) -> tuple[Handler, bool]:
        path = request.path
        version = ""
        match = _VERSIONED.match(path)
        if match:
            version, path = match.group(1), match.group(2)
        for r in self.routes:
            if r.method != request.method and not (r.method == "GET" and request.method == "HEAD"):
                continue
            found = r.pattern.match(path)
            if found:
                request.vars = found.groupdict()
                request.version = version
                return self._middlewares(r.handler), r.cancel_on_disconnect
        return _not_found, False

    def _middlewares(self, handler: Handler) -> Handler:
        async def versioned(r: Request, w: ResponseWriter) -> None:
            w.set_header("Server", self.server_header)
            w.set_header("Api-Version", API_VERSION)
            w.set_header("Ostype", "linux")
            w.set_header("Whalebone-Spans", "1")  # clients may POST /spans (ours do; docker's ignore it)
            asked = r.version or API_VERSION
            if compare_versions(asked, MIN_API_VERSION) < 0:
                msg = (f"client version {asked} is too old. Minimum supported API version is {MIN_API_VERSION}, "
                       "please upgrade your client to a newer version")
                await w.write_body(400, (msg + "\n").encode(), "text/plain; charset=utf-8",
                                   [("X-Content-Type-Options", "nosniff")])
                return
            if compare_versions(asked, API_VERSION) > 0:
                await w.write_json(400, {"message": f"client version {asked} is too new. "
                                                    f"Maximum supported API version is {API_VERSION}"})
                return
            r.version = asked
            w.set_header("Docker-Experimental", self.experimental)
            try:
                await _traced(handler, r, w)
            except (ConnectionError, asyncio.CancelledError):
                raise
            except Exception as e:  # noqa: BLE001 - every error is mapped to Docker's body once, here
                await _write_error(r, w, e)
        return versioned


async def _traced(handler: Handler, r: Request, w: ResponseWriter) -> None:
    """The request as a span named after its handler (postContainersCreate...), in the caller's trace."""
    name = getattr(handler, "__name__", "")
    if name in UNTRACED_HANDLERS or not tracer.enabled:
        await handler(r, w)
        return
    with adopt(parse_traceparent(r.headers.get(TRACEPARENT))), tracer.span(name, method=r.method):
        await handler(r, w)


async def _not_found(r: Request, w: ResponseWriter) -> None:
    await w.write_body(404, b'{"message":"page not found"}\n', "application/json")


async def _write_error(r: Request, w: ResponseWriter, error: Exception) -> None:
    status = errdefs.http_status_of(error)
    if not isinstance(error, errdefs.WhaleError):
        log.exception("%s %s: %s", r.method, r.path, error)
    message = str(error) or type(error).__name__
    if w.hijacked:
        return
    if w.started:
        # Mid-stream: the status line is gone; the client learns it from the body (as dockerd does).
        with contextlib.suppress(Exception):
            await w.write(f"Error: {message}\n".encode())
            await w.end()
        return
    if status == 304:
        await w.write_status(304)
        return
    await w.write_json(status, {"message": message})
