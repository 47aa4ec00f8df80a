"""ttrpc clients and servers over real unix sockets: both server edges (asyncio and threads) must
behave the same to a client, and both clients the same to a server."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from corelib import errdefs
from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.api.ttrpc import ttrpc_pb2
from corelib.ttrpc import Client, Code, ConnectionClosed, Server, TtrpcError
from corelib.ttrpc.blocking import BlockingClient, BlockingServer
from corelib.ttrpc.protocol import MESSAGE_LENGTH_MAX, encode_frame
from tests.support.env import require_root

TASK = shim_pb2.DESCRIPTOR.services_by_name["Task"]
SERVICE = "containerd.task.v2.Task"


class Gate:
    """Something a handler can wait on from either kind of server."""

    def __init__(self) -> None:
        self.event = threading.Event()


class TaskServicer:
    """State echoes, Wait blocks until the gate opens, Kill and Delete fail, the rest is unimplemented."""

    def __init__(self, gate: Gate):
        self.gate = gate
        self.seen_deadline: list[float | None] = []

    def _state(self, request, context):
        self.seen_deadline.append(context.deadline)
        return shim_pb2.StateResponse(id=request.id, bundle=context.get("containerd-namespace-ttrpc") or "",
                                      pid=len(context.metadata.get("k", [])))

    def _kill(self, request, context):
        raise errdefs.NotFound("container not created: not found")

    def _delete(self, request, context):
        raise RuntimeError("boom")

    def _exec(self, request, context):
        return None  # google.protobuf.Empty


class AsyncTaskServicer(TaskServicer):
    async def State(self, request, context):
        return self._state(request, context)

    async def Wait(self, request, context):
        while not self.gate.event.is_set():
            await asyncio.sleep(0.01)
        return shim_pb2.WaitResponse(exit_status=7)

    async def Kill(self, request, context):
        return self._kill(request, context)

    async def Delete(self, request, context):
        return self._delete(request, context)

    async def Exec(self, request, context):
        return self._exec(request, context)


class BlockingTaskServicer(TaskServicer):
    def State(self, request, context):
        return self._state(request, context)

    def Wait(self, request, context):
        if not self.gate.event.wait(context.time_remaining()):
            raise TimeoutError
        return shim_pb2.WaitResponse(exit_status=7)

    def Kill(self, request, context):
        return self._kill(request, context)

    def Delete(self, request, context):
        return self._delete(request, context)

    def Exec(self, request, context):
        return self._exec(request, context)


class RunningServer:
    def __init__(self, path: str, servicer: TaskServicer, stop):
        self.path = path
        self.servicer = servicer
        self.stop = stop


def start_asyncio_server(path: str, gate: Gate) -> RunningServer:
    loop = asyncio.new_event_loop()
    servicer = AsyncTaskServicer(gate)
    server = Server()
    server.register_service(TASK, servicer)
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(path),), daemon=True)
    thread.start()

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(server.shutdown(grace=1), loop).result(10)
        thread.join(10)
        loop.close()

    return RunningServer(path, servicer, stop)


def start_blocking_server(path: str, gate: Gate) -> RunningServer:
    from corelib.ttrpc.unix import listen

    servicer = BlockingTaskServicer(gate)
    server = BlockingServer(log=lambda message: None)
    server.register_service(TASK, servicer)
    listener = listen(path)
    thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown(grace=1)
        thread.join(10)
        listener.close()

    return RunningServer(path, servicer, stop)


@pytest.fixture
def socket_dir():
    path = tempfile.mkdtemp(prefix="wb-ttrpc-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=["asyncio", "blocking"])
def server(request, socket_dir):
    gate = Gate()
    path = os.path.join(socket_dir, "t.sock")
    start = start_asyncio_server if request.param == "asyncio" else start_blocking_server
    running = start(path, gate)
    wait_for_socket(path)
    yield running
    gate.event.set()
    running.stop()


def wait_for_socket(path: str) -> None:
    """Until the server listens (the socket file appears at bind(), a moment before listen())."""
    deadline = time.monotonic() + 10
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
                return
            except OSError:
                assert time.monotonic() < deadline, f"nothing listens on {path}"
        time.sleep(0.01)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_unary_call_with_metadata(server):
    async def scenario():
        async with await Client.connect(f"unix://{server.path}") as client:
            return await client.call(SERVICE, "State", shim_pb2.StateRequest(id="c1"), shim_pb2.StateResponse,
                                     metadata={"containerd-namespace-ttrpc": "ns1", "k": ["a", "b"]})

    resp = run(scenario())
    assert (resp.id, resp.bundle, resp.pid) == ("c1", "ns1", 2)


def test_blocking_client_unary_call(server):
    client = BlockingClient.connect(server.path)
    try:
        resp = client.call(SERVICE, "State", shim_pb2.StateRequest(id="c2"), shim_pb2.StateResponse,
                           metadata={"containerd-namespace-ttrpc": "ns2"})
    finally:
        client.close()
    assert (resp.id, resp.bundle) == ("c2", "ns2")


def test_handler_errors_come_back_with_their_codes(server):
    async def scenario():
        async with await Client.connect(server.path) as client:
            errors = []
            for method in ("Kill", "Delete", "Pause"):
                with pytest.raises(TtrpcError) as e:
                    await client.call(SERVICE, method, shim_pb2.KillRequest(id="x"), shim_pb2.StateResponse)
                errors.append((e.value.code, e.value.message))
            with pytest.raises(TtrpcError) as e:
                await client.call("containerd.task.v3.Task", "State", shim_pb2.StateRequest(), shim_pb2.StateResponse)
            errors.append((e.value.code, e.value.message))
            return errors

    assert run(scenario()) == [
        (Code.NOT_FOUND, "container not created: not found"),
        (Code.UNKNOWN, "boom"),
        (Code.UNIMPLEMENTED, "method Pause"),
        (Code.UNIMPLEMENTED, "service containerd.task.v3.Task"),
    ]


def test_empty_response(server):
    async def scenario():
        async with await Client.connect(server.path) as client:
            return await client.call(SERVICE, "Exec", shim_pb2.ExecProcessRequest(id="x"), shim_pb2.ExecProcessResponse)

    assert run(scenario()) == shim_pb2.ExecProcessResponse()


def test_out_of_order_answers_on_one_connection(server):
    async def scenario():
        async with await Client.connect(server.path) as client:
            wait = asyncio.create_task(client.call(SERVICE, "Wait", shim_pb2.WaitRequest(id="w"),
                                                   shim_pb2.WaitResponse))
            states = await asyncio.gather(*(
                client.call(SERVICE, "State", shim_pb2.StateRequest(id=f"s{i}"), shim_pb2.StateResponse)
                for i in range(20)))
            assert not wait.done()
            server.servicer.gate.event.set()
            return states, await wait

    states, waited = run(scenario())
    assert [s.id for s in states] == [f"s{i}" for i in range(20)]
    assert waited.exit_status == 7


def test_client_timeout_is_deadline_exceeded_and_travels_to_the_server(server):
    async def scenario():
        async with await Client.connect(server.path) as client:
            with pytest.raises(TtrpcError) as e:
                await client.call(SERVICE, "Wait", shim_pb2.WaitRequest(id="w"), shim_pb2.WaitResponse, timeout=0.2)
            assert e.value.code == Code.DEADLINE_EXCEEDED
            await client.call(SERVICE, "State", shim_pb2.StateRequest(id="a"), shim_pb2.StateResponse, timeout=30)
            # the connection is still good after a timed-out call
            return await client.call(SERVICE, "State", shim_pb2.StateRequest(id="b"), shim_pb2.StateResponse)

    assert run(scenario()).id == "b"
    deadlines = server.servicer.seen_deadline
    assert deadlines[0] is not None and deadlines[1] is None


def test_server_side_deadline_answers_deadline_exceeded(server):
    """A request whose timeout_nano passes while the handler still runs gets DEADLINE_EXCEEDED."""
    with raw_connection(server.path) as sock:
        body = ttrpc_pb2.Request(service=SERVICE, method="Wait", payload=b"", timeout_nano=100_000_000)
        sock.sendall(encode_frame(1, 1, body.SerializeToString()))
        stream_id, response = read_response(sock)
    assert stream_id == 1
    assert response.status.code == Code.DEADLINE_EXCEEDED


def raw_connection(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect(path)
    return sock


def read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


def read_response(sock: socket.socket) -> tuple[int, ttrpc_pb2.Response]:
    header = read_exactly(sock, 10)
    length, stream_id = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
    assert header[8] == 2
    return stream_id, ttrpc_pb2.Response.FromString(read_exactly(sock, length))


def state_request(stream_id: int, container_id: str) -> bytes:
    body = ttrpc_pb2.Request(service=SERVICE, method="State",
                             payload=shim_pb2.StateRequest(id=container_id).SerializeToString())
    return encode_frame(stream_id, 1, body.SerializeToString())


def test_oversized_frame_answered_resource_exhausted_and_connection_survives(server):
    length = MESSAGE_LENGTH_MAX + 1
    with raw_connection(server.path) as sock:
        sock.sendall(length.to_bytes(4, "big") + (5).to_bytes(4, "big") + b"\x01\x00")
        sock.sendall(b"\x00" * length)
        sock.sendall(state_request(7, "after"))
        answers = dict(read_response(sock) for _ in range(2))
    assert answers[5].status.code == Code.RESOURCE_EXHAUSTED
    assert answers[5].status.message == f"message length {length} exceed maximum message size of {MESSAGE_LENGTH_MAX}"
    assert shim_pb2.StateResponse.FromString(answers[7].payload).id == "after"


def test_bad_frames_get_invalid_argument(server):
    with raw_connection(server.path) as sock:
        sock.sendall(encode_frame(2, 1, ttrpc_pb2.Request(service=SERVICE, method="State").SerializeToString()))
        sock.sendall(encode_frame(3, 1, b"\xff\xff"))
        sock.sendall(encode_frame(9, 7, b"unknown type"))
        sock.sendall(state_request(11, "ok"))
        answers = dict(read_response(sock) for _ in range(3))
    assert answers[2].status.code == Code.INVALID_ARGUMENT
    assert answers[3].status.code == Code.INVALID_ARGUMENT
    assert shim_pb2.StateResponse.FromString(answers[11].payload).id == "ok"


def test_payload_that_does_not_parse(server):
    with raw_connection(server.path) as sock:
        body = ttrpc_pb2.Request(service=SERVICE, method="State", payload=b"\x0a\xff")
        sock.sendall(encode_frame(1, 1, body.SerializeToString()))
        _, response = read_response(sock)
    assert response.status.code == Code.INTERNAL
    assert response.status.message.startswith("ttrpc: error unmarshalling payload")


def test_truncated_frame_then_hangup_leaves_the_server_serving(server):
    with raw_connection(server.path) as sock:
        sock.sendall(state_request(1, "cut")[:-4])
    for _ in range(3):  # a few clients that vanish mid-frame
        with raw_connection(server.path) as sock:
            sock.sendall(b"\x00\x00\x10")
    with raw_connection(server.path) as sock:
        sock.sendall(state_request(1, "next"))
        _, response = read_response(sock)
    assert shim_pb2.StateResponse.FromString(response.payload).id == "next"


def test_calls_fail_with_connection_closed_when_the_server_goes(socket_dir):
    gate = Gate()
    path = os.path.join(socket_dir, "c.sock")
    running = start_blocking_server(path, gate)
    wait_for_socket(path)

    async def scenario():
        client = await Client.connect(path)
        wait = asyncio.create_task(client.call(SERVICE, "Wait", shim_pb2.WaitRequest(), shim_pb2.WaitResponse))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(running.stop)
        with pytest.raises(ConnectionClosed):
            await wait
        with pytest.raises(ConnectionClosed):
            await client.call(SERVICE, "State", shim_pb2.StateRequest(), shim_pb2.StateResponse)
        await client.close()

    try:
        run(scenario())
    finally:
        gate.event.set()


def test_many_concurrent_calls(server):
    async def scenario():
        async with await Client.connect(server.path) as client:
            return await asyncio.gather(*(
                client.call(SERVICE, "State", shim_pb2.StateRequest(id=str(i)), shim_pb2.StateResponse)
                for i in range(200)))

    assert [r.id for r in run(scenario())] == [str(i) for i in range(200)]


def test_connect_to_nothing_is_an_oserror(socket_dir):
    with pytest.raises(OSError):
        run(Client.connect(os.path.join(socket_dir, "absent.sock")))


PEER_AS_NOBODY = """
import os, socket, sys
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
mode, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if mode == "listen":
    s.bind(path); s.listen(8); print("ready", flush=True)
    clients = []
    while True:
        clients.append(s.accept()[0])
