"""HTTP/1.1 over one socket (the codec is http11, sans-IO): keep-alive, streamed (chunked) bodies in
both directions, and the `Upgrade: tcp` hijack the attach and exec endpoints answer with `101 UPGRADED`."""

from __future__ import annotations

import _socket  # as dial's sockets are
import contextlib
import json
from collections.abc import Callable, Iterable, Iterator

from corelib.client.transport import http11
from corelib.client.transport.http11 import END_OF_MESSAGE, NEED_DATA, ProtocolError, ResponseHead

RECV_SIZE = 65536

__all__ = ["HTTPConnection", "HijackedSocket", "ProtocolError", "Response", "StaleConnection"]


class StaleConnection(ConnectionError):
    """A kept-alive connection the server had closed before it answered: safe to retry on a new one."""


class HTTPConnection:
    """One client connection. Not thread-safe: a request, then its response read to the end, then the next."""

    def __init__(self, sock: _socket.socket, host_header: str = "docker",
                 release: Callable[[HTTPConnection], None] | None = None):
        self.sock = sock
        self.host_header = host_header
        self.reused = False
        self._reader = http11.ResponseReader()
        self._release = release

    def request(self, method: str, target: str, headers: list[tuple[str, str]] | None = None,
                body: bytes | Iterable[bytes] | None = None) -> Response:
        """Send a request and read the response head; the body is read through the returned Response."""
        self._send_request(method, target, headers or [], body)
        head = self._next_head()
        if self._reader.switched:
            raise ProtocolError("unexpected 101 response")
        return Response(self, head)

    def upgrade(self, method: str, target: str, headers: list[tuple[str, str]] | None = None,
                body: bytes | None = None) -> HijackedSocket | Response:
        """Ask to switch to the raw stream (`Connection: Upgrade`, `Upgrade: tcp`). A 101 gives the raw
        socket; any other answer is returned as a Response (an error, usually)."""
        hdrs = [*(headers or []), ("Connection", "Upgrade"), ("Upgrade", "tcp")]
        self._send_request(method, target, hdrs, body or b"")
        head = self._next_head()
        if self._reader.switched:
            sock, self.sock = self.sock, None
            return HijackedSocket(sock, self._reader.trailing())
        return Response(self, head)

    def _send_request(self, method: str, target: str, headers: list[tuple[str, str]],
                      body: bytes | Iterable[bytes] | None) -> None:
        hdrs = [("Host", self.host_header), *headers]
        chunked = body is not None and not isinstance(body, bytes | bytearray)
        if isinstance(body, bytes | bytearray):
            hdrs.append(("Content-Length", str(len(body))))
        elif chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
        self._reader.expect(method)
        try:
            head = http11.request_head(method, target, hdrs)
            if isinstance(body, bytes | bytearray):
                self.sock.sendall(head + body)
            elif chunked:
                self.sock.sendall(head)
                for data in body:
                    if data:
                        self.sock.sendall(http11.chunk(data))
                self.sock.sendall(http11.LAST_CHUNK)
            else:
                self.sock.sendall(head)
        except (BrokenPipeError, ConnectionResetError) as e:
            if self.reused:
                raise StaleConnection(str(e)) from e
            raise

    def _next_head(self) -> ResponseHead:
        received_any = False
        while True:
            try:
                event = self._reader.next_event()
            except ProtocolError:
                if self.reused and not received_any:
                    raise StaleConnection("connection closed by the server") from None
                raise
            if event is NEED_DATA:
                data = self._recv()
                received_any = received_any or bool(data)
                self._reader.receive(data)
                continue
            return event

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(RECV_SIZE)
        except ConnectionResetError:
            return b""

    def next_body_event(self) -> bytes | object:
        """Body bytes as they come, then END_OF_MESSAGE."""
        while True:
            event = self._reader.next_event()
            if event is NEED_DATA:
                self._reader.receive(self._recv())
                continue
            return event

    def finish(self) -> None:
        """The response was read to its end: keep the connection for the next request, or close it."""
        if self._reader.keep_alive and self._release is not None and self.sock is not None:
            self.reused = True
            self._release(self)
            return
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Response:
    """A response whose head is read; its body is read once, whole (`read`, `json`) or as it comes."""

    def __init__(self, conn: HTTPConnection, head: ResponseHead):
        self._conn: HTTPConnection | None = conn
        self.status = head.status
        self.reason = head.reason
        self.headers = {k.lower(): v for k, v in head.headers}
        self.on_done: Callable[[], None] | None = None  # once: the body was read to its end, or abandoned

    def _done(self) -> None:
        on_done, self.on_done = self.on_done, None
        if on_done is not None:
            on_done()

    def iter_content(self) -> Iterator[bytes]:
        """The body's bytes as they arrive (a chunked stream is yielded chunk by chunk)."""
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                event = conn.next_body_event()
                if event is END_OF_MESSAGE:
                    self._conn = None
                    conn.finish()
                    self._done()
                    return
                yield event
        finally:
            if self._conn is not None:
                self.close()

    def iter_lines(self) -> Iterator[bytes]:
        """Newline-separated records of a streamed body (events, pull progress), without the newline."""
        pending = b""
        for data in self.iter_content():
            pending += data
            *lines, pending = pending.split(b"\n")
            yield from (line for line in lines if line.strip())
        if pending.strip():
            yield pending

    def iter_json(self) -> Iterator[dict]:
        """A stream of JSON objects, one a line (or simply concatenated, as some servers send them)."""
        decoder = json.JSONDecoder()
        for line in self.iter_lines():
            text = line.decode("utf-8", "replace").strip()
            while text:
                obj, end = decoder.raw_decode(text)
                yield obj
                text = text[end:].lstrip()

    def read(self) -> bytes:
        return b"".join(self.iter_content())

    def json(self) -> object:
        body = self.read()
        return json.loads(body) if body.strip() else None

    def close(self) -> None:
        """Abandon the body: the connection cannot carry another request, so it is closed."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self._done()

    def shutdown(self) -> None:
        """From another thread: end an endless body (`/events`) being read, as if the daemon had
        closed the connection; the blocked read returns at once and the reader's loop ends."""
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(_socket.SHUT_RDWR)


class HijackedSocket:
    """The raw stream after `101 UPGRADED`: bytes the HTTP parser had already read come first."""

    def __init__(self, sock: _socket.socket, buffered: bytes = b""):
        self.sock = sock
        self._buffered = buffered
        self.on_done: Callable[[], None] | None = None  # once, when the stream is closed

    def recv(self, size: int = RECV_SIZE) -> bytes:
        if self._buffered:
            data, self._buffered = self._buffered[:size], self._buffered[size:]
            return data
        try:
            return self.sock.recv(size)
        except ConnectionResetError:
            return b""

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """Half-close: the daemon sees EOF on the container's stdin and keeps sending output."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(_socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()
        on_done, self.on_done = self.on_done, None
        if on_done is not None:
            on_done()

    def fileno(self) -> int:
        return self.sock.fileno()
