"""Our ttrpc client against real Go ttrpc peers: containerd's events endpoint (<address>.ttrpc), where
our shims forward events, and the real containerd-shim-runc-v2, whose answers our shim must match."""

from __future__ import annotations

import asyncio
import os
import secrets
import selectors
import subprocess
import time
from pathlib import Path

import pytest
from google.protobuf import empty_pb2

from corelib.api.containerd.events import task_pb2 as events
from corelib.api.containerd.runtime.v2.task import shim_pb2
from corelib.api.containerd.services.ttrpc.events.v1 import events_pb2
from corelib.api.containerd.types.task import task_pb2
from corelib.ttrpc import Client, Code, TtrpcError
from tests.interop.shim.conftest import IMAGE, remove_runtime_root
from tests.support.real_containerd import RealContainerd

TASK = "containerd.task.v2.Task"


@pytest.fixture(scope="module")
def real_containerd(busybox_archive):
    namespace = f"wbpeer{os.getpid()}x{secrets.token_hex(3)}"
    with RealContainerd(namespace=namespace) as ctd:
        ctd.ctr("images", "import", str(busybox_archive))
        yield ctd
    remove_runtime_root(namespace)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_containerd_accepts_events_forwarded_by_our_client(real_containerd):
    ctd = real_containerd
    watcher = subprocess.Popen([ctd.ctr_binary, "--address", ctd.address, "events"], stdout=subprocess.PIPE)
    selector = selectors.DefaultSelector()
    selector.register(watcher.stdout, selectors.EVENT_READ)
    envelope = events_pb2.Envelope(namespace=ctd.namespace, topic="/tasks/oom")
    envelope.timestamp.GetCurrentTime()
    envelope.event.type_url = "containerd.events.TaskOOM"
    envelope.event.value = events.TaskOOM(container_id="forwarded-by-whalebone").SerializeToString()

    async def forward_until_seen() -> str:
        """Forward, again and again, until `ctr events` (subscribing meanwhile) prints one."""
        seen = ""
        async with await Client.connect(ctd.address + ".ttrpc") as client:
            deadline = time.monotonic() + 30
            while "forwarded-by-whalebone" not in seen:
                assert time.monotonic() < deadline, f"ctr events never showed the event: {seen!r}"
                answer = await client.call("containerd.services.events.ttrpc.v1.Events", "Forward",
                                           events_pb2.ForwardRequest(envelope=envelope), empty_pb2.Empty,
                                           metadata={"containerd-namespace-ttrpc": ctd.namespace})
                assert answer == empty_pb2.Empty()
                if selector.select(0.2):
                    seen += os.read(watcher.stdout.fileno(), 65536).decode()
        return seen

    try:
        line = run(forward_until_seen())
        assert "/tasks/oom" in line and ctd.namespace in line
    finally:
        watcher.kill()
        watcher.wait()


def test_our_client_speaks_to_the_real_runc_shim(real_containerd):
    ctd = real_containerd
    ctd.ctr("run", "-d", IMAGE, "peer1", "sleep", "1000")
    try:
        bundle = Path(ctd.state, "io.containerd.runtime.v2.task", ctd.namespace, "peer1")
        address = (bundle / "address").read_text()
        md = {"containerd-namespace-ttrpc": ctd.namespace}

        async def scenario():
            async with await Client.connect(address) as client:
                state, connect = await asyncio.gather(
                    client.call(TASK, "State", shim_pb2.StateRequest(id="peer1"), shim_pb2.StateResponse, metadata=md),
                    client.call(TASK, "Connect", shim_pb2.ConnectRequest(id="peer1"), shim_pb2.ConnectResponse))
                errors = []
                for method, request in (("State", shim_pb2.StateRequest(id="nope")),
                                        ("Teleport", shim_pb2.StateRequest(id="peer1"))):
                    with pytest.raises(TtrpcError) as e:
                        await client.call(TASK, method, request, shim_pb2.StateResponse, metadata=md)
                    errors.append((e.value.code, e.value.message))
                with pytest.raises(TtrpcError) as timeout:
                    await client.call(TASK, "Wait", shim_pb2.WaitRequest(id="peer1"), shim_pb2.WaitResponse,
                                      timeout=0.3, metadata=md)
                return state, connect, errors, timeout.value.code

        state, connect, errors, timeout_code = run(scenario())
        assert (state.id, state.status) == ("peer1", task_pb2.RUNNING)
        assert state.exited_at.seconds == -62135596800  # Go's zero time, encoded even while running
        assert connect.task_pid == state.pid and connect.shim_pid > 0
        # the words our shim answers with are the real shim's
        assert errors == [(Code.NOT_FOUND, "container not created: not found"), (Code.UNIMPLEMENTED, "method Teleport")]
        assert timeout_code == Code.DEADLINE_EXCEEDED
    finally:
        ctd.ctr("task", "kill", "-s", "SIGKILL", "peer1", check=False)
        ctd.ctr("task", "rm", "-f", "peer1", check=False)
        ctd.ctr("containers", "rm", "peer1", check=False)
