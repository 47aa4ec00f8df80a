"""Bad input to the shim: unknown methods and ids, calls in the wrong state, broken frames, a
runtime that fails. Each gets the real shim's code and words; the shim neither crashes nor leaks."""

from __future__ import annotations

import json
import os
import socket

import pytest

from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.api.ttrpc import ttrpc_pb2
from corelib.ttrpc import Code, TtrpcError
from corelib.ttrpc.protocol import MESSAGE_LENGTH_MAX, encode_frame
from tests.integration.shim.conftest import TASK, process_gone, wait_until
from tests.unit.test_ttrpc_server import read_response

RUNTIME_ERROR = 'runc run failed: unable to start container process: exec: "nope": executable file not found in $PATH'
LOG_LINES = [{"level": "warning", "msg": "about to fail"}, {"level": "error", "msg": "an earlier problem"},
             {"level": "error", "msg": RUNTIME_ERROR}]
# a runtime that fails as runc does: error lines in its --log, exit status 1
FAILING_RUNTIME = "\n".join([
    "#!/bin/sh",
    'while [ $# -gt 0 ]; do [ "$1" = --log ] && log="$2"; shift; done',
    """cat >> "$log" <<'EOF'""", *(json.dumps({**line, "time": "2023-01-01T00:00:00Z"}) for line in LOG_LINES), "EOF",
    "exit 1", ""])


def error_of(shim, method: str, request) -> tuple[int, str]:
    with pytest.raises(TtrpcError) as e:
        shim.call(method, request)
    return e.value.code, e.value.message


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_unknown_service_and_method_are_unimplemented(shim):
    shim.start()
    from google.protobuf import empty_pb2

    for service, method, message in (("containerd.task.v2.Task", "Teleport", "method Teleport"),
                                      ("containerd.task.v3.Task", "State", "service containerd.task.v3.Task")):
        with pytest.raises(TtrpcError) as e:
            shim.client.call(service, method, shim_pb2.StateRequest(id=shim.id), empty_pb2.Empty)
        assert (e.value.code, e.value.message) == (Code.UNIMPLEMENTED, message)


def test_calls_for_unknown_ids(shim):
    shim.start()
    not_created = (Code.NOT_FOUND, "container not created: not found")
    for method, request in (("State", shim_pb2.StateRequest(id="nope")), ("Start", shim_pb2.StartRequest(id="nope")),
                            ("Kill", shim_pb2.KillRequest(id="nope", signal=9)),
                            ("Delete", shim_pb2.DeleteRequest(id="nope")), ("Wait", shim_pb2.WaitRequest(id="nope")),
                            ("Pids", shim_pb2.PidsRequest(id="nope")), ("Pause", shim_pb2.PauseRequest(id="nope")),
                            ("Exec", shim_pb2.ExecProcessRequest(id="nope", exec_id="e")),
                            ("Stats", shim_pb2.StatsRequest(id="nope"))):
        assert error_of(shim, method, request) == not_created, method
    assert shim.call("Connect", shim_pb2.ConnectRequest(id="nope")).task_pid == 0

    shim.write_spec(["sleep", "1000"])
    shim.create()
    assert error_of(shim, "State", shim_pb2.StateRequest(id=shim.id, exec_id="ghost")) == (
        Code.NOT_FOUND, "process does not exist ghost: not found")
    assert error_of(shim, "Kill", shim_pb2.KillRequest(id=shim.id, exec_id="ghost", signal=9))[0] == Code.NOT_FOUND


def test_calls_in_the_wrong_state(shim):
    shim.write_spec(["sleep", "1000"])
    shim.start()
    shim.create()
    assert error_of(shim, "Pause", shim_pb2.PauseRequest(id=shim.id)) == (
        Code.UNKNOWN, "cannot pause task in created state")
    shim.call("Start", shim_pb2.StartRequest(id=shim.id))
    assert error_of(shim, "Start", shim_pb2.StartRequest(id=shim.id)) == (
        Code.UNKNOWN, "cannot start a running process")
    assert error_of(shim, "Delete", shim_pb2.DeleteRequest(id=shim.id)) == (
        Code.UNKNOWN, "cannot delete a running process")
    assert error_of(shim, "Resume", shim_pb2.ResumeRequest(id=shim.id)) == (
        Code.UNKNOWN, "cannot resume a running process")
    shim.call("Kill", shim_pb2.KillRequest(id=shim.id, signal=9))
    shim.call("Wait", shim_pb2.WaitRequest(id=shim.id))
    assert error_of(shim, "Kill", shim_pb2.KillRequest(id=shim.id, signal=9)) == (
        Code.NOT_FOUND, "process already finished: not found")
    assert error_of(shim, "Exec", shim_pb2.ExecProcessRequest(id=shim.id, exec_id="late")) == (
        Code.UNKNOWN, "cannot exec in a stopped state")
    assert error_of(shim, "Checkpoint", shim_pb2.CheckpointTaskRequest(id=shim.id))[0] == Code.UNIMPLEMENTED
    shim.call("Delete", shim_pb2.DeleteRequest(id=shim.id))
    assert error_of(shim, "Delete", shim_pb2.DeleteRequest(id=shim.id)) == (
        Code.NOT_FOUND, "container not created: not found")


