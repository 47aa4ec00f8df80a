"""Our .proto files against the wire facts of the real containerd (shared/reference/containerd-shim-runc.md)."""

import subprocess
import sys
from pathlib import Path

import pytest

from corelib.api.containerd.events import task_pb2 as events
from corelib.api.containerd.runtime.v2.runc.options import oci_pb2
from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.api.containerd.services.tasks.v1 import tasks_pb2
from corelib.api.ttrpc import ttrpc_pb2

REPO = Path(__file__).resolve().parents[2]


def fields(message) -> dict[str, int]:
    return {f.name: f.number for f in message.DESCRIPTOR.fields}


def test_generated_code_is_fresh():
    result = subprocess.run([sys.executable, str(REPO / "scripts/genproto.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("message", "full_name", "expected"), [
    (ttrpc_pb2.Request, "ttrpc.Request",
     {"service": 1, "method": 2, "payload": 3, "timeout_nano": 4, "metadata": 5}),
    (ttrpc_pb2.Response, "ttrpc.Response", {"status": 1, "payload": 2}),
    (shim_pb2.CreateTaskRequest, "containerd.task.v2.CreateTaskRequest",
     {"id": 1, "bundle": 2, "rootfs": 3, "terminal": 4, "stdin": 5, "stdout": 6, "stderr": 7,
      "checkpoint": 8, "parent_checkpoint": 9, "options": 10}),
    (shim_pb2.StateResponse, "containerd.task.v2.StateResponse",
     {"id": 1, "bundle": 2, "pid": 3, "status": 4, "stdin": 5, "stdout": 6, "stderr": 7, "terminal": 8,
      "exit_status": 9, "exited_at": 10, "exec_id": 11}),
    (shim_pb2.ConnectResponse, "containerd.task.v2.ConnectResponse", {"shim_pid": 1, "task_pid": 2, "version": 3}),
    (events.TaskExit, "containerd.events.TaskExit",
     {"container_id": 1, "id": 2, "pid": 3, "exit_status": 4, "exited_at": 5}),
    (events.TaskDelete, "containerd.events.TaskDelete",
     {"container_id": 1, "pid": 2, "exit_status": 3, "exited_at": 4, "id": 5}),
    (oci_pb2.Options, "containerd.runc.v1.Options",
     {"no_pivot_root": 1, "no_new_keyring": 2, "shim_cgroup": 3, "io_uid": 4, "io_gid": 5, "binary_name": 6,
      "root": 7, "criu_path": 8, "systemd_cgroup": 9, "criu_image_path": 10, "criu_work_path": 11}),
    (tasks_pb2.CreateTaskRequest, "containerd.services.tasks.v1.CreateTaskRequest",
     {"container_id": 1, "rootfs": 3, "stdin": 4, "stdout": 5, "stderr": 6, "terminal": 7, "checkpoint": 8,
      "options": 9, "runtime_path": 10}),
])
def test_names_and_field_numbers_match_the_real_ones(message, full_name, expected):
    assert message.DESCRIPTOR.full_name == full_name
    assert fields(message) == expected


def test_task_status_values():
    from corelib.api.containerd.types.task import task_pb2

    assert dict(task_pb2.Status.items()) == {
        "UNKNOWN": 0, "CREATED": 1, "RUNNING": 2, "STOPPED": 3, "PAUSED": 4, "PAUSING": 5}


def test_wire_bytes_of_a_kill_request():
    # KillRequest{id="c", signal=9, all=true}: tag 0x0a len 1 'c'; tag 0x18 varint 9; tag 0x20 varint 1.
    assert shim_pb2.KillRequest(id="c", signal=9, all=True).SerializeToString() == b"\x0a\x01c\x18\x09\x20\x01"


def test_grpc_service_names():
    from corelib.api.containerd.services.tasks.v1 import tasks_pb2_grpc

    assert tasks_pb2.DESCRIPTOR.services_by_name["Tasks"].full_name == "containerd.services.tasks.v1.Tasks"
    assert hasattr(tasks_pb2_grpc, "TasksServicer")
    assert shim_pb2.DESCRIPTOR.services_by_name["Task"].full_name == "containerd.task.v2.Task"
