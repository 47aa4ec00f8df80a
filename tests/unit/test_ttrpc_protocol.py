"""The sans-IO ttrpc core, fed byte by byte: framing, stream ids, statuses, limits."""

from __future__ import annotations

import pytest

from corelib.api.ttrpc import ttrpc_pb2
from corelib.ttrpc.protocol import (
    MESSAGE_LENGTH_MAX,
    ClientConnection,
    Code,
    Frame,
    FrameReader,
    OversizedFrame,
    ProtocolError,
    RequestReceived,
    RequestRejected,
    ServerConnection,
    TtrpcError,
    encode_frame,
)

# Request{service="containerd.task.v2.Task", method="State", payload=StateRequest{id="x"}} on stream 1,
# as ttrpc-go writes it: header (length, stream id, type 1, flags 0), then the protobuf body.
STATE_REQUEST_BODY = (b"\x0a\x17containerd.task.v2.Task" b"\x12\x05State" b"\x1a\x03\x0a\x01x")
STATE_REQUEST_FRAME = b"\x00\x00\x00\x25" b"\x00\x00\x00\x01" b"\x01" b"\x00" + STATE_REQUEST_BODY


def feed_bytewise(conn, data: bytes) -> list:
    events = []
    for i in range(len(data)):
        events += conn.receive_data(data[i:i + 1])
    return events


def test_client_request_bytes_match_ttrpc_go():
    stream_id, data = ClientConnection().send_request("containerd.task.v2.Task", "State", b"\x0a\x01x")
    assert stream_id == 1
    assert data == STATE_REQUEST_FRAME


def test_client_stream_ids_are_odd_and_increase_by_two():
    client = ClientConnection()
    ids = [client.send_request("s", "m", b"")[0] for _ in range(4)]
    assert ids == [1, 3, 5, 7]
    assert client.waiting == {1, 3, 5, 7}


def test_server_parses_a_request_fed_one_byte_at_a_time():
    events = feed_bytewise(ServerConnection(), STATE_REQUEST_FRAME)
    assert len(events) == 1
    request = events[0]
    assert isinstance(request, RequestReceived)
    assert (request.stream_id, request.service, request.method, request.payload) == (
        1, "containerd.task.v2.Task", "State", b"\x0a\x01x")
    assert request.timeout_nano == 0 and request.metadata == {}


def test_two_frames_in_one_chunk_and_a_split_header():
    server = ServerConnection()
    second = encode_frame(3, 1, ttrpc_pb2.Request(service="a", method="b").SerializeToString())
    events = server.receive_data(STATE_REQUEST_FRAME + second[:4])
    assert [e.stream_id for e in events] == [1]
    events = server.receive_data(second[4:])
    assert [(e.stream_id, e.service, e.method) for e in events] == [(3, "a", "b")]


def test_metadata_and_timeout_travel_with_the_request():
    client, server = ClientConnection(), ServerConnection()
    _, data = client.send_request("s", "m", b"", timeout_nano=5_000_000_000,
                                  metadata={"containerd-namespace-ttrpc": "moby", "k": ["v1", "v2"]})
    (request,) = server.receive_data(data)
    assert request.timeout_nano == 5_000_000_000
    assert request.metadata == {"containerd-namespace-ttrpc": ["moby"], "k": ["v1", "v2"]}


def test_success_response_has_no_status_field():
    data = ServerConnection().send_response(1, b"\x08\x07")
    assert data == b"\x00\x00\x00\x04\x00\x00\x00\x01\x02\x00" + b"\x12\x02\x08\x07"


def test_error_response_carries_code_and_message():
    data = ServerConnection().send_error(3, Code.NOT_FOUND, "container not created: not found")
    body = data[10:]
    response = ttrpc_pb2.Response.FromString(body)
    assert response.status.code == 5
    assert response.status.message == "container not created: not found"
    assert response.payload == b""


def test_client_matches_out_of_order_responses():
    client, server = ClientConnection(), ServerConnection()
    first, _ = client.send_request("s", "m", b"")
    second, _ = client.send_request("s", "m", b"")
    data = server.send_response(second, b"two") + server.send_error(first, Code.ALREADY_EXISTS, "id x: already exists")
    events = feed_bytewise(client, data)
    assert [(e.stream_id, e.code, e.payload) for e in events] == [(second, 0, b"two"), (first, 6, b"")]
    assert events[0].error() is None
    error = events[1].error()
    assert isinstance(error, TtrpcError) and error.code == 6 and str(error) == "id x: already exists"
    assert client.waiting == frozenset()


