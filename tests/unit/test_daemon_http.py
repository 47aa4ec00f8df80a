"""The Engine API edge, byte by byte over a real unix socket: routing with and without /vX.Y,
version negotiation, the headers on every response, errors, keep-alive, chunked bodies, streaming
that is flushed at once, the attach hijack, and cancellation when the client goes away."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from corelib import errdefs
from corelib.daemon.server.http import Request, ResponseWriter, encode_json
from corelib.daemon.server.httputils import bool_value, read_json
from corelib.daemon.server.server import Server, route


class Handlers:
    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.release = asyncio.Event()

    async def ping(self, r: Request, w: ResponseWriter) -> None:
        await w.write_body(200, b"" if r.method == "HEAD" else b"OK", "text/plain; charset=utf-8")

    async def echo(self, r: Request, w: ResponseWriter) -> None:
        body = await read_json(r, allow_empty=True)
        await w.write_json(200, {"body": body, "version": r.version, "name": r.vars.get("name"),
                                 "flag": bool_value(r, "flag")})

    async def upload(self, r: Request, w: ResponseWriter) -> None:
        size = 0
        async for chunk in r.body_chunks():
            size += len(chunk)
        await w.write_json(200, {"size": size})

    async def fail(self, r: Request, w: ResponseWriter) -> None:
        kind = r.form("kind")
        raise {"notfound": errdefs.NotFound("No such container: x"), "conflict": errdefs.Conflict("busy"),
               "notmodified": errdefs.NotModified(""), "bad": errdefs.InvalidArgument("bad value"),
               "boom": RuntimeError("boom")}[kind]

    async def stream(self, r: Request, w: ResponseWriter) -> None:
        await w.start_stream(200, "application/json")
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        await w.write(encode_json({"done": True}))
        await w.end()

    async def attach(self, r: Request, w: ResponseWriter) -> None:
        reader, writer, leftover = await w.hijack("upgrade" in r.headers.get("connection", "").lower())
        data = leftover
        while not data.endswith(b"\n"):
            more = await reader.read(100)
            if not more:
                break
            data += more
        writer.write(b"got:" + data)
        await writer.drain()
        writer.close()


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[str, Handlers, asyncio.AbstractEventLoop]]:
    handlers = Handlers()
    directory = tempfile.mkdtemp(prefix="wb-http-", dir="/tmp")
    path = str(Path(directory) / "api.sock")
    loop = asyncio.new_event_loop()
    server = Server("20.10.24+test")
    server.add_routes([
        route("GET", "/_ping", handlers.ping), route("POST", "/echo/{name:[^/]+}", handlers.echo),
        route("POST", "/upload", handlers.upload), route("GET", "/fail", handlers.fail),
        route("GET", "/stream", handlers.stream, cancel_on_disconnect=True),
        route("POST", "/attach", handlers.attach),
    ])
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.listen(f"unix://{path}"))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield path, handlers, loop
    asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    shutil.rmtree(directory, ignore_errors=True)


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(path)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response (Content-Length, chunked, or no body for 204/304/HEAD is not handled here)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    if "content-length" in headers:
        while len(rest) < int(headers["content-length"]):
            rest += sock.recv(65536)
        return status, headers, rest[:int(headers["content-length"])]
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += sock.recv(65536)
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line, 16)
            while len(rest) < size + 2:
                rest += sock.recv(65536)
            if size == 0:
                return status, headers, body
            body, rest = body + rest[:size], rest[size + 2:]
    return status, headers, rest


def request(path: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(path) as sock:
        sock.sendall(raw)
        return read_response(sock)


def test_ping_carries_dockers_headers(api):
    path, _, _ = api
    status, headers, body = request(path, b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
    assert (status, body) == (200, b"OK")
    assert headers["api-version"] == "1.41" and headers["ostype"] == "linux"
    assert headers["docker-experimental"] == "false" and headers["server"].startswith("Docker/20.10.24")
    status, headers, _ = request(path, b"HEAD /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\n\r\n")
    assert status == 200 and headers["content-length"] == "0"


def test_routes_answer_with_and_without_the_version_prefix(api):
    path, _, _ = api
    body = b'{"a":1}'
    for prefix, version in (("", "1.41"), ("/v1.41", "1.41"), ("/v1.24", "1.24")):
        raw = (f"POST {prefix}/echo/c1?flag=True HTTP/1.1\r\nHost: \r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        status, _, data = request(path, raw)
        assert status == 200
        assert json.loads(data) == {"body": {"a": 1}, "version": version, "name": "c1", "flag": True}


def test_version_negotiation_errors_read_as_dockerds(api):
    path, _, _ = api
    status, headers, body = request(path, b"GET /v1.50/_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
    assert status == 400
    assert json.loads(body) == {"message": "client version 1.50 is too new. Maximum supported API version is 1.41"}
    assert "docker-experimental" not in headers and headers["api-version"] == "1.41"
    status, headers, body = request(path, b"GET /v1.11/_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
    assert status == 400 and headers["content-type"].startswith("text/plain")
    assert body == (b"client version 1.11 is too old. Minimum supported API version is 1.12, please upgrade your "
                    b"client to a newer version\n")


def test_unknown_path_or_method_is_page_not_found(api):
    path, _, _ = api
    for raw in (b"GET /nope HTTP/1.1\r\nHost: d\r\n\r\n", b"DELETE /v1.41/_ping HTTP/1.1\r\nHost: d\r\n\r\n"):
        status, headers, body = request(path, raw)
        assert (status, body) == (404, b'{"message":"page not found"}\n')
        assert "api-version" not in headers


@pytest.mark.parametrize(("kind", "status", "message"), [
    ("notfound", 404, "No such container: x"), ("conflict", 409, "busy"), ("bad", 400, "bad value"),
    ("boom", 500, "boom")])
def test_errors_become_dockers_message_body(api, kind, status, message):
    path, _, _ = api
    got, headers, body = request(path, f"GET /v1.41/fail?kind={kind} HTTP/1.1\r\nHost: d\r\n\r\n".encode())
    assert got == status and headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": message}


def test_not_modified_has_no_body(api):
    path, _, _ = api
    with connect(path) as sock:
        sock.sendall(b"GET /fail?kind=notmodified HTTP/1.1\r\nHost: d\r\n\r\n")
        data = sock.recv(4096)
    assert data.startswith(b"HTTP/1.1 304 Not Modified\r\n") and data.endswith(b"\r\n\r\n")


def test_keep_alive_serves_several_requests_on_one_connection(api):
    path, _, _ = api
    with connect(path) as sock:
        for _ in range(3):
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
            assert read_response(sock)[2] == b"OK"


def test_chunked_request_body_is_streamed_to_the_handler(api):
    path, _, _ = api
    chunks = [b"x" * 1000, b"y" * 70000, b"z"]
    raw = b"POST /upload HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    status, _, body = request(path, raw)
    assert status == 200 and json.loads(body) == {"size": 71001}


def test_malformed_json_and_content_type_get_dockers_wording(api):
    path, _, _ = api
    raw = b'POST /echo/x HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n{bad'
    status, _, body = request(path, raw)
    assert (status, json.loads(body)["message"]) == (500, "invalid character 'b' looking for beginning of object key "
                                                          "string")
    raw = b'POST /echo/x HTTP/1.1\r\nHost: d\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}'
    status, _, body = request(path, raw)
    assert (status, json.loads(body)["message"]) == (400, "Content-Type specified (text/plain) must be "
                                                          "'application/json'")


def test_broken_http_gets_400_and_the_server_keeps_serving(api):
    path, _, _ = api
    with connect(path) as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")
    assert request(path, b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")[0] == 200


def test_streaming_headers_arrive_before_the_body(api):
    path, handlers, loop = api
    with connect(path) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: d\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 200 OK") and b"Transfer-Encoding: chunked" in head
        loop.call_soon_threadsafe(handlers.release.set)
        rest = b""
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(4096)
        assert b'{"done":true}' in rest
    loop.call_soon_threadsafe(handlers.release.clear)


def test_a_client_that_goes_away_cancels_a_streaming_handler(api):
    path, handlers, _ = api
    handlers.cancelled.clear()
    sock = connect(path)
    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: d\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    sock.close()
    assert handlers.cancelled.wait(10)


@pytest.mark.parametrize("upgrade", [True, False])
def test_hijack_writes_dockers_exact_head_and_keeps_early_bytes(api, upgrade):
    path, _, _ = api
    headers = "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else ""
    with connect(path) as sock:
        # stdin sent right behind the request, before any answer: it must reach the handler
        sock.sendall(f"POST /attach HTTP/1.1\r\nHost: \r\nContent-Length: 0\r\n{headers}\r\nhello\n".encode())
        data = b""
        while not data.endswith(b"hello\n"):
            more = sock.recv(4096)
            assert more, data
            data += more
    if upgrade:
        assert data == (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                        b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\ngot:hello\n")
    else:
        assert data == b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\ngot:hello\n"


def test_many_concurrent_connections(api):
    path, _, _ = api
    socks = [connect(path) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        assert all(read_response(sock)[2] == b"OK" for sock in socks)
    finally:
        for sock in socks:
            sock.close()
