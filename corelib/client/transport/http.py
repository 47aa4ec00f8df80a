"""HTTP/1.1 over one socket, with h11 as the protocol engine: keep-alive, streamed (chunked) bodies in
both directions, and the `Upgrade: tcp` hijack the attach and exec endpoints answer with `101 UPGRADED`."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable, Iterable, Iterator

import h11

RECV_SIZE = 65536


class StaleConnection(ConnectionError):
    """A kept-alive connection the server had closed before it answered: safe to retry on a new one."""


class HTTPConnection:
    """One client connection. Not thread-safe: a request, then its response read to the end, then the next."""

    def __init__(self, sock: socket.socket, host_header: str = "docker",
                 release: Callable[[HTTPConnection], None] | None = None):
        self.sock = sock
        self.host_header = host_header
        self.reused = False
        self._h11 = h11.Connection(h11.CLIENT)
        self._release = release

    def request(self, method: str, target: str, headers: list[tuple[str, str]] | None = None,
                body: bytes | Iterable[bytes] | None = None) -> Response:
        """Send a request and read the response head; the body is read through the returned Response."""
        self._send_request(method, target, headers or [], body)
        event = self._next_response_event()
        if isinstance(event, h11.InformationalResponse):
            raise h11.RemoteProtocolError(f"unexpected {event.status_code} response", 502)
        return Response(self, event)

    def upgrade(self, method: str, target: str, headers: list[tuple[str, str]] | None = None,
                body: bytes | None = None) -> HijackedSocket | Response:
        """Ask to switch to the raw stream (`Connection: Upgrade`, `Upgrade: tcp`). A 101 gives the raw
        socket; any other answer is returned as a Response (an error, usually)."""
        hdrs = [*(headers or []), ("Connection", "Upgrade"), ("Upgrade", "tcp")]
        self._send_request(method, target, hdrs, body or b"")
        event = self._next_response_event()
        if isinstance(event, h11.InformationalResponse):
            if event.status_code != 101 or self._h11.our_state is not h11.SWITCHED_PROTOCOL:
                raise h11.RemoteProtocolError(f"unexpected {event.status_code} response to upgrade", 502)
            trailing, _closed = self._h11.trailing_data
            sock, self.sock = self.sock, None
            return HijackedSocket(sock, bytes(trailing))
        return Response(self, event)

    def _send_request(self, method: str, target: str, headers: list[tuple[str, str]],
                      body: bytes | Iterable[bytes] | None) -> None:
        hdrs = [("Host", self.host_header), *headers]
        if isinstance(body, bytes | bytearray):
            hdrs.append(("Content-Length", str(len(body))))
        elif body is not None:
            hdrs.append(("Transfer-Encoding", "chunked"))
        try:
            self._send(h11.Request(method=method, target=target, headers=hdrs))
            if isinstance(body, bytes | bytearray):
                if body:
                    self._send(h11.Data(data=body))
            elif body is not None:
                for chunk in body:
                    if chunk:
                        self._send(h11.Data(data=chunk))
            self._send(h11.EndOfMessage())
        except (BrokenPipeError, ConnectionResetError) as e:
            if self.reused:
                raise StaleConnection(str(e)) from e
            raise

    def _send(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if data:
            self.sock.sendall(data)

    def _next_response_event(self) -> h11.Response | h11.InformationalResponse:
        received_any = False
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError:
                if self.reused and not received_any:
                    raise StaleConnection("connection closed by the server") from None
                raise
            if event is h11.NEED_DATA:
                data = self._recv()
                received_any = received_any or bool(data)
                self._h11.receive_data(data)
                continue
            if isinstance(event, h11.Response | h11.InformationalResponse):
                return event
            if isinstance(event, h11.ConnectionClosed):
                if self.reused and not received_any:
                    raise StaleConnection("connection closed by the server")
                raise h11.RemoteProtocolError("server closed the connection without a response", 502)

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(RECV_SIZE)
        except ConnectionResetError:
            return b""

    def next_body_event(self) -> h11.Data | h11.EndOfMessage:
        while True:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                self._h11.receive_data(self._recv())
                continue
            if isinstance(event, h11.Data | h11.EndOfMessage):
                return event
            raise h11.RemoteProtocolError(f"unexpected {type(event).__name__} in a response body", 502)

    def finish(self) -> None:
        """The response was read to its end: keep the connection for the next request, or close it."""
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            self.reused = True
            if self._release is not None:
                self._release(self)
                return
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Response:
    """A response whose head is read; its body is read once, whole (`read`, `json`) or as it comes."""

    def __init__(self, conn: HTTPConnection, event: h11.Response):
        self._conn: HTTPConnection | None = conn
        self.status = event.status_code
        self.reason = event.reason.decode("latin-1")
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}

    def iter_content(self) -> Iterator[bytes]:
        """The body's bytes as they arrive (a chunked stream is yielded chunk by chunk)."""
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                event = conn.next_body_event()
                if isinstance(event, h11.EndOfMessage):
                    self._conn = None
                    conn.finish()
                    return
                yield bytes(event.data)
        finally:
            if self._conn is not None:
                self.close()

    def iter_lines(self) -> Iterator[bytes]:
        """Newline-separated records of a streamed body (events, pull progress), without the newline."""
        pending = b""
        for chunk in self.iter_content():
            pending += chunk
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

    def shutdown(self) -> None:
        """From another thread: end an endless body (`/events`) being read, as if the daemon had
        closed the connection; the blocked read returns at once and the reader's loop ends."""
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class HijackedSocket:
    """The raw stream after `101 UPGRADED`: bytes the HTTP parser had already read come first."""

    def __init__(self, sock: socket.socket, buffered: bytes = b""):
        self.sock = sock
        self._buffered = buffered

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
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()

    def fileno(self) -> int:
        return self.sock.fileno()