def test_client_drops_answers_to_unknown_or_forgotten_streams():
    client, server = ClientConnection(), ServerConnection()
    stream_id, _ = client.send_request("s", "m", b"")
    client.forget(stream_id)
    assert client.receive_data(server.send_response(stream_id, b"late")) == []
    assert client.receive_data(server.send_response(99, b"stray")) == []


def test_client_ignores_frames_that_are_not_responses():
    client = ClientConnection()
    stream_id, _ = client.send_request("s", "m", b"")
    assert client.receive_data(encode_frame(stream_id, 3, b"data")) == []
    assert client.waiting == {stream_id}


def test_server_rejects_even_stream_ids():
    body = ttrpc_pb2.Request(service="s", method="m").SerializeToString()
    (event,) = ServerConnection().receive_data(encode_frame(2, 1, body))
    assert isinstance(event, RequestRejected)
    assert (event.stream_id, event.code, event.message) == (
        2, Code.INVALID_ARGUMENT, "StreamID must be odd for client initiated streams")


def test_server_rejects_a_body_that_is_not_a_request():
    (event,) = ServerConnection().receive_data(encode_frame(5, 1, b"\xff\xff\xff"))
    assert isinstance(event, RequestRejected)
    assert event.stream_id == 5 and event.code == Code.INVALID_ARGUMENT
    assert event.message.startswith("unmarshal request error: ")


def test_server_ignores_unknown_frame_types():
    server = ServerConnection()
    assert server.receive_data(encode_frame(1, 9, b"future")) == []
    (event,) = server.receive_data(STATE_REQUEST_FRAME)
    assert event.method == "State"


def test_oversized_frame_is_skipped_without_buffering_and_answered_resource_exhausted():
    reader = FrameReader()
    length = MESSAGE_LENGTH_MAX + 1
    header = length.to_bytes(4, "big") + (7).to_bytes(4, "big") + b"\x01\x00"
    (event,) = reader.feed(header)
    assert isinstance(event, OversizedFrame)
    assert (event.stream_id, event.length) == (7, length)
    chunk = b"\x00" * 65536
    for _ in range(length // len(chunk)):
        assert reader.feed(chunk) == []
        assert len(reader._buffer) == 0
    rest = length % len(chunk)
    frames = reader.feed(b"\x00" * rest + encode_frame(9, 1, b""))
    assert [(f.stream_id, f.body) for f in frames if isinstance(f, Frame)] == [(9, b"")]


def test_server_turns_an_oversized_request_into_resource_exhausted():
    length = MESSAGE_LENGTH_MAX + 10
    header = length.to_bytes(4, "big") + (11).to_bytes(4, "big") + b"\x01\x00"
    (event,) = ServerConnection().receive_data(header)
    assert isinstance(event, RequestRejected)
    assert event.code == Code.RESOURCE_EXHAUSTED == 8
    assert event.message == f"message length {length} exceed maximum message size of {MESSAGE_LENGTH_MAX}"


def test_client_turns_an_oversized_response_into_resource_exhausted():
    client = ClientConnection()
    stream_id, _ = client.send_request("s", "m", b"")
    length = MESSAGE_LENGTH_MAX + 1
    (event,) = client.receive_data(length.to_bytes(4, "big") + stream_id.to_bytes(4, "big") + b"\x02\x00")
    assert event.code == Code.RESOURCE_EXHAUSTED


def test_client_refuses_to_send_an_oversized_request():
    client = ClientConnection()
    with pytest.raises(TtrpcError) as e:
        client.send_request("s", "m", b"x" * MESSAGE_LENGTH_MAX)
    assert e.value.code == Code.RESOURCE_EXHAUSTED
    assert client.waiting == frozenset()


def test_server_answers_an_oversized_response_with_resource_exhausted():
    data = ServerConnection().send_response(1, b"x" * MESSAGE_LENGTH_MAX)
    response = ttrpc_pb2.Response.FromString(data[10:])
    assert response.status.code == Code.RESOURCE_EXHAUSTED and response.payload == b""


def test_eof_inside_a_frame_is_a_protocol_error():
    server = ServerConnection()
    server.receive_data(STATE_REQUEST_FRAME[:-3])
    with pytest.raises(ProtocolError):
        server.receive_eof()


def test_eof_between_frames_is_clean():
    server = ServerConnection()
    server.receive_data(STATE_REQUEST_FRAME)
    server.receive_eof()