def raw(shim) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect(shim.address.removeprefix("unix://"))
    return sock


def state_frame(stream_id: int, id: str) -> bytes:
    payload = shim_pb2.ConnectRequest(id=id).SerializeToString()
    request = ttrpc_pb2.Request(service=TASK, method="Connect", payload=payload)
    return encode_frame(stream_id, 1, request.SerializeToString())


def test_broken_frames_get_errors_and_the_shim_keeps_serving(shim):
    shim.start()
    pid = shim.server_pid()
    fds = open_fds(pid)
    length = MESSAGE_LENGTH_MAX + 100
    with raw(shim) as sock:
        sock.sendall(length.to_bytes(4, "big") + (1).to_bytes(4, "big") + b"\x01\x00" + b"\x00" * length)
        stream_id, answer = read_response(sock)
        assert (stream_id, answer.status.code) == (1, Code.RESOURCE_EXHAUSTED)
        sock.sendall(encode_frame(3, 1, b"\x12\xff\xff\xff"))  # not a Request
        stream_id, answer = read_response(sock)
        assert (stream_id, answer.status.code) == (3, Code.INVALID_ARGUMENT)
        sock.sendall(state_frame(5, shim.id))
        stream_id, answer = read_response(sock)
        assert stream_id == 5 and shim_pb2.ConnectResponse.FromString(answer.payload).shim_pid == pid
    for cut in (3, 12, 30):  # clients that hang up inside a frame
        with raw(shim) as sock:
            sock.sendall(state_frame(1, shim.id)[:cut])
    assert shim.server_pid() == pid
    wait_until(lambda: open_fds(pid) == fds)


def write_failing_runtime(shim) -> str:
    path = shim.work / "failing-runc"
    path.write_text(FAILING_RUNTIME)
    path.chmod(0o755)
    return str(path)


def test_a_failing_runtime_is_reported_in_its_own_words_and_leaves_nothing(shim):
    shim.start()
    pid = shim.server_pid()
    fds = open_fds(pid)
    stdout = shim.work / "out"
    os.mkfifo(stdout)
    keep_reader = os.open(stdout, os.O_RDONLY | os.O_NONBLOCK)
    try:
        code, message = error_of(shim, "Create", shim_pb2.CreateTaskRequest(
            id=shim.id, bundle=str(shim.bundle), rootfs=shim.rootfs_mounts(), stdout=str(stdout),
            options=shim.options(binary_name=write_failing_runtime(shim))))
    finally:
        os.close(keep_reader)
    assert code == Code.UNKNOWN
    assert message == f"OCI runtime create failed: {RUNTIME_ERROR}"
    assert not os.path.ismount(shim.bundle / "rootfs")
    assert open_fds(pid) == fds, "the fifo ends and the runtime's pipes are all closed"
    assert error_of(shim, "State", shim_pb2.StateRequest(id=shim.id))[0] == Code.NOT_FOUND
    assert [e.topic for e in shim.events.envelopes] == []


def test_a_runtime_that_is_not_there(shim):
    shim.start()
    code, message = error_of(shim, "Create", shim_pb2.CreateTaskRequest(
        id=shim.id, bundle=str(shim.bundle), rootfs=shim.rootfs_mounts(),
        options=shim.options(binary_name="no-such-runc")))
    assert (code, message) == (Code.UNKNOWN,
                               'OCI runtime create failed: exec: "no-such-runc": executable file not found in $PATH')
    assert not os.path.ismount(shim.bundle / "rootfs")
    # and with no task, Shutdown ends the shim and removes its socket
    pid = shim.server_pid()
    shim.call("Shutdown", shim_pb2.ShutdownRequest(id=shim.id))
    wait_until(lambda: process_gone(pid))
    assert not os.path.exists(shim.address.removeprefix("unix://"))


def test_bad_runtime_options_and_rootfs(shim):
    shim.start()
    from google.protobuf import any_pb2

    code, message = error_of(shim, "Create", shim_pb2.CreateTaskRequest(
        id=shim.id, bundle=str(shim.bundle), options=any_pb2.Any(type_url="example.com/Unknown", value=b"")))
    assert (code, message) == (Code.INVALID_ARGUMENT, "type with url example.com/Unknown: not found")
    bad_mount = shim.rootfs_mounts()
    bad_mount[0].options.append("lowerdir=/no/such/dir")
    code, message = error_of(shim, "Create", shim_pb2.CreateTaskRequest(
        id=shim.id, bundle=str(shim.bundle), rootfs=bad_mount, options=shim.options()))
    assert code == Code.UNKNOWN and message.startswith("failed to mount rootfs component overlay overlay")
    assert not os.path.ismount(shim.bundle / "rootfs")
