"""The shim binary driven directly, as containerd drives it: `start` in a bundle, ttrpc calls on the
address it prints, events caught by our own Events.Forward endpoint at $TTRPC_ADDRESS, `delete`
at the end. Each test gets a bundle (busybox on an overlay mount the shim makes) and leaves nothing."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from corelib.api.containerd.runtime.v2.runc.options import oci_pb2
from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.api.containerd.services.ttrpc.events.v1 import events_pb2
from corelib.api.containerd.types import mount_pb2
from corelib.ttrpc.blocking import BlockingClient, BlockingServer
from corelib.ttrpc.unix import listen
from tests.support import cleanup
from tests.support.env import require_binary, require_root, venv_bin

TASK = "containerd.task.v2.Task"
SHIM = "containerd-shim-whale-v2"


def runtimes() -> dict[str, str]:
    return {"runc": require_binary("runc"), "whale-runc": venv_bin("whale-runc")}


class EventSink:
    """containerd's side of Events.Forward: keeps every envelope a shim forwards."""

    def __init__(self, path: str):
        self.envelopes: list[events_pb2.Envelope] = []
        self._changed = threading.Condition()
        self._server = BlockingServer(log=lambda message: None)
        self._server.register_service(events_pb2.DESCRIPTOR.services_by_name["Events"], self)
        self._listener = listen(path)
        self._thread = threading.Thread(target=self._server.serve, args=(self._listener,), daemon=True)
        self._thread.start()

    def Forward(self, request, context):  # noqa: N802 - the method's name in the service
        assert context.get("containerd-namespace-ttrpc") == request.envelope.namespace
        with self._changed:
            self.envelopes.append(request.envelope)
            self._changed.notify_all()

    def topics(self) -> list[str]:
        with self._changed:
            return [e.topic for e in self.envelopes]

    def wait_for(self, topic: str, count: int = 1, timeout: float = 30.0) -> list[events_pb2.Envelope]:
        with self._changed:
            assert self._changed.wait_for(lambda: self.topics_locked().count(topic) >= count, timeout), (
                f"no {count}x {topic} in {self.topics_locked()}")
            return [e for e in self.envelopes if e.topic == topic]

    def topics_locked(self) -> list[str]:
        return [e.topic for e in self.envelopes]

    def close(self) -> None:
        self._server.shutdown(grace=0.5)
        self._thread.join(5)
        self._listener.close()


