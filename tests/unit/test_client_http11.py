"""whale's HTTP/1.1 codec, byte by byte: heads, Content-Length, chunked and to-close bodies, bodiless
responses, keep-alive, the 101 switch with the stream's first bytes, malformed input."""

from __future__ import annotations

import pytest

from corelib.client.transport.http11 import (
    END_OF_MESSAGE,
    LAST_CHUNK,
    NEED_DATA,
    ProtocolError,
    ResponseHead,
    ResponseReader,
    chunk,
    request_head,
)


def events(wire: bytes, method: str = "GET", step: int = 1) -> list[object]:
    """Feed `wire` `step` bytes at a time, then EOF; collect heads, joined body bytes and the end."""
    reader = ResponseReader()
    reader.expect(method)
    out: list[object] = []
    pos = 0
    while True:
        event = reader.next_event()
        if event is NEED_DATA:
            reader.receive(wire[pos:pos + step])
            pos += step
            continue
        if isinstance(event, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += event
        else:
            out.append(event)
        if event is END_OF_MESSAGE or getattr(reader, "switched", False):
            return out


def summary(evs: list[object]) -> list[object]:
    return [(e.status, e.reason, e.headers) if isinstance(e, ResponseHead) else
            ("end" if e is END_OF_MESSAGE else e) for e in evs]


PING = (b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\nOstype:  linux \r\n\r\nOK")


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_content_length_body(step):
    assert summary(events(PING, step=step)) == [
        (200, "OK", [("Api-Version", "1.41"), ("Content-Length", "2"), ("Ostype", "linux")]), b"OK", "end"]


@pytest.mark.parametrize("step", [1, 7, 1000])
def test_chunked_body_with_extensions_and_trailers(step):
    wire = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"1e\r\n{\"Error\":null,\"StatusCode\":3}\n\r\n4;ext=1\r\n\n\n\n\n\r\n0\r\nX-Trailer: 1\r\n\r\n")
    assert summary(events(wire, step=step))[1:] == [b'{"Error":null,"StatusCode":3}\n\n\n\n\n', "end"]


def test_bodiless_responses():
    head_only = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nApi-Version: 1.41\r\n\r\n"
    assert summary(events(head_only, method="HEAD"))[1:] == ["end"]
    assert summary(events(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"))[1:] == ["end"]
    assert summary(events(b"HTTP/1.1 304 Not Modified\r\n\r\n"))[1:] == ["end"]


def test_body_to_close_and_keep_alive():
    reader = ResponseReader()
    reader.expect("GET")
    reader.receive(b"HTTP/1.0 200 OK\r\n\r\nstream")
    assert isinstance(reader.next_event(), ResponseHead) and not reader.keep_alive
    assert reader.next_event() == b"stream"
    assert reader.next_event() is NEED_DATA
    reader.receive(b"")
    assert reader.next_event() is END_OF_MESSAGE
    closing = ResponseReader()
    closing.expect("GET")
    closing.receive(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    closing.next_event()
    assert not closing.keep_alive


def test_two_responses_on_one_connection():
    reader = ResponseReader()
    reader.receive(PING + PING)
    for _ in range(2):
        reader.expect("GET")
        assert reader.next_event().status == 200
        assert reader.next_event() == b"OK"
        assert reader.next_event() is END_OF_MESSAGE
        assert reader.keep_alive


def test_interim_response_is_skipped_and_101_switches():
    assert summary(events(b"HTTP/1.1 100 Continue\r\n\r\n" + PING))[0][0] == 200
    reader = ResponseReader()
    reader.expect("POST")
    reader.receive(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                   b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00\x00\x00\x00\x03hi\n")
    assert reader.next_event().status == 101 and reader.switched
    assert reader.trailing() == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"


@pytest.mark.parametrize("wire, message", [
    (b"", "connection closed before a response"),
    (b"HTTP/1.1 200 OK\r\nContent-Le", "in the middle of a response head"),
    (b"SPDY/3 200 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "in the middle of a response body"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "chunk not followed by CRLF"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "in the middle of a chunked body"),
])
def test_malformed_or_cut_responses(wire, message):
    with pytest.raises(ProtocolError, match=message):
        events(wire, step=1000)


def test_request_heads_and_chunks():
    assert request_head("POST", "/v1.41/containers/x/start", [("Host", "docker"), ("Content-Length", "0")]) == \
        b"POST /v1.41/containers/x/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n"
    assert chunk(b"a" * 26) == b"1a\r\n" + b"a" * 26 + b"\r\n" and chunk(b"") == b""
    assert LAST_CHUNK == b"0\r\n\r\n"
    with pytest.raises(ProtocolError):
        request_head("GET", "/", [("X-Evil", "a\r\nInjected: 1")])
