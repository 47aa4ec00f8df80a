"""The asyncio ttrpc server: each request runs in its own task; answers go out as they finish."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket

from corelib.ttrpc.protocol import ProtocolError, RequestReceived, RequestRejected, ServerConnection, TtrpcError
from corelib.ttrpc.services import Context, ServiceSet, decode, encode, status_of
from corelib.ttrpc.unix import listen, require_same_user

log = logging.getLogger(__name__)

READ_SIZE = 1 << 16


class Server:
    """`register_service(descriptor, servicer)`, then `await serve(socket_or_path)` until `shutdown()`.

    A servicer has `async def Method(self, request, context)` per method of the service (a plain
    `def` works too) returning the response message, or None for google.protobuf.Empty.
    """

    def __init__(self, *, require_same_user_peer: bool = True):
        self._services = ServiceSet()
        self._require_same_user = require_same_user_peer
        self._listeners: list[asyncio.base_events.Server] = []
        self._connections: set[asyncio.Task[None]] = set()
        self._active: set[asyncio.Task[None]] = set()
        self._done: asyncio.Event | None = None
        self._bound_path: str | None = None

    def register_service(self, descriptor: object, servicer: object) -> None:
        self._services.register_service(descriptor, servicer)

    async def serve(self, listener: socket.socket | str) -> None:
        """Accept connections on a listening unix socket (or a new one bound at a path) until shutdown."""
        self._done = self._done or asyncio.Event()
        if isinstance(listener, str):
            listener = listen(listener)
            self._bound_path = listener.getsockname()
        server = await asyncio.start_unix_server(self._connection, sock=listener)
        self._listeners.append(server)
        await self._done.wait()

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop accepting, let the calls under way finish (up to `grace` seconds), then close."""
        for server in self._listeners:
            server.close()
        if self._active:
            await asyncio.wait(set(self._active), timeout=grace)
        for task in set(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._bound_path:
            with contextlib.suppress(OSError):
                os.unlink(self._bound_path)
        if self._done is None:
            self._done = asyncio.Event()
        self._done.set()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            if self._require_same_user:
                require_same_user(writer.get_extra_info("socket"))
            await self._serve_connection(reader, writer)
        except TtrpcError as e:
            log.error("ttrpc: refusing connection after handshake: %s", e)
        except (ConnectionError, ProtocolError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = ServerConnection()
        calls: set[asyncio.Task[None]] = set()
        try:
            while data := await reader.read(READ_SIZE):
                for event in conn.receive_data(data):
                    if isinstance(event, RequestRejected):
                        writer.write(conn.send_error(event.stream_id, event.code, event.message))
                        continue
                    call = asyncio.create_task(self._dispatch(conn, writer, event))
                    for group in (calls, self._active):
                        group.add(call)
                        call.add_done_callback(group.discard)
                await writer.drain()
            conn.receive_eof()
        finally:
            for call in calls:  # the client went away: nobody is left to answer
                call.cancel()

    async def _dispatch(self, conn: ServerConnection, writer: asyncio.StreamWriter, event: RequestReceived) -> None:
        try:
            handler, request_class = self._services.resolve(event.service, event.method)
            context = Context(event.service, event.method, event.metadata, event.timeout_nano)
            result = handler(decode(request_class, event.payload), context)
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, context.time_remaining())
            data = conn.send_response(event.stream_id, encode(result))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status for the caller
            if not isinstance(exc, TtrpcError | TimeoutError):
                log.debug("ttrpc: %s/%s failed", event.service, event.method, exc_info=True)
            data = conn.send_error(event.stream_id, *status_of(exc))
        if not writer.is_closing():
            writer.write(data)
