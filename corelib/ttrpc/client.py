"""The asyncio ttrpc client: one unix connection, many concurrent calls, answered in any order."""

from __future__ import annotations

import asyncio
import contextlib

from corelib.ttrpc.protocol import ClientConnection, Code, ConnectionClosed, Metadata, ResponseReceived, TtrpcError
from corelib.ttrpc.unix import require_same_user, socket_path

READ_SIZE = 1 << 16


class Client:
    """`client = await Client.connect(address)`, then `await client.call(...)` from any number of tasks."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader = reader
        self._writer = writer
        self._conn = ClientConnection()
        self._calls: dict[int, asyncio.Future[ResponseReceived]] = {}
        self._closed: ConnectionClosed | None = None
        self._receiver = asyncio.get_running_loop().create_task(self._receive())

    @classmethod
    async def connect(cls, address: str, *, require_same_user_peer: bool = True) -> Client:
        """Dial `address` ("unix:///path" or a path); OSError if nothing listens there."""
        reader, writer = await asyncio.open_unix_connection(socket_path(address))
        if require_same_user_peer:
            try:
                require_same_user(writer.get_extra_info("socket"))
            except TtrpcError:
                writer.close()
                raise
        return cls(reader, writer)

    async def call(self, service: str, method: str, request: object, response_type: type, *,
                   timeout: float | None = None, metadata: Metadata | None = None) -> object:
        """Send one request and return its decoded response; raises TtrpcError for an error status,
        ConnectionClosed if the connection goes away first."""
        if self._closed:
            raise self._closed
        timeout_nano = int(timeout * 1e9) if timeout else 0
        stream_id, data = self._conn.send_request(service, method, request.SerializeToString(),  # type: ignore[attr-defined]
                                                  timeout_nano, metadata)
        future: asyncio.Future[ResponseReceived] = asyncio.get_running_loop().create_future()
        self._calls[stream_id] = future
        try:
            self._writer.write(data)
            await self._writer.drain()
            event = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TtrpcError(Code.DEADLINE_EXCEEDED, "context deadline exceeded") from None
        except (ConnectionError, BrokenPipeError) as e:
            raise ConnectionClosed() from e
        finally:
            self._calls.pop(stream_id, None)
            self._conn.forget(stream_id)
        if event.code:
            raise TtrpcError(event.code, event.message)
        return response_type.FromString(event.payload)

    async def _receive(self) -> None:
        try:
            while data := await self._reader.read(READ_SIZE):
                for event in self._conn.receive_data(data):
                    future = self._calls.get(event.stream_id)
                    if future and not future.done():
                        future.set_result(event)
        except (ConnectionError, OSError):
            pass
        finally:
            self._fail_all(ConnectionClosed())

    def _fail_all(self, error: ConnectionClosed) -> None:
        self._closed = self._closed or error
        for future in self._calls.values():
            if not future.done():
                future.set_exception(self._closed)

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def wait_closed(self) -> None:
        """Return once the connection has ended: the peer went away or close() was called
        (containerd's ttrpc.WithOnClose: how it learns that a shim died)."""
        await asyncio.wait({self._receiver})

    async def close(self) -> None:
        self._fail_all(ConnectionClosed())
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self._receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._receiver

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
