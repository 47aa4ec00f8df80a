"""The client library and `whale run` against a scripted daemon on a unix socket: the requests docker
makes, in docker's order (the captures in shared/reference/engine-api-captures), version negotiation,
keep-alive, chunked bodies, the 101 hijack, errors."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import h11
import pytest

from corelib.client.api import APIClient
from corelib.client.api.client import encode_query, negotiated
from corelib.client.cli import run as whale
from corelib.client.errors import APIError
from corelib.client.transport.dial import DaemonUnreachable, parse_host
from corelib.client.transport.stdcopy import Demuxer, StreamError, frame

ID = "7978efcbe30c975c6b764346e50d8caecc83205955630c02969e6df85f814857"
UPGRADED = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")


class Request:
    def __init__(self, event: h11.Request, body: bytes, conn_id: int):
        self.method = event.method.decode()
        self.target = event.target.decode()
        self.headers = {k.decode().lower(): v.decode() for k, v in event.headers}
        self.body = body
        self.conn_id = conn_id

    @property
    def path(self) -> str:
        return self.target.split("?")[0]

    def __repr__(self) -> str:
        return f"{self.method} {self.target}"


class FakeDaemon:
    """A unix-socket server answering each request with `handler(request, send)`; the handler returns
    (status, headers, body) or calls `send` itself (raw bytes) and returns None."""

    def __init__(self, handler: Callable, api_version: str | None = "1.41"):
        self.dir = Path(tempfile.mkdtemp(prefix="wb-cfake-", dir="/tmp"))
        self.path = str(self.dir / "d.sock")
        self.host = f"unix://{self.path}"
        self.handler = handler
        self.api_version = api_version
        self.requests: list[Request] = []
        self.connections = 0
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.path)
        self.sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, self.connections), daemon=True).start()

    def _serve(self, conn: socket.socket, conn_id: int) -> None:
        h = h11.Connection(h11.SERVER)
        with contextlib.suppress(OSError, h11.ProtocolError), conn:
            while True:
                event = h.next_event()
                if event is h11.NEED_DATA:
                    h.receive_data(conn.recv(65536))
                    continue
                if isinstance(event, h11.ConnectionClosed):
                    return
                assert isinstance(event, h11.Request)
                body = b""
                while not isinstance(part := h.next_event(), h11.EndOfMessage):
                    if part is h11.NEED_DATA:
                        h.receive_data(conn.recv(65536))
                    else:
                        body += part.data
                request = Request(event, body, conn_id)
                self.requests.append(request)
                answer = self.handler(request, conn.sendall)
                if answer is None:  # the handler took the raw socket
                    return
                status, headers, payload = answer
                base = [("Api-Version", self.api_version)] if self.api_version else []
                hdrs = [*base, ("Ostype", "linux"), *headers]
                if isinstance(payload, list):
                    hdrs.append(("Transfer-Encoding", "chunked"))
                else:
                    hdrs.append(("Content-Length", str(len(payload))))
                conn.sendall(h.send(h11.Response(status_code=status, headers=hdrs)))
                for chunk in payload if isinstance(payload, list) else [payload]:
                    if chunk and request.method != "HEAD":
                        conn.sendall(h.send(h11.Data(data=chunk)))
                conn.sendall(h.send(h11.EndOfMessage()))
                if h.our_state is h11.MUST_CLOSE:
                    return
                h.start_next_cycle()

    def close(self) -> None:
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def json_answer(status: int, obj: object) -> tuple:
    return status, [("Content-Type", "application/json")], json.dumps(obj).encode()


@pytest.fixture
def fake():
    daemons: list[FakeDaemon] = []

    def make(handler: Callable, api_version: str | None = "1.41") -> FakeDaemon:
        daemons.append(FakeDaemon(handler, api_version))
        return daemons[-1]

    yield make
    for d in daemons:
        d.close()


def run_daemon(missing_image: bool = False, exit_code: int = 3):
    """Answers as dockerd does to `docker run` (capture run20/run28): the wait's headers at once,
    its body once the container has run; output over the hijacked attach."""
    started = threading.Event()
    state = {"created": False}

    def handler(req: Request, send: Callable) -> tuple | None:
        if req.path == "/_ping":
            return 200, [], b""
        if req.path.endswith("/containers/create"):
            if missing_image and not state["created"]:
                state["created"] = True
                return json_answer(404, {"message": "No such image: busybox:latest"})
            return json_answer(201, {"Id": ID, "Warnings": []})
        if req.path.endswith("/images/create"):
            return 200, [("Content-Type", "application/json")], [
                b'{"status":"Pulling from library/busybox","id":"latest"}\r\n',
                b'{"status":"Status: Downloaded newer image for busybox:latest"}\r\n']
        if req.path.endswith("/attach"):
            send(UPGRADED)
            started.wait(10)
            send(frame(1, b"out\n") + frame(2, b"err\n"))
            return None
        if req.path.endswith("/wait"):
            send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            started.wait(10)
            body = json.dumps({"Error": None, "StatusCode": exit_code}).encode() + b"\n"
            send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            return None
        if req.path.endswith("/start"):
            started.set()
            return 204, [], b""
        return json_answer(404, {"message": "page not found"})

    return handler


def whale_run(daemon: FakeDaemon, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = whale(["-H", daemon.host, *argv], stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_run_makes_dockers_requests_in_dockers_order(fake):
    daemon = fake(run_daemon())
    status, out, err = whale_run(daemon, "run", "--name", "r20", "busybox:local", "sh", "-c",
                                 "echo out; echo err >&2; exit 3")
    assert (status, out, err) == (3, "out\n", "err\n")
    assert [repr(r) for r in daemon.requests] == [
        "HEAD /_ping", "POST /v1.41/containers/create?name=r20",
        f"POST /v1.41/containers/{ID}/attach?stderr=1&stdout=1&stream=1",
        f"POST /v1.41/containers/{ID}/wait?condition=next-exit", f"POST /v1.41/containers/{ID}/start"]
    attach = daemon.requests[2]
    assert (attach.headers["connection"], attach.headers["upgrade"]) == ("Upgrade", "tcp")
    create = daemon.requests[1]
    assert create.headers["content-type"] == "application/json"
    capture = Path(__file__).parents[2] / "shared" / "reference" / "engine-api-captures" / "run28.log"
    if not capture.exists():
        capture = Path("/work/shared/reference/engine-api-captures/run28.log")
    body_line = next(line for line in capture.read_text().splitlines() if line.startswith('{"Hostname"'))
    expected = json.loads(body_line.replace("\\\\", "\\"))  # socat -v doubles each backslash
    sent = json.loads(create.body)
    assert {k: v for k, v in sent.items() if k != "NetworkingConfig"} == \
        {k: v for k, v in expected.items() if k != "NetworkingConfig"} | {"HostConfig": sent["HostConfig"]}
    expected_host = {k: v for k, v in expected["HostConfig"].items() if k not in ("KernelMemory", "KernelMemoryTCP")}
    assert {k: v for k, v in sent["HostConfig"].items() if k not in ("KernelMemory", "KernelMemoryTCP")} \
        == expected_host
    assert sent["NetworkingConfig"] == {"EndpointsConfig": {}}  # as docker 20.10 sends it for API 1.41


def test_run_rm_waits_for_removal_and_detached_prints_the_id(fake):
    daemon = fake(run_daemon(exit_code=0))
    assert whale_run(daemon, "run", "--rm", "busybox", "true")[0] == 0
    assert f"POST /v1.41/containers/{ID}/wait?condition=removed" in [repr(r) for r in daemon.requests]
    detached = fake(run_daemon())
    assert whale_run(detached, "run", "-d", "busybox", "true") == (0, ID + "\n", "")
    assert [r.path.rsplit("/", 1)[-1] for r in detached.requests] == ["_ping", "create", "wait", "start"]


def test_missing_image_is_pulled_then_created_again(fake):
    daemon = fake(run_daemon(missing_image=True, exit_code=0))
    status, out, err = whale_run(daemon, "run", "busybox")
    assert status == 0
    assert err.startswith("Unable to find image 'busybox:latest' locally\nlatest: Pulling from library/busybox\n"
                          "Status: Downloaded newer image for busybox:latest\n")
    pull = next(r for r in daemon.requests if r.path.endswith("/images/create"))
    assert pull.target == "/v1.41/images/create?fromImage=busybox&tag=latest"
    assert pull.headers["x-registry-auth"] == "e30="
    assert [r.path.rsplit("/", 1)[-1] for r in daemon.requests][:4] == ["_ping", "create", "create", "create"]
    assert [r.path for r in daemon.requests][1:4] == [
        "/v1.41/containers/create", "/v1.41/images/create", "/v1.41/containers/create"]


def test_start_failure_exit_codes(fake):
    for message, code in (('exec: "/nonexistent": stat /nonexistent: no such file or directory: unknown', 127),
                          ("exec: \"/etc\": permission denied: unknown", 126), ("boom", 125)):
        def handler(req, send, message=message):
            if req.path.endswith("/start"):
                return json_answer(400, {"message": message})
            if req.path.endswith("/wait"):
                return json_answer(200, {"Error": None, "StatusCode": 0})
            return run_daemon()(req, send) if not req.path.endswith("/attach") else (
                send(UPGRADED) or None)
        status, out, err = whale_run(fake(handler), "run", "busybox")
        assert (status, out) == (code, "")
        assert err == f"whale: Error response from daemon: {message}\n\nRun 'whale run --help' for more information\n"


@pytest.mark.parametrize("server, ours", [(None, "1.24"), ("1.40", "1.40"), ("1.41", "1.41"), ("1.50", "1.41")])
def test_version_negotiation(fake, server, ours):
    daemon = fake(lambda req, send: json_answer(200, {"Version": "x"}), api_version=server)
    client = APIClient(daemon.host)
    assert client.api_version == ours == negotiated(server)
    client.version()
    assert [repr(r) for r in daemon.requests] == ["HEAD /_ping", f"GET /v{ours}/version"]
    client.close()


def test_keep_alive_and_a_stale_connection_retried(fake):
    daemon = fake(lambda req, send: json_answer(200, []))
    client = APIClient(daemon.host)
    for _ in range(3):
        assert client.containers() == []
    assert daemon.connections == 1
    for conn in client._idle:  # the daemon closed it while idle: the next request dials again
        conn.sock.shutdown(socket.SHUT_RDWR)
    assert client.containers(all=True) == []
    assert daemon.connections == 2
    client.close()


def test_errors_as_the_docker_client_words_them(fake):
    answers = iter([json_answer(404, {"message": "No such container: x"}), (500, [("Content-Type", "text/plain")],
                    b"plain failure\n"), (404, [], b"")])
    daemon = fake(lambda req, send: next(answers))
    client = APIClient(daemon.host, version="1.41")
    with pytest.raises(APIError) as e:
        client.inspect_container("x")
    assert (e.value.status_code, str(e.value)) == (404, "Error response from daemon: No such container: x")
    with pytest.raises(APIError, match="Error response from daemon: plain failure$"):
        client.info()
    with pytest.raises(APIError, match="request returned Not Found for API route and version"):
        client.version()
    client.close()
    with pytest.raises(DaemonUnreachable, match=r"Cannot connect to the Docker daemon at unix:///tmp/wb-nope\.sock\. "
                                                r"Is the docker daemon running\?"):
        APIClient("unix:///tmp/wb-nope.sock").ping()


def test_chunked_request_body_and_streamed_response(fake):
    daemon = fake(lambda req, send: (200, [("Content-Type", "application/json")],
                                     [b'{"stream":"Loaded ima', b'ge: busybox:latest\\n"}\n']))
    client = APIClient(daemon.host, version="1.41")
    resp = client.load_image(iter([b"a" * 70000, b"b" * 10]), quiet=True)
    assert list(resp.iter_json()) == [{"stream": "Loaded image: busybox:latest\n"}]
    load = daemon.requests[0]
    assert (load.target, load.headers["transfer-encoding"], load.body) == (
        "/v1.41/images/load?quiet=1", "chunked", b"a" * 70000 + b"b" * 10)
    client.close()


def test_query_encoding_as_go():
    assert encode_query({"stdout": True, "stderr": True, "stream": True, "stdin": None}) == \
        "stderr=1&stdout=1&stream=1"
    assert encode_query({"fromImage": "localhost:5000/busybox", "tag": "test"}) == \
        "fromImage=localhost%3A5000%2Fbusybox&tag=test"
    assert encode_query({"filters": {"label": ["a=b c"]}, "names": ["x", "y"]}) == \
        "filters=%7B%22label%22%3A%5B%22a%3Db+c%22%5D%7D&names=x&names=y"


def test_hosts():
    assert parse_host("unix:///run/x.sock") == ("unix", "/run/x.sock")
    assert parse_host("tcp://127.0.0.1:2375") == ("tcp", ("127.0.0.1", 2375))
    assert parse_host("tcp://[::1]:1") == ("tcp", ("::1", 1))
    assert parse_host("tcp://example") == ("tcp", ("example", 2375))
    assert parse_host("example:1") == ("tcp", ("example", 1))
    assert parse_host("unix://") == ("unix", "/run/whalebone/whaled.sock")
    for bad in ("ssh2://x", "tcp://x:y"):
        with pytest.raises(ValueError, match="invalid bind address format"):
            parse_host(bad)
    status, _, err = whale_run_host("ssh2://x", "ps")
    assert (status, err) == (1, "Failed to initialize: unable to resolve docker endpoint: invalid bind address "
                                "format: ssh2://x\n")


def whale_run_host(host: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return whale(["-H", host, *argv], stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_stdcopy_demuxer_byte_by_byte():
    stream = frame(1, b"out\n") + frame(2, b"err") + frame(1, b"")
    demux = Demuxer()
    frames = [f for i in range(len(stream)) for f in demux.feed(stream[i:i + 1])]
    assert frames == [(1, b"out\n"), (2, b"err"), (1, b"")]
    assert demux.pending == 0
    with pytest.raises(StreamError, match="error from daemon in stream: oops"):
        Demuxer().feed(frame(3, b"oops"))
    with pytest.raises(StreamError, match="Unrecognized input header: 9"):
        Demuxer().feed(b"\x09\x00\x00\x00\x00\x00\x00\x01x")


def test_validate_api_version_refuses_newer_flags(fake):
    daemon = fake(run_daemon(), api_version="1.24")
    status, out, err = whale_run(daemon, "run", "--init", "busybox")
    assert (status, out) == (125, "")
    assert err == ('whale: "--init" requires API version 1.25, but the Docker daemon API version is 1.24\n\n'
                   "Run 'whale run --help' for more information\n")
    assert [repr(r) for r in daemon.requests] == ["HEAD /_ping"]  # nothing created


def test_an_error_in_the_middle_of_a_pull_stream(fake):
    def handler(req, send):
        if req.path == "/_ping":
            return 200, [], b""
        return 200, [("Content-Type", "application/json")], [
            b'{"status":"Pulling from library/busybox","id":"latest"}\n',
            b'{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}\n']
    status, out, err = whale_run(fake(handler), "pull", "busybox")
    assert (status, out, err) == (1, "Using default tag: latest\nlatest: Pulling from library/busybox\n",
                                  "unexpected EOF\n")