class Shim:
    """One shim for one task in a private bundle; `call` speaks to it, `stop` removes every trace."""

    def __init__(self, work: Path, busybox: Path, runtime: str, namespace: str, id: str):
        self.work, self.namespace, self.id, self.runtime = work, namespace, id, runtime
        self.bundle = work / namespace / id
        self.bundle.mkdir(parents=True)
        self.containerd_address = str(work / "containerd.sock")  # never dialled: names the shim's socket
        self.events = EventSink(str(work / "events.sock"))
        self.busybox = busybox
        self.cgroup_parent = f"wbshim-{work.name}"
        self.client: BlockingClient | None = None
        self.address = ""
        self.write_spec(["sh", "-c", "exit 0"])

    # -- the bundle ---------------------------------------------------------------------------------

    def write_spec(self, args: list[str], terminal: bool = False, pid_namespace: bool = True, **linux) -> None:
        """config.json: runc's default spec running `args`, in a cgroup of this test's; `linux` adds keys."""
        spec = json.loads(base_spec())
        spec["process"].update(terminal=terminal, args=args)
        spec["root"] = {"path": "rootfs", "readonly": False}
        spec["linux"]["cgroupsPath"] = f"/{self.cgroup_parent}/{self.id}"
        if not pid_namespace:
            spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "pid"]
        spec["linux"].update(linux)
        (self.bundle / "config.json").write_text(json.dumps(spec))

    def rootfs_mounts(self) -> list[mount_pb2.Mount]:
        upper, work = self.work / "upper", self.work / "overlay-work"
        upper.mkdir(exist_ok=True)
        work.mkdir(exist_ok=True)
        return [mount_pb2.Mount(type="overlay", source="overlay",
                                options=[f"workdir={work}", f"upperdir={upper}", f"lowerdir={self.busybox}"])]

    def options(self, binary_name: str | None = None, **fields):
        from google.protobuf import any_pb2

        opts = oci_pb2.Options(binary_name=binary_name or self.runtime, root=str(self.work / "runc-root"), **fields)
        return any_pb2.Any(type_url="containerd.runc.v1.Options", value=opts.SerializeToString())

    # -- the binary -----------------------------------------------------------------------------------

    def argv(self, *action: str) -> list[str]:
        return [venv_bin(SHIM), "-namespace", self.namespace, "-address", self.containerd_address,
                "-publish-binary", "/usr/bin/containerd", "-id", self.id, *action]

    def start(self, options: bytes = b"") -> str:
        """`start`, given the runtime options on stdin as containerd gives them."""
        env = {**os.environ, "TTRPC_ADDRESS": str(self.work / "events.sock")}
        result = subprocess.run(self.argv("start"), cwd=self.bundle, env=env, input=options, capture_output=True,
                                timeout=30)
        assert result.returncode == 0, result.stderr
        self.address = (result.stdout + result.stderr).decode()
        self.client = BlockingClient.connect(self.address)
        return self.address

    def call(self, method: str, request, timeout: float = 30.0):
        response_type = shim_pb2.DESCRIPTOR.services_by_name["Task"].methods_by_name[method].output_type
        from corelib.ttrpc.services import message_class

        assert self.client is not None
        return self.client.call(TASK, method, request, message_class(response_type), timeout=timeout,
                                metadata={"containerd-namespace-ttrpc": self.namespace})

    def create(self, **fields) -> shim_pb2.CreateTaskResponse:
        fields.setdefault("options", self.options())
        fields.setdefault("rootfs", self.rootfs_mounts())
        return self.call("Create", shim_pb2.CreateTaskRequest(id=self.id, bundle=str(self.bundle), **fields))

    def delete_action(self) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.argv("-bundle", str(self.bundle), "delete"), cwd=self.bundle,
                              capture_output=True, timeout=30)

    def server_pid(self) -> int:
        return self.call("Connect", shim_pb2.ConnectRequest(id=self.id)).shim_pid

    def stop(self) -> None:
        """Take everything down however the test ended: the task, the shim, mounts, cgroups."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.call("Kill", shim_pb2.KillRequest(id=self.id, signal=9, all=True), timeout=5)
                self.call("Wait", shim_pb2.WaitRequest(id=self.id), timeout=10)
                self.call("Delete", shim_pb2.DeleteRequest(id=self.id), timeout=10)
                self.call("Shutdown", shim_pb2.ShutdownRequest(id=self.id), timeout=5)
            self.client.close()
        with contextlib.suppress(Exception):
            self.delete_action()
        cleanup.kill_and_wait(cleanup.pids_with_marker(self.containerd_address))
        cleanup.kill_and_wait(cleanup.pids_with_marker(str(self.work)))
        kill_cgroup_processes(self.cgroup_parent)
        cleanup.unmount_all_under(str(self.work))
        cleanup.remove_cgroups_named(self.cgroup_parent)
        self.events.close()
        if self.address:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address.removeprefix("unix://"))


@functools.cache
def base_spec() -> str:
    """`runc spec`'s default config.json."""
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        subprocess.run([require_binary("runc"), "spec", "--bundle", d], check=True, capture_output=True)
        return Path(d, "config.json").read_text()


def kill_cgroup_processes(name: str) -> None:
    """Whatever still runs in a test's cgroups (a container whose shim was killed on purpose)."""
    for hierarchy in cleanup.CGROUP_ROOT.iterdir():
        for dirpath, _, files in os.walk(hierarchy):
            if name in dirpath and "cgroup.procs" in files:
                with contextlib.suppress(OSError):
                    pids = [int(p) for p in Path(dirpath, "cgroup.procs").read_text().split()]
                    cleanup.kill_and_wait(pids)


def process_gone(pid: int) -> bool:
    """Exited (a zombie waiting for its parent counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(interval)


@pytest.fixture(params=["runc", "whale-runc"])
def runtime(request) -> str:
    require_root()
    return runtimes()[request.param]


@pytest.fixture
def shim(runtime, busybox_rootfs, request):
    work = Path(tempfile.mkdtemp(prefix="wb-shim-", dir="/tmp"))
    name = "".join(c for c in request.node.name.split("[")[0] if c.isalnum())[-20:]
    shim = Shim(work, busybox_rootfs, runtime, namespace=f"wbshim{os.getpid()}", id=f"{name}-{work.name[-6:]}")
    try:
        yield shim
    finally:
        shim.stop()
        shutil.rmtree(work, ignore_errors=True)
