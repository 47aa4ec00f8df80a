"""HTTP/1.1 on asyncio streams, with h11 as the protocol core: one `serve_connection` per client
socket, keep-alive, chunked request bodies, streaming (flushed) responses and the attach hijack.

Handlers see a `Request` and a `ResponseWriter`; they never touch h11. A route marked
`cancel_on_disconnect` is cancelled when the client closes its connection mid-response (as Go's
net/http cancels the request context), which is how an abandoned `wait` or `events` ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import h11

log = logging.getLogger("whaled.http")

READ_SIZE = 65536
MAX_DRAIN = 1 << 20  # unread request body we skip to keep a connection alive; beyond it, close
MAX_HEADER_BYTES = 1 << 20  # Go's http.DefaultMaxHeaderBytes
MAX_DISCARD = 1 << 30  # an oversized body is drained this far, then the connection is closed


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    path: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)
    version: str = ""
    vars: dict[str, str] = field(default_factory=dict)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    _conn: _Connection | None = None

    def __post_init__(self) -> None:
        split = urlsplit(self.target)
        self.path = unquote(split.path)
        self.query = parse_qs(split.query, keep_blank_values=True)

    def form(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def form_list(self, name: str) -> list[str]:
        return self.query.get(name, [])

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    async def body(self, limit: int) -> bytes:
        """The whole request body; `OverflowError` past `limit` bytes (the rest is read and dropped,
        so the client, still sending, gets to read the answer)."""
        parts, size = [], 0
        async for chunk in self.body_chunks():
            size += len(chunk)
            if size <= limit:
                parts.append(chunk)
            elif size > MAX_DISCARD:
                break
        if size > limit:
            raise OverflowError("http: request body too large")
        return b"".join(parts)

    async def body_chunks(self) -> AsyncIterator[bytes]:
        assert self._conn is not None
        async for chunk in self._conn.body_chunks():
            yield chunk


class ResponseWriter:
    """What a handler answers with. `headers` holds what the middlewares set for every response."""

    def __init__(self, conn: _Connection, head_only: bool = False):
        self._conn = conn
        self.headers: list[tuple[str, str]] = []
        self.started = False
        self.finished = False
        self.hijacked = False
        self._head_only = head_only

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))

    async def write_body(self, status: int, body: bytes, content_type: str | None = None,
                         extra: list[tuple[str, str]] | None = None) -> None:
        headers = list(self.headers) + list(extra or [])
        if content_type:
            headers.append(("Content-Type", content_type))
        if status not in (204, 304):
            headers.append(("Content-Length", str(len(body))))
        await self._start(status, headers)
        if body and not self._head_only and status not in (204, 304):
            await self._conn.send(h11.Data(data=body))
        await self.end()

    async def write_json(self, status: int, value: object) -> None:
        await self.write_body(status, encode_json(value), "application/json")

    async def write_status(self, status: int) -> None:
        await self.write_body(status, b"")

    async def start_stream(self, status: int = 200, content_type: str | None = "application/json") -> None:
        """Send the headers now (chunked body follows): clients wait for them before going on."""
        headers = list(self.headers)
        if content_type:
            headers.append(("Content-Type", content_type))
        await self._start(status, headers)

    async def write(self, data: bytes) -> None:
        if not self.started:
            await self.start_stream()
        if data:
            await self._conn.send(h11.Data(data=data))

    async def end(self) -> None:
        if not self.finished:
            if not self.started:
                await self.start_stream()
            self.finished = True
            await self._conn.send(h11.EndOfMessage())

    async def hijack(self, upgrade: bool, extra_headers: list[tuple[str, str]] | None = None
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        """Take the raw socket, as dockerd's attach does: write the 101 (or 200) head ourselves and
        return (reader, writer, bytes the client already sent after its request)."""
        head = "HTTP/1.1 101 UPGRADED\r\n" if upgrade else "HTTP/1.1 200 OK\r\n"
        head += "Content-Type: application/vnd.docker.raw-stream\r\n"
        if upgrade:
            head += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
        for name, value in extra_headers or []:
            head += f"{name}: {value}\r\n"
        self.started = self.finished = self.hijacked = True
        return await self._conn.hijack((head + "\r\n").encode())

    async def _start(self, status: int, headers: list[tuple[str, str]]) -> None:
        if self.started:
            raise RuntimeError("response already started")
        self.started = True
        headers = [*headers, ("Date", email.utils.formatdate(usegmt=True))]
        await self._conn.send(h11.Response(status_code=status, headers=headers, reason=_reason(status)))


def encode_json(value: object) -> bytes:
    """Go's json.Encoder with SetEscapeHTML(false): compact, UTF-8, one trailing newline."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


