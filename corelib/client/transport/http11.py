"""The client side of HTTP/1.1 as the Engine API needs it, sans-IO: request heads and chunked bodies
out, response heads and bodies in (Content-Length, chunked, to-close, none for HEAD/1xx/204/304), and
the switch to a raw stream on `101`. Bytes in, events out, so it is tested byte by byte.

Hand-written rather than h11 (which the daemon uses): importing h11 costs a `whale` start ~30 ms of
CPU (typing, dataclasses, inspect), more than all of whale's own modules; this is the subset a client
of one daemon needs (RFC 9112 sections 4-7)."""

from __future__ import annotations

MAX_HEAD = 64 * 1024


class ProtocolError(Exception):
    pass


class NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()


class ResponseHead:
    def __init__(self, version: str, status: int, reason: str, headers: list[tuple[str, str]]):
        self.version, self.status, self.reason, self.headers = version, status, reason, headers

    def get(self, name: str, default: str = "") -> str:
        name = name.lower()
        values = [v for k, v in self.headers if k.lower() == name]
        return ", ".join(values) if values else default


class EndOfMessage:
    pass


END_OF_MESSAGE = EndOfMessage()


def request_head(method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
    for name, value in headers:
        if any(c in name + value for c in "\r\n\0"):
            raise ProtocolError(f"invalid header {name!r}")
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


LAST_CHUNK = b"0\r\n\r\n"


class ResponseReader:
    """Parses one response after another on a connection. `next_event()` returns NEED_DATA, a
    ResponseHead, body bytes, or END_OF_MESSAGE; after a 101 head, `switched` is set and `trailing()`
    is what followed the head on the wire."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._eof = False
        self._head_for_method = ""
        self._state = "idle"  # idle | head | body | chunk-size | chunk-data | chunk-end | trailers | done
        self._remaining = 0
        self.switched = False
        self.keep_alive = True

    def expect(self, method: str) -> None:
        """A request was sent: read its response next."""
        if self._state not in ("idle", "done"):
            raise ProtocolError("previous response not read to its end")
        self._head_for_method = method
        self._state = "head"

    def receive(self, data: bytes) -> None:
        if not data:
            self._eof = True
        self._buf += data

    def trailing(self) -> bytes:
        data, self._buf = bytes(self._buf), bytearray()
        return data

    def next_event(self) -> object:
        state = self._state
        if state == "head":
            return self._read_head()
        if state == "body":
            return self._read_fixed()
        if state == "to-close":
            return self._read_to_close()
        if state.startswith("chunk") or state == "trailers":
            return self._read_chunked()
        if state == "done":
            return END_OF_MESSAGE
        raise ProtocolError(f"no response expected (state {state})")

    def _read_head(self) -> object:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_HEAD:
                raise ProtocolError("response head too long")
            if self._eof:
                raise ProtocolError("connection closed before a response" if not self._buf
                                    else "connection closed in the middle of a response head")
            return NEED_DATA
        lines = bytes(self._buf[:end]).decode("latin-1").split("\r\n")
        del self._buf[:end + 4]
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code.isdigit() or len(code) != 3:
            raise ProtocolError(f"malformed status line {lines[0]!r}")
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ProtocolError(f"malformed header line {line!r}")
            headers.append((name, value.strip(" \t")))
        head = ResponseHead(version, int(code), reason, headers)
        self._frame(head)
        if self._state == "head":  # an interim 1xx response: the real one follows
            return self._read_head()
        return head

    def _frame(self, head: ResponseHead) -> None:
        connection = head.get("connection").lower()
        self.keep_alive = "close" not in connection and (head.version == "HTTP/1.1" or "keep-alive" in connection)
        if head.status == 101:
            self.switched = True
            self._state = "switched"
            return
        if 100 <= head.status < 200:
            self._state = "head"  # an interim response: the real one follows
            return
        if self._head_for_method == "HEAD" or head.status in (204, 304):
            self._state = "done"
            return
        if "chunked" in head.get("transfer-encoding").lower():
            self._state = "chunk-size"
            return
        length = head.get("content-length")
        if length:
            if not length.isdigit():
                raise ProtocolError(f"bad Content-Length {length!r}")
            self._remaining = int(length)
            self._state = "body" if self._remaining else "done"
            return
        self._state = "to-close"
        self.keep_alive = False

    def _read_fixed(self) -> object:
        if not self._buf:
            if self._eof:
                raise ProtocolError("connection closed in the middle of a response body")
            return NEED_DATA
        data = bytes(self._buf[:self._remaining])
        del self._buf[:len(data)]
        self._remaining -= len(data)
        if not self._remaining:
            self._state = "done"
        return data

    def _read_to_close(self) -> object:
        if self._buf:
            return self.trailing()
        if self._eof:
            self._state = "done"
            return END_OF_MESSAGE
        return NEED_DATA

    def _read_chunked(self) -> object:
        while True:
            if self._state == "chunk-data":
                if not self._buf:
                    return self._need()
                data = bytes(self._buf[:self._remaining])
                del self._buf[:len(data)]
                self._remaining -= len(data)
                if not self._remaining:
                    self._state = "chunk-end"
                return data
            end = self._buf.find(b"\r\n")
            if end < 0:
                return self._need()
            line = bytes(self._buf[:end])
            del self._buf[:end + 2]
            if self._state == "chunk-end":
                if line:
                    raise ProtocolError("chunk not followed by CRLF")
                self._state = "chunk-size"
            elif self._state == "chunk-size":
                size = line.split(b";", 1)[0].strip()
                try:
                    self._remaining = int(size, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size!r}") from None
                self._state = "chunk-data" if self._remaining else "trailers"
            elif not line:  # the empty line after the trailers
                self._state = "done"
                return END_OF_MESSAGE

    def _need(self) -> object:
        if self._eof:
            raise ProtocolError("connection closed in the middle of a chunked body")
        return NEED_DATA
