"""The daemon's containerd client (moby's libcontainerd/remote): containers and their tasks over
containerd's gRPC API, in one namespace ("moby"), and the task event stream the daemon learns
exits from.

Errors come back as corelib.errdefs (from the gRPC status), with containerd's own message, which
the daemon passes on: `failed to create shim task: OCI runtime create failed: ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2

from corelib import errdefs
from corelib.api.containerd.events import task_pb2 as task_events
from corelib.api.containerd.runtime.v2.runc.options import oci_pb2
from corelib.api.containerd.services.containers.v1 import containers_pb2, containers_pb2_grpc
from corelib.api.containerd.services.events.v1 import events_pb2, events_pb2_grpc
from corelib.api.containerd.services.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from corelib.api.containerd.services.version.v1 import version_pb2_grpc
from corelib.api.containerd.types.task import task_pb2
from corelib.daemon.tracing import tracer
from corelib.trace.context import TRACEPARENT
from corelib.trace.events import TOPIC as SPANS_TOPIC
from corelib.trace.events import spans_from_any
from corelib.trace.span import Span, current_context

log = logging.getLogger("whaled.libcontainerd")

SPEC_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
PROCESS_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/Process"
RUNC_OPTIONS_TYPE = "containerd.runc.v1.Options"
BUNDLE_LABEL = "com.docker/engine.bundle.path"

EXIT, OOM, START, PAUSED, RESUMED, EXEC_ADDED, EXEC_STARTED = (
    "exit", "oom", "start", "paused", "resumed", "exec-added", "exec-started")
_TOPICS = {
    "/tasks/exit": (EXIT, task_events.TaskExit), "/tasks/oom": (OOM, task_events.TaskOOM),
    "/tasks/start": (START, task_events.TaskStart), "/tasks/paused": (PAUSED, task_events.TaskPaused),
    "/tasks/resumed": (RESUMED, task_events.TaskResumed),
    "/tasks/exec-added": (EXEC_ADDED, task_events.TaskExecAdded),
    "/tasks/exec-started": (EXEC_STARTED, task_events.TaskExecStarted),
}
STATUS_NAMES = {task_pb2.UNKNOWN: "unknown", task_pb2.CREATED: "created", task_pb2.RUNNING: "running",
                task_pb2.STOPPED: "stopped", task_pb2.PAUSED: "paused", task_pb2.PAUSING: "pausing"}


@dataclass
class EventInfo:
    container_id: str
    process_id: str = ""
    pid: int = 0
    exit_code: int = 0
    exited_at_ns: int = 0


EventHandler = Callable[[str, EventInfo], Awaitable[None]]


def _error(e: grpc.aio.AioRpcError) -> errdefs.WhaleError:
    if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED) and "connect" in (e.details() or ""):
        return errdefs.Unavailable(f"containerd is not reachable: {e.details()}")
    return errdefs.from_grpc_code(e.code().value[0], e.details() or "")


def _any(type_url: str, value: bytes) -> any_pb2.Any:
    return any_pb2.Any(type_url=type_url, value=value)


class Client:
    def __init__(self, address: str, namespace: str = "moby"):
        self.address = address
        self.namespace = namespace
        self.metadata = (("containerd-namespace", namespace),)
        self.channel = grpc.aio.insecure_channel(
            f"unix://{address}",
            options=[("grpc.max_receive_message_length", 16 << 20), ("grpc.max_send_message_length", 16 << 20),
                     ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)])
        self.containers = containers_pb2_grpc.ContainersStub(self.channel)
        self.tasks = tasks_pb2_grpc.TasksStub(self.channel)
        self.events = events_pb2_grpc.EventsStub(self.channel)
        self.version_service = version_pb2_grpc.VersionStub(self.channel)
        self._subscriber: asyncio.Task[None] | None = None
        self.on_span: Callable[[Span], None] | None = None  # spans other layers publish on the event bus
        # A containerd that records no spans of its own (the real one): the daemon times its calls instead.
        self.measure_spans = False

    async def _call(self, method: Callable, request: object, timeout: float | None = None, span: str = "") -> object:
        """One gRPC call, inside the current trace (traceparent in the metadata). `span` names the
        containerd span this call stands for, recorded from here when containerd records none."""
        context = current_context()
        metadata = self.metadata if context is None else (*self.metadata, (TRACEPARENT, context.traceparent()))
        started = time.time_ns()
        try:
            return await method(request, metadata=metadata, timeout=timeout)
        except grpc.aio.AioRpcError as e:
            raise _error(e) from None
        finally:
            if span and self.measure_spans and context is not None:
                tracer.record(span, started, time.time_ns(), layer="containerd", measured_by="daemon")

    async def detect_tracing(self) -> None:
        """Whether containerd records its own spans: ours says so in its version, the real one does not."""
        version, _ = await self.version()
        self.measure_spans = "whalebone" not in version

    async def close(self) -> None:
        if self._subscriber is not None:
            self._subscriber.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._subscriber
        await self.channel.close()

    async def wait_ready(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.channel.channel_ready(), timeout)
        except TimeoutError:
            raise errdefs.Unavailable(f"containerd at {self.address} did not answer in {timeout:.0f}s") from None

    async def version(self) -> tuple[str, str]:
        from google.protobuf import empty_pb2

        response = await self._call(self.version_service.Version, empty_pb2.Empty(), timeout=10)
        return response.version, response.revision

    # -- containers ----------------------------------------------------------------------------

    async def create(self, container_id: str, spec: dict, shim: str, runtime_binary: str,
                     labels: dict[str, str] | None = None) -> None:
        """Containers.Create: the container record with its spec and runtime (shim + runc binary)."""
        options = oci_pb2.Options(binary_name=runtime_binary)
        record = containers_pb2.Container(
            id=container_id, labels=labels or {},
            runtime=containers_pb2.Container.Runtime(name=shim,
                                                     options=_any(RUNC_OPTIONS_TYPE, options.SerializeToString())),
            spec=_any(SPEC_TYPE, json.dumps(spec).encode()))
        try:
            await self._call(self.containers.Create, containers_pb2.CreateContainerRequest(container=record),
                             span="Containers.Create")
        except errdefs.AlreadyExists:
            # A leftover of a crash between create and delete: replace it.
            await self.delete(container_id)
            await self._call(self.containers.Create, containers_pb2.CreateContainerRequest(container=record),
                             span="Containers.Create")

    async def get_spec(self, container_id: str) -> dict:
        response = await self._call(self.containers.Get, containers_pb2.GetContainerRequest(id=container_id))
        return json.loads(response.container.spec.value or b"{}")

    async def delete(self, container_id: str) -> None:
        with contextlib.suppress(errdefs.NotFound):
            await self._call(self.containers.Delete, containers_pb2.DeleteContainerRequest(id=container_id))

    # -- tasks ---------------------------------------------------------------------------------

    async def start(self, container_id: str, stdin: str, stdout: str, stderr: str, terminal: bool,
                    on_created: Callable[[], None] | None = None) -> int:
        """Tasks.Create then Tasks.Start, as the seed's `daemon.containerd.Start`; a task that fails to
        start is deleted again. Returns the pid."""
        request = tasks_pb2.CreateTaskRequest(container_id=container_id, stdin=stdin, stdout=stdout,
                                              stderr=stderr, terminal=terminal)
        await self._call(self.tasks.Create, request, span="Tasks.Create")
        if on_created is not None:
            on_created()
        try:
            response = await self._call(self.tasks.Start, tasks_pb2.StartRequest(container_id=container_id),
                                        span="Tasks.Start")
        except errdefs.WhaleError:
            with contextlib.suppress(errdefs.WhaleError):
                await self.delete_task(container_id)
            raise
        return response.pid

    async def signal(self, container_id: str, signal: int, exec_id: str = "", all_processes: bool = False) -> None:
        await self._call(self.tasks.Kill, tasks_pb2.KillRequest(container_id=container_id, exec_id=exec_id,
                                                                signal=signal, all=all_processes))

    async def delete_task(self, container_id: str) -> tuple[int, int]:
        """Tasks.Delete: (exit status, exited at, Unix ns)."""
        response = await self._call(self.tasks.Delete, tasks_pb2.DeleteTaskRequest(container_id=container_id))
        return response.exit_status, response.exited_at.ToNanoseconds() if response.HasField("exited_at") else 0

    async def delete_process(self, container_id: str, exec_id: str) -> None:
        with contextlib.suppress(errdefs.NotFound):
            await self._call(self.tasks.DeleteProcess,
                             tasks_pb2.DeleteProcessRequest(container_id=container_id, exec_id=exec_id))

    async def task_status(self, container_id: str, exec_id: str = "") -> tuple[str, int, int]:
        """(status, pid, exit status) of a task or exec; NotFound when there is none."""
        response = await self._call(self.tasks.Get, tasks_pb2.GetRequest(container_id=container_id, exec_id=exec_id),
                                    timeout=30)
        process = response.process
        return STATUS_NAMES.get(process.status, "unknown"), process.pid, process.exit_status

    async def pause(self, container_id: str) -> None:
        await self._call(self.tasks.Pause, tasks_pb2.PauseTaskRequest(container_id=container_id))

    async def resume(self, container_id: str) -> None:
        await self._call(self.tasks.Resume, tasks_pb2.ResumeTaskRequest(container_id=container_id))

    async def resize(self, container_id: str, exec_id: str, width: int, height: int) -> None:
        await self._call(self.tasks.ResizePty, tasks_pb2.ResizePtyRequest(container_id=container_id, exec_id=exec_id,
                                                                          width=width, height=height))

    async def close_stdin(self, container_id: str, exec_id: str = "") -> None:
        await self._call(self.tasks.CloseIO, tasks_pb2.CloseIORequest(container_id=container_id, exec_id=exec_id,
                                                                      stdin=True))

    async def list_pids(self, container_id: str) -> list[int]:
        response = await self._call(self.tasks.ListPids, tasks_pb2.ListPidsRequest(container_id=container_id))
        return [p.pid for p in response.processes]

    async def exec(self, container_id: str, exec_id: str, process: dict, stdin: str, stdout: str, stderr: str,
                   terminal: bool) -> int:
        """Tasks.Exec then Tasks.Start of the exec: its pid."""
        request = tasks_pb2.ExecProcessRequest(container_id=container_id, exec_id=exec_id, stdin=stdin, stdout=stdout,
                                               stderr=stderr, terminal=terminal,
                                               spec=_any(PROCESS_TYPE, json.dumps(process).encode()))
        await self._call(self.tasks.Exec, request)
        try:
            response = await self._call(self.tasks.Start, tasks_pb2.StartRequest(container_id=container_id,
                                                                                  exec_id=exec_id))
        except errdefs.WhaleError:
            await self.delete_process(container_id, exec_id)
            raise
        return response.pid

    # -- events --------------------------------------------------------------------------------

    def subscribe(self, handler: EventHandler, on_reconnect: Callable[[], Awaitable[None]]) -> None:
        """Follow `/tasks/*` events of our namespace, forever: when the stream breaks (containerd
        restarted), subscribe again and let `on_reconnect` catch up on what was missed."""
        self._subscriber = asyncio.ensure_future(self._follow_events(handler, on_reconnect))

    async def _follow_events(self, handler: EventHandler, on_reconnect: Callable[[], Awaitable[None]]) -> None:
        request = events_pb2.SubscribeRequest(filters=[f"namespace=={self.namespace},topic~=|^/tasks/|",
                                                       f'namespace=={self.namespace},topic=="{SPANS_TOPIC}"'])
        reconnecting = False
        while True:
            try:
                await self.channel.channel_ready()
                stream = self.events.Subscribe(request)
                if reconnecting:
                    log.info("containerd event stream is back")
                    # Exits published while we were away are learned from the tasks themselves.
                    asyncio.get_running_loop().call_later(0.2, lambda: asyncio.ensure_future(on_reconnect()))
                async for envelope in stream:
                    await self._dispatch(envelope, handler)
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as e:
                log.warning("containerd event stream broke: %s", e.details())
            except Exception:
                log.exception("containerd event stream failed")
            reconnecting = True
            await asyncio.sleep(0.2)

    async def _dispatch(self, envelope: events_pb2.Envelope, handler: EventHandler) -> None:
        if envelope.topic == SPANS_TOPIC:
            if self.on_span is not None:
                for span in spans_from_any(envelope.event):
                    self.on_span(span)
            return
        known = _TOPICS.get(envelope.topic)
        if known is None or envelope.namespace != self.namespace:
            return
        kind, message_type = known
        event = message_type()
        event.ParseFromString(envelope.event.value)
        info = EventInfo(container_id=event.container_id)
        if kind == EXIT:
            info.process_id, info.pid, info.exit_code = event.id, event.pid, event.exit_status
            info.exited_at_ns = event.exited_at.ToNanoseconds() if event.HasField("exited_at") else 0
        elif kind == START:
            info.pid = event.pid
        elif kind in (EXEC_ADDED, EXEC_STARTED):
            info.process_id = event.exec_id
        try:
            await handler(kind, info)
        except Exception:
            log.exception("handling %s of %s failed", kind, info.container_id)