_REASONS = {101: b"Switching Protocols", 200: b"OK", 201: b"Created", 204: b"No Content", 304: b"Not Modified",
            400: b"Bad Request", 403: b"Forbidden", 404: b"Not Found", 409: b"Conflict",
            413: b"Request Entity Too Large", 431: b"Request Header Fields Too Large",
            500: b"Internal Server Error", 501: b"Not Implemented", 503: b"Service Unavailable"}


def _reason(status: int) -> bytes:
    return _REASONS.get(status, b"")


Handler = Callable[[Request, ResponseWriter], Awaitable[None]]
#: Finds the handler for a request and says whether it is cancelled when the client goes away.
Resolve = Callable[[Request], tuple[Handler, bool]]


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        self.closed_by_peer = False
        self.hijacked = False

    async def next_event(self) -> h11.Event:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.reader.read(READ_SIZE)
            if not data:
                self.closed_by_peer = True
            self.h11.receive_data(data)

    async def body_chunks(self) -> AsyncIterator[bytes]:
        while self.h11.their_state is h11.SEND_BODY:
            event = await self.next_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("client closed the connection before the end of its request")

    async def send(self, event: h11.Event) -> None:
        self.writer.write(self.h11.send(event))
        await self.writer.drain()

    async def hijack(self, head: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        leftover, _ = self.h11.trailing_data
        self.hijacked = True
        self.writer.write(head)
        await self.writer.drain()
        return self.reader, self.writer, bytes(leftover)

    async def watch_disconnect(self, request: Request, handler_task: asyncio.Task[None]) -> None:
        """Read ahead while a handler runs; on EOF, flag the request and cancel its handler."""
        while True:
            data = await self.reader.read(READ_SIZE)
            if not data:
                self.closed_by_peer = True
                request.disconnected.set()
                handler_task.cancel()
                return
            self.h11.receive_data(data)

    async def drain_request(self) -> bool:
        """Skip what is left of the request body; False when the connection cannot be reused."""
        skipped = 0
        while self.h11.their_state is h11.SEND_BODY:
            event = await self.next_event()
            if isinstance(event, h11.Data):
                skipped += len(event.data)
                if skipped > MAX_DRAIN:
                    return False
            elif isinstance(event, h11.ConnectionClosed):
                return False
        return True


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, resolve: Resolve) -> None:
    """Serve requests on one connection until either side closes it or a handler hijacks it (the
    handler then owns, and closes, the socket)."""
    conn = _Connection(reader, writer)
    try:
        while await _serve_one(conn, resolve):
            conn.h11.start_next_cycle()
    except (ConnectionError, h11.LocalProtocolError, asyncio.IncompleteReadError):
        pass
    except Exception:
        log.exception("connection failed")
    finally:
        if not conn.hijacked:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _serve_one(conn: _Connection, resolve: Resolve) -> bool:
    try:
        event = await conn.next_event()
    except h11.RemoteProtocolError as e:
        await _protocol_error(conn, e)
        return False
    if not isinstance(event, h11.Request):
        return False
    request = Request(method=event.method.decode(), target=event.target.decode("latin-1"),
                      headers={k.decode().lower(): v.decode("latin-1") for k, v in event.headers})
    request._conn = conn
    response = ResponseWriter(conn, head_only=request.method == "HEAD")
    handler, cancellable = resolve(request)
    if cancellable:
        if not await conn.drain_request():
            return False
        await _run_cancellable(conn, handler, request, response)
    else:
        await handler(request, response)
    if conn.hijacked or not response.finished or conn.closed_by_peer:
        return False
    if conn.h11.our_state is h11.MUST_CLOSE or not await conn.drain_request():
        return False
    return conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE


async def _run_cancellable(conn: _Connection, handler: Handler, request: Request, response: ResponseWriter) -> None:
    task = asyncio.ensure_future(handler(request, response))
    watcher = asyncio.ensure_future(conn.watch_disconnect(request, task))
    try:
        await task
    except asyncio.CancelledError:
        if not request.disconnected.is_set():
            raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await watcher
        task.cancel()


async def _protocol_error(conn: _Connection, error: h11.RemoteProtocolError) -> None:
    status = error.error_status_hint or 400
    body = f"{status} {_reason(status).decode()}".encode()
    with contextlib.suppress(Exception):
        conn.writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (status, _reason(status), len(body), body))
        await conn.writer.drain()