else:
    s.connect(path)
    try:  # the server may hang up before, while or after we send
        s.sendall(sys.stdin.buffer.read())
        print("answered" if s.recv(100) else "closed", flush=True)
    except (BrokenPipeError, ConnectionResetError):
        print("closed", flush=True)
"""


def test_server_refuses_a_peer_of_another_user(server, socket_dir):
    require_root()
    os.chmod(socket_dir, 0o755)
    os.chmod(server.path, 0o777)
    result = subprocess.run([sys.executable, "-c", PEER_AS_NOBODY, "connect", server.path],
                            input=state_request(1, "x"), capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == b"closed"


def test_client_refuses_a_server_of_another_user(socket_dir):
    require_root()
    os.chmod(socket_dir, 0o777)
    path = os.path.join(socket_dir, "nobody.sock")
    peer = subprocess.Popen([sys.executable, "-c", PEER_AS_NOBODY, "listen", path], stdout=subprocess.PIPE)
    try:
        assert peer.stdout.readline() == b"ready\n"
        with pytest.raises(TtrpcError) as e:
            run(Client.connect(path))
        assert e.value.code == Code.PERMISSION_DENIED
        with pytest.raises(TtrpcError):
            BlockingClient.connect(path)
    finally:
        peer.kill()
        peer.wait()
