"""The ttrpc protocol with no I/O at all: bytes in, frames and messages out (as h11 does for HTTP).

A frame is a 10-byte header (body length u32 BE, stream id u32 BE, type u8, flags u8) and a body of
at most 4 MiB. Request and Response bodies are the protobuf messages of package `ttrpc`. Clients
number their streams 1, 3, 5...; the server answers each request on its stream id, in any order.

The socket edges (client.py, server.py for asyncio; blocking.py for threads) feed received bytes
into a ClientConnection or ServerConnection and write out the bytes these return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from corelib.api.ttrpc import ttrpc_pb2

HEADER_LENGTH = 10
MESSAGE_LENGTH_MAX = 4 << 20

MESSAGE_TYPE_REQUEST = 1
MESSAGE_TYPE_RESPONSE = 2
MESSAGE_TYPE_DATA = 3  # ttrpc >= 1.2 streams; not spoken here


class Code:
    """gRPC status codes, as ttrpc carries them (google.rpc.Code numbers)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14


class TtrpcError(Exception):
    """A call answered with an error status (or failed locally with one)."""

    def __init__(self, code: int, message: str):
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"TtrpcError(code={self.code}, message={self.message!r})"


class ConnectionClosed(TtrpcError):  # noqa: N818 - ttrpc-go's ErrClosed
    """The connection went away: every call still waiting on it fails with this."""

    def __init__(self, message: str = "ttrpc: closed"):
        super().__init__(Code.UNAVAILABLE, message)


class ProtocolError(Exception):
    """The byte stream cannot be ttrpc (e.g. it ended inside a frame)."""


def oversized_message(length: int) -> str:
    return f"message length {length} exceed maximum message size of {MESSAGE_LENGTH_MAX}"


class Frame:
    __slots__ = ("stream_id", "type", "flags", "body")

    def __init__(self, stream_id: int, type: int, flags: int, body: bytes):
        self.stream_id = stream_id
        self.type = type
        self.flags = flags
        self.body = body

    def __repr__(self) -> str:
        return f"Frame(stream_id={self.stream_id}, type={self.type}, flags={self.flags}, body={self.body!r})"


class OversizedFrame:
    """A frame whose body exceeded the limit: its body was read and dropped."""

    __slots__ = ("stream_id", "type", "length")

    def __init__(self, stream_id: int, type: int, length: int):
        self.stream_id = stream_id
        self.type = type
        self.length = length


def encode_frame(stream_id: int, type: int, body: bytes, flags: int = 0) -> bytes:
    header = (len(body).to_bytes(4, "big") + stream_id.to_bytes(4, "big")
              + type.to_bytes(1, "big") + flags.to_bytes(1, "big"))
    return header + body


class FrameReader:
    """Cuts a byte stream into frames; bodies over `max_length` are skipped, not buffered."""

    def __init__(self, max_length: int = MESSAGE_LENGTH_MAX):
        self.max_length = max_length
        self._buffer = bytearray()
        self._header: tuple[int, int, int, int] | None = None
        self._discard = 0

    def feed(self, data: bytes) -> list[Frame | OversizedFrame]:
        self._buffer += data
        frames: list[Frame | OversizedFrame] = []
        while True:
            if self._discard:
                dropped = min(self._discard, len(self._buffer))
                del self._buffer[:dropped]
                self._discard -= dropped
                if self._discard:
                    return frames
            if self._header is None:
                if len(self._buffer) < HEADER_LENGTH:
                    return frames
                self._header = _parse_header(self._buffer)
                del self._buffer[:HEADER_LENGTH]
            length, stream_id, type, flags = self._header
            if length > self.max_length:
                self._header = None
                self._discard = length
                frames.append(OversizedFrame(stream_id, type, length))
                continue
            if len(self._buffer) < length:
                return frames
            body = bytes(self._buffer[:length])
            del self._buffer[:length]
            self._header = None
            frames.append(Frame(stream_id, type, flags, body))

    def at_frame_boundary(self) -> bool:
        return not self._buffer and self._header is None and not self._discard

    def eof(self) -> None:
        """The peer closed: raises if that happened inside a frame."""
        if not self.at_frame_boundary():
            raise ProtocolError("connection closed inside a frame")


def _parse_header(buffer: bytearray) -> tuple[int, int, int, int]:
    return (int.from_bytes(buffer[0:4], "big"), int.from_bytes(buffer[4:8], "big"), buffer[8], buffer[9])


Metadata = Mapping[str, "str | Sequence[str]"]


def metadata_pairs(metadata: Metadata | None) -> list[ttrpc_pb2.KeyValue]:
    pairs = []
    for key, values in (metadata or {}).items():
        for value in [values] if isinstance(values, str) else values:
            pairs.append(ttrpc_pb2.KeyValue(key=key, value=value))
    return pairs


def metadata_dict(pairs: Iterable[ttrpc_pb2.KeyValue]) -> dict[str, list[str]]:
    md: dict[str, list[str]] = {}
    for kv in pairs:
        md.setdefault(kv.key, []).append(kv.value)
    return md


class ResponseReceived:
    """The answer to one call: `payload` on success (code 0), else `code` and `message`."""

    __slots__ = ("stream_id", "code", "message", "payload")

    def __init__(self, stream_id: int, code: int, message: str, payload: bytes):
        self.stream_id = stream_id
        self.code = code
        self.message = message
        self.payload = payload

    def error(self) -> TtrpcError | None:
        return TtrpcError(self.code, self.message) if self.code else None


