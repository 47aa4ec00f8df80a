"""ttrpc over unix sockets with threads instead of asyncio, for small long-lived processes (the shim).

Same protocol core and service dispatch as the asyncio edge, but importing asyncio would cost a
shim several megabytes of memory for each container it serves. Handlers are plain functions
`def Method(self, request, context)`; each request runs in its own thread, as ttrpc-go runs each
in its own goroutine, so a blocking call (Wait) never holds up the others.
"""

from __future__ import annotations

import _socket  # not socket: socket.py (with enum and selectors) would cost each shim 0.7 MB of memory
import contextlib
import sys
import threading

from corelib.errdefs import WhaleError
from corelib.ttrpc.protocol import (
    ClientConnection,
    Code,
    ConnectionClosed,
    Metadata,
    ProtocolError,
    RequestReceived,
    RequestRejected,
    ServerConnection,
    TtrpcError,
)
from corelib.ttrpc.services import Context, ServiceSet, decode, encode, status_of
from corelib.ttrpc.unix import require_same_user, socket_path

READ_SIZE = 1 << 16


def _stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class BlockingServer:
    def __init__(self, *, require_same_user_peer: bool = True, log=_stderr_log):
        self._services = ServiceSet()
        self._require_same_user = require_same_user_peer
        self._log = log
        self._lock = threading.Lock()
        self._listener: _socket.socket | None = None
        self._connections: set[_socket.socket] = set()
        self._active = 0
        self._idle = threading.Condition(self._lock)
        self._closing = False

    def register_service(self, descriptor: object, servicer: object) -> None:
        self._services.register_service(descriptor, servicer)

    def serve(self, listener: _socket.socket) -> None:
        """Accept connections on a listening unix socket until shutdown(); returns then."""
        self._listener = listener
        while not self._closing:
            try:
                fd, _ = listener._accept()
            except OSError:
                if self._closing:
                    return
                raise
            sock = _socket.socket(fileno=fd)
            threading.Thread(target=self._connection, args=(sock,), daemon=True).start()

    def shutdown(self, grace: float = 2.0) -> None:
        """Stop accepting, give calls under way `grace` seconds to answer, then drop every connection."""
        with self._lock:
            self._closing = True
            self._idle.wait_for(lambda: self._active == 0, timeout=grace)
            connections = list(self._connections)
        if self._listener is not None:
            _wake(self._listener)
        for sock in connections:
            _wake(sock)

    def _connection(self, sock: _socket.socket) -> None:
        with self._lock:
            self._connections.add(sock)
        write_lock = threading.Lock()
        try:
            if self._require_same_user:
                require_same_user(sock)
            conn = ServerConnection()
            while data := sock.recv(READ_SIZE):
                for event in conn.receive_data(data):
                    self._start(conn, sock, write_lock, event)
            conn.receive_eof()
        except TtrpcError as e:
            self._log(f"ttrpc: refusing connection after handshake: {e}")
        except (OSError, ProtocolError):
            pass
        finally:
            with self._lock:
                self._connections.discard(sock)
            sock.close()

    def _start(self, conn: ServerConnection, sock: _socket.socket, write_lock: threading.Lock,
               event: RequestReceived | RequestRejected) -> None:
        if isinstance(event, RequestRejected):
            _send(sock, write_lock, conn.send_error(event.stream_id, event.code, event.message))
            return
        with self._lock:
            self._active += 1
        threading.Thread(target=self._dispatch, args=(conn, sock, write_lock, event), daemon=True).start()

    def _dispatch(self, conn: ServerConnection, sock: _socket.socket, write_lock: threading.Lock,
                  event: RequestReceived) -> None:
        try:
            handler, request_class = self._services.resolve(event.service, event.method)
            context = Context(event.service, event.method, event.metadata, event.timeout_nano)
            data = conn.send_response(event.stream_id, encode(handler(decode(request_class, event.payload), context)))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status for the caller
            if not isinstance(exc, TtrpcError | WhaleError | TimeoutError):
                self._log(f"ttrpc: {event.service}/{event.method} failed: {exc!r}")
            data = conn.send_error(event.stream_id, *status_of(exc))
        _send(sock, write_lock, data)
        with self._lock:
            self._active -= 1
            self._idle.notify_all()


def _send(sock: _socket.socket, write_lock: threading.Lock, data: bytes) -> None:
    with contextlib.suppress(OSError), write_lock:  # on error the client went away; its thread cleans up
        sock.sendall(data)


def _wake(sock: _socket.socket) -> None:
    """Unblock a thread sitting in accept() or recv() on `sock` (close alone would not)."""
    with contextlib.suppress(OSError):
        sock.shutdown(_socket.SHUT_RDWR)


class BlockingClient:
    """One call at a time over one connection: enough for publishing events in order."""

    def __init__(self, sock: _socket.socket):
        self._sock = sock
        self._conn = ClientConnection()
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, address: str, *, timeout: float | None = 5.0,
                require_same_user_peer: bool = True) -> BlockingClient:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(socket_path(address))
            if require_same_user_peer:
                require_same_user(sock)
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def call(self, service: str, method: str, request: object, response_type: type, *,
             timeout: float | None = None, metadata: Metadata | None = None) -> object:
        with self._lock:
            stream_id, data = self._conn.send_request(
                service, method, request.SerializeToString(), int(timeout * 1e9) if timeout else 0, metadata)  # type: ignore[attr-defined]
            try:
                self._sock.settimeout(timeout)
                self._sock.sendall(data)
                event = self._receive(stream_id)
            except TimeoutError:
                self._conn.forget(stream_id)
                raise TtrpcError(Code.DEADLINE_EXCEEDED, "context deadline exceeded") from None
            except OSError as e:
                raise ConnectionClosed() from e
        if event.code:
            raise TtrpcError(event.code, event.message)
        return response_type.FromString(event.payload)

    def _receive(self, stream_id: int):
        while True:
            data = self._sock.recv(READ_SIZE)
            if not data:
                raise ConnectionClosed()
            for event in self._conn.receive_data(data):
                if event.stream_id == stream_id:
                    return event

    def close(self) -> None:
        self._sock.close()
