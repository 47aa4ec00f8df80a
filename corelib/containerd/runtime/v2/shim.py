"""A connected shim (containerd's runtime/v2/shim.go): the `containerd.task.v2.Task` ttrpc service of
one task, its processes, and what happens when the shim goes away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable

from google.protobuf.empty_pb2 import Empty
from google.protobuf.message import Message

from corelib.api.containerd.runtime.v2.task import shim_pb2 as task
from corelib.containerd.runtime.v2.binary import ShimBinary, ShimLog
from corelib.containerd.runtime.v2.bundle import Bundle
from corelib.containerd.tracing import tracer
from corelib.errdefs import NotFound, from_grpc_code
from corelib.trace.context import TRACEPARENT
from corelib.ttrpc import Client, ConnectionClosed, TtrpcError

log = logging.getLogger("whale-containerd.runtime")

SERVICE = "containerd.task.v2.Task"
OUR_SHIM = "containerd-shim-whale-v2"
NAMESPACE_KEY = "containerd-namespace-ttrpc"
LOAD_TIMEOUT = 5.0
SHUTDOWN_TIMEOUT = 3.0
STATE_TIMEOUT = 2.0


class Shim:
    """One shim process and its ttrpc connection. `on_close` runs when the connection ends, for
    whatever reason; `closed` is set once it has finished."""

    def __init__(self, bundle: Bundle, client: Client, binary: ShimBinary, shim_log: ShimLog | None,
                 on_close: Callable[[Shim], Awaitable[None]]):
        self.bundle = bundle
        self.client = client
        self.binary = binary
        self.log = shim_log
        self.on_close = on_close
        self.closed = asyncio.Event()
        self.detached = False  # the daemon is stopping: leave the shim running, clean nothing
        self._watch = asyncio.get_running_loop().create_task(self._watch_connection())

    @property
    def id(self) -> str:
        return self.bundle.id

    @property
    def namespace(self) -> str:
        return self.bundle.namespace

    async def _watch_connection(self) -> None:
        try:
            await self.client.wait_closed()
            if self.log:
                self.log.close()
            if not self.detached:
                await self.on_close(self)
        finally:
            self.closed.set()

    async def call(self, method: str, request: Message, response_type: type, timeout: float | None = None):  # noqa: ANN201
        metadata = {NAMESPACE_KEY: self.namespace}
        with tracer.span(f"Task.{method}", container_id=self.id) as span:
            if span is not None:
                metadata[TRACEPARENT] = span.context.traceparent()
            started = time.time_ns()
            try:
                return await self.client.call(SERVICE, method, request, response_type, timeout=timeout,
                                              metadata=metadata)
            except ConnectionClosed:
                raise
            except TtrpcError as e:
                raise from_grpc_code(e.code, e.message) from None
            finally:
                if span is not None and not self.records_spans:
                    # A shim that records no spans of its own (the real one): timed from here, marked so.
                    tracer.record(method, started, time.time_ns(), layer="shim", measured_by="containerd")

    @property
    def records_spans(self) -> bool:
        return os.path.basename(self.binary.runtime) == OUR_SHIM

    async def close(self) -> None:
        await self.client.close()

    async def detach(self) -> None:
        """Drop the connection but leave the shim and its task running (daemon shutdown)."""
        self.detached = True
        await self.client.close()
        await self.closed.wait()

    # The task service, for the init process (exec_id "") or an exec'd one.

    async def pid(self, timeout: float | None = None) -> int:
        return (await self.call("Connect", task.ConnectRequest(id=self.id), task.ConnectResponse,
                                timeout=timeout)).task_pid

    async def create(self, request: task.CreateTaskRequest) -> int:
        return (await self.call("Create", request, task.CreateTaskResponse)).pid

    async def start(self, exec_id: str = "") -> int:
        return (await self.call("Start", task.StartRequest(id=self.id, exec_id=exec_id), task.StartResponse)).pid

    async def state(self, exec_id: str = "") -> task.StateResponse:
        try:
            return await self.call("State", task.StateRequest(id=self.id, exec_id=exec_id), task.StateResponse,
                                   timeout=STATE_TIMEOUT)
        except ConnectionClosed:
            raise NotFound("not found") from None

    async def kill(self, signal: int, all_processes: bool = False, exec_id: str = "") -> None:
        await self.call("Kill", task.KillRequest(id=self.id, exec_id=exec_id, signal=signal, all=all_processes),
                        Empty)

    async def exec(self, request: task.ExecProcessRequest) -> None:
        await self.call("Exec", request, Empty)

    async def wait(self, exec_id: str = "") -> task.WaitResponse:
        return await self.call("Wait", task.WaitRequest(id=self.id, exec_id=exec_id), task.WaitResponse)

    async def delete_process(self, exec_id: str = "") -> task.DeleteResponse:
        return await self.call("Delete", task.DeleteRequest(id=self.id, exec_id=exec_id), task.DeleteResponse)

    async def pids(self) -> task.PidsResponse:
        return await self.call("Pids", task.PidsRequest(id=self.id), task.PidsResponse)

    async def pause(self) -> None:
        await self.call("Pause", task.PauseRequest(id=self.id), Empty)

    async def resume(self) -> None:
        await self.call("Resume", task.ResumeRequest(id=self.id), Empty)

    async def resize_pty(self, width: int, height: int, exec_id: str = "") -> None:
        await self.call("ResizePty", task.ResizePtyRequest(id=self.id, exec_id=exec_id, width=width, height=height),
                        Empty)

    async def close_io(self, exec_id: str = "") -> None:
        await self.call("CloseIO", task.CloseIORequest(id=self.id, exec_id=exec_id, stdin=True), Empty)

    async def update(self, request: task.UpdateTaskRequest) -> None:
        await self.call("Update", request, Empty)

    async def stats(self) -> task.StatsResponse:
        return await self.call("Stats", task.StatsRequest(id=self.id), task.StatsResponse)

    async def shutdown(self) -> None:
        with contextlib.suppress(ConnectionClosed, TtrpcError, TimeoutError):
            await self.call("Shutdown", task.ShutdownRequest(id=self.id), Empty, timeout=SHUTDOWN_TIMEOUT)
