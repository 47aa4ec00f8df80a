"""The shim's generated modules loaded on upb alone must make the very same messages as protobuf's own
machinery: same classes by name, same bytes both ways, enums, maps, nested types."""

from __future__ import annotations

import json
import subprocess
import sys

from corelib.api.containerd.events import task_pb2 as events
from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.api.containerd.types.task import task_pb2
from corelib.shim import leanproto

# In a fresh interpreter (as the shim's server starts: no site), this module's samples are built on
# the lean modules and printed as hex, to compare with the same samples built here the usual way.
SCRIPT = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
from corelib.shim import leanproto
assert leanproto.install()
from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.api.containerd.types.task import task_pb2
from corelib.ttrpc.services import message_class
from tests.unit.test_shim_leanproto import samples_hex
state = shim_pb2.StateResponse(id="c1", pid=42, status=task_pb2.RUNNING)
state.exited_at.seconds = -62135596800
parsed = shim_pb2.StateResponse.FromString(state.SerializeToString())
task = shim_pb2.DESCRIPTOR.services_by_name["Task"]
print(json.dumps({
    "hex": samples_hex(),
    "parsed": [parsed.id, parsed.pid, parsed.status, parsed.exited_at.seconds],
    "status_name": task_pb2.Status.Name(task_pb2.PAUSED),
    "input": message_class(task.methods_by_name["Create"].input_type).__name__,
    "heavy": sorted(m for m in ("google.protobuf.text_format", "google.protobuf.internal.python_message",
                                "datetime", "typing") if m in sys.modules),
}))
"""


def samples_hex() -> list[str]:
    state = shim_pb2.StateResponse(id="c1", pid=42, status=task_pb2.RUNNING, exec_id="e")
    state.exited_at.seconds = -62135596800
    update = shim_pb2.UpdateTaskRequest(id="c1", annotations={"a": "1", "b": "2"})
    update.resources.type_url, update.resources.value = "types.containerd.io/x", b'{"memory":{}}'
    pids = shim_pb2.PidsResponse()
    pids.processes.add(pid=7).info.type_url = "containerd.runc.v1.ProcessDetails"
    exit_ = events.TaskExit(container_id="c1", id="c1", pid=42, exit_status=137)
    return [m.SerializeToString(deterministic=True).hex() for m in (state, update, pids, exit_)]


def test_lean_modules_make_the_same_messages():
    paths = [p for p in sys.path if p]
    result = subprocess.run([sys.executable, "-I", "-S", "-c", SCRIPT, json.dumps(paths)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lean = json.loads(result.stdout)
    assert lean["hex"] == samples_hex()
    assert lean["parsed"] == ["c1", 42, task_pb2.RUNNING, -62135596800]
    assert lean["status_name"] == "PAUSED"
    assert lean["input"] == "CreateTaskRequest"
    assert lean["heavy"] == [], "the point of it: none of protobuf's Python machinery is loaded"


def test_install_refuses_where_the_real_machinery_is_loaded():
    assert "google.protobuf.descriptor_pool" in sys.modules  # this test process imported generated code normally
    assert leanproto.install() is False