class ClientConnection:
    """The client's half: numbers requests, matches responses to them."""

    def __init__(self) -> None:
        self._reader = FrameReader()
        self._next_stream_id = 1
        self._waiting: set[int] = set()

    def send_request(self, service: str, method: str, payload: bytes, timeout_nano: int = 0,
                     metadata: Metadata | None = None) -> tuple[int, bytes]:
        """(stream id, bytes to write) for a new call; raises TtrpcError if the request is too large."""
        body = ttrpc_pb2.Request(service=service, method=method, payload=payload, timeout_nano=timeout_nano,
                                 metadata=metadata_pairs(metadata)).SerializeToString()
        if len(body) > MESSAGE_LENGTH_MAX:
            raise TtrpcError(Code.RESOURCE_EXHAUSTED, oversized_message(len(body)))
        stream_id = self._next_stream_id
        self._next_stream_id += 2
        self._waiting.add(stream_id)
        return stream_id, encode_frame(stream_id, MESSAGE_TYPE_REQUEST, body)

    def forget(self, stream_id: int) -> None:
        """Stop waiting for a call (timed out or cancelled): a late answer is then dropped."""
        self._waiting.discard(stream_id)

    @property
    def waiting(self) -> frozenset[int]:
        return frozenset(self._waiting)

    def receive_data(self, data: bytes) -> list[ResponseReceived]:
        events = []
        for frame in self._reader.feed(data):
            if frame.stream_id not in self._waiting or frame.type != MESSAGE_TYPE_RESPONSE:
                continue  # unknown streams and frame types are ignored, as ttrpc-go does
            self._waiting.discard(frame.stream_id)
            events.append(_response_event(frame))
        return events

    def receive_eof(self) -> None:
        self._reader.eof()


def _response_event(frame: Frame | OversizedFrame) -> ResponseReceived:
    if isinstance(frame, OversizedFrame):
        return ResponseReceived(frame.stream_id, Code.RESOURCE_EXHAUSTED, oversized_message(frame.length), b"")
    try:
        response = ttrpc_pb2.Response.FromString(frame.body)
    except Exception as e:  # noqa: BLE001 - any decode failure is the peer's fault
        return ResponseReceived(frame.stream_id, Code.INTERNAL, f"ttrpc: unmarshal response error: {e}", b"")
    return ResponseReceived(frame.stream_id, response.status.code, response.status.message, response.payload)


class RequestReceived:
    __slots__ = ("stream_id", "service", "method", "payload", "timeout_nano", "metadata")

    def __init__(self, stream_id: int, service: str, method: str, payload: bytes, timeout_nano: int,
                 metadata: dict[str, list[str]]):
        self.stream_id = stream_id
        self.service = service
        self.method = method
        self.payload = payload
        self.timeout_nano = timeout_nano
        self.metadata = metadata


class RequestRejected:
    """A frame the server must answer with an error status without dispatching it."""

    __slots__ = ("stream_id", "code", "message")

    def __init__(self, stream_id: int, code: int, message: str):
        self.stream_id = stream_id
        self.code = code
        self.message = message


class ServerConnection:
    """The server's half: requests out of the byte stream, responses into it."""

    def __init__(self) -> None:
        self._reader = FrameReader()

    def receive_data(self, data: bytes) -> list[RequestReceived | RequestRejected]:
        events: list[RequestReceived | RequestRejected] = []
        for frame in self._reader.feed(data):
            if isinstance(frame, OversizedFrame):
                message = oversized_message(frame.length)
                events.append(RequestRejected(frame.stream_id, Code.RESOURCE_EXHAUSTED, message))
            elif frame.type == MESSAGE_TYPE_REQUEST:
                events.append(_request_event(frame))
            # other frame types are ignored, for compatibility with newer peers
        return events

    def receive_eof(self) -> None:
        self._reader.eof()

    def send_response(self, stream_id: int, payload: bytes) -> bytes:
        body = ttrpc_pb2.Response(payload=payload).SerializeToString()
        if len(body) > MESSAGE_LENGTH_MAX:
            return self.send_error(stream_id, Code.RESOURCE_EXHAUSTED, oversized_message(len(body)))
        return encode_frame(stream_id, MESSAGE_TYPE_RESPONSE, body)

    def send_error(self, stream_id: int, code: int, message: str) -> bytes:
        response = ttrpc_pb2.Response()
        response.status.code = code
        response.status.message = message
        return encode_frame(stream_id, MESSAGE_TYPE_RESPONSE, response.SerializeToString())


def _request_event(frame: Frame) -> RequestReceived | RequestRejected:
    try:
        request = ttrpc_pb2.Request.FromString(frame.body)
    except Exception as e:  # noqa: BLE001 - any decode failure is the peer's fault
        return RequestRejected(frame.stream_id, Code.INVALID_ARGUMENT, f"unmarshal request error: {e}")
    if frame.stream_id % 2 != 1:
        return RequestRejected(frame.stream_id, Code.INVALID_ARGUMENT,
                               "StreamID must be odd for client initiated streams")
    return RequestReceived(frame.stream_id, request.service, request.method, request.payload,
                           request.timeout_nano, metadata_dict(request.metadata))
