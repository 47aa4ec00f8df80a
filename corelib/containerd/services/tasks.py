"""containerd.services.tasks.v1.Tasks: each call finds the container, then its task's shim."""

from __future__ import annotations

import time

from google.protobuf.empty_pb2 import Empty

from corelib import errdefs
from corelib.api.containerd.runtime.v2.task import shim_pb2 as task
from corelib.api.containerd.services.tasks.v1 import tasks_pb2 as api
from corelib.api.containerd.services.tasks.v1 import tasks_pb2_grpc
from corelib.api.containerd.types import metrics_pb2
from corelib.api.containerd.types.task import task_pb2 as types
from corelib.containerd import filters, identifiers
from corelib.containerd.metadata import timestamp
from corelib.containerd.metadata.containers import ContainerStore
from corelib.containerd.runtime.v2.manager import CreateOpts, TaskManager
from corelib.containerd.runtime.v2.shim import Shim
from corelib.containerd.services import namespace_required
from corelib.errdefs import InvalidArgument, NotFound, WhaleError


class TasksService(tasks_pb2_grpc.TasksServicer):
    descriptor = api.DESCRIPTOR.services_by_name["Tasks"]
    add_to_server = staticmethod(tasks_pb2_grpc.add_TasksServicer_to_server)

    def __init__(self, containers: ContainerStore, manager: TaskManager):
        self.containers = containers
        self.manager = manager

    def _get(self, ns: str, container_id: str) -> Shim:
        self.containers.get(ns, container_id)
        return self.manager.get(ns, container_id)

    async def _process(self, ns: str, container_id: str, exec_id: str) -> Shim:
        """The task's shim, after checking the exec'd process (if any) exists (containerd's t.Process)."""
        shim = self._get(ns, container_id)
        if exec_id:
            await shim.state(exec_id)
        return shim

    async def Create(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        container = self.containers.get(ns, request.container_id)
        if request.HasField("checkpoint") and request.checkpoint.digest:
            raise errdefs.NotImplemented("restoring from a checkpoint is not supported: not implemented")
        opts = CreateOpts(
            spec=container.spec.value, runtime=request.runtime_path or container.runtime.name,
            rootfs=[m for m in request.rootfs], stdin=request.stdin, stdout=request.stdout, stderr=request.stderr,
            terminal=request.terminal,
            runtime_options=container.runtime.options if container.runtime.HasField("options") else None,
            task_options=request.options if request.HasField("options") else None)
        shim, pid = await self.manager.create(ns, request.container_id, opts)
        return api.CreateTaskResponse(container_id=request.container_id, pid=pid)

    async def Start(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        shim = await self._process(ns, request.container_id, request.exec_id)
        # The shim answers with the pid; containerd asks State for it again, which costs a round trip.
        return api.StartResponse(pid=await shim.start(request.exec_id))

    async def Delete(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        self.containers.get(ns, request.container_id)
        exit_ = await self.manager.delete(ns, request.container_id)
        return api.DeleteResponse(pid=exit_.pid, exit_status=exit_.status, exited_at=exit_.exited_at)

    async def DeleteProcess(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        shim = await self._process(ns, request.container_id, request.exec_id)
        response = await shim.delete_process(request.exec_id)
        return api.DeleteResponse(id=request.exec_id, pid=response.pid, exit_status=response.exit_status,
                                  exited_at=response.exited_at)

    async def Get(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        shim = await self._process(ns, request.container_id, request.exec_id)
        return api.GetResponse(process=await process_state(shim, request.exec_id))

    async def List(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        processes = []
        for shim in self.manager.list(ns):
            try:
                processes.append(await process_state(shim))
            except NotFound:
                continue  # deleted meanwhile
        return api.ListTasksResponse(tasks=processes)

    async def Kill(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        shim = await self._process(ns, request.container_id, request.exec_id)
        await shim.kill(request.signal, request.all and not request.exec_id, request.exec_id)
        return Empty()

    async def Exec(self, request, context):  # noqa: N802
        if not request.exec_id:
            raise InvalidArgument("exec id cannot be empty")
        ns = namespace_required(context)
        shim = self._get(ns, request.container_id)
        try:
            identifiers.validate(request.exec_id)
        except InvalidArgument as e:
            raise InvalidArgument(f"invalid exec id {request.exec_id}: {e}") from None
        await shim.exec(task.ExecProcessRequest(
            id=shim.id, exec_id=request.exec_id, terminal=request.terminal, stdin=request.stdin,
            stdout=request.stdout, stderr=request.stderr, spec=request.spec))
        return Empty()

    async def ResizePty(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        shim = await self._process(ns, request.container_id, request.exec_id)
        await shim.resize_pty(request.width, request.height, request.exec_id)
        return Empty()

    async def CloseIO(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        shim = await self._process(ns, request.container_id, request.exec_id)
        if request.stdin:
            await shim.close_io(request.exec_id)
        return Empty()

    async def Pause(self, request, context):  # noqa: N802
        await self._get(namespace_required(context), request.container_id).pause()
        return Empty()

    async def Resume(self, request, context):  # noqa: N802
        await self._get(namespace_required(context), request.container_id).resume()
        return Empty()

    async def ListPids(self, request, context):  # noqa: N802
        response = await self._get(namespace_required(context), request.container_id).pids()
        processes = []
        for p in response.processes:
            info = types.ProcessInfo(pid=p.pid)
            if p.HasField("info"):
                info.info.CopyFrom(p.info)
            processes.append(info)
        return api.ListPidsResponse(processes=processes)

    async def Checkpoint(self, request, context):  # noqa: N802
        self._get(namespace_required(context), request.container_id)
        raise errdefs.NotImplemented("checkpoint is not supported by whale-containerd: not implemented")

    async def Update(self, request, context):  # noqa: N802
        shim = self._get(namespace_required(context), request.container_id)
        await shim.update(task.UpdateTaskRequest(id=shim.id, resources=request.resources,
                                                 annotations=request.annotations))
        return Empty()

    async def Metrics(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        match = filters.parse_all(list(request.filters))
        metrics = []
        for shim in self.manager.list(ns):
            if not match.match(_adapt_task(shim)):
                continue
            collected = timestamp(time.time_ns())
            try:
                stats = await shim.stats()
            except (NotFound, WhaleError):
                continue
            metrics.append(metrics_pb2.Metric(timestamp=collected, id=shim.id, data=stats.stats))
        return api.MetricsResponse(metrics=metrics)

    async def Wait(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        shim = await self._process(ns, request.container_id, request.exec_id)
        response = await shim.wait(request.exec_id)
        return api.WaitResponse(exit_status=response.exit_status, exited_at=response.exited_at)


async def process_state(shim: Shim, exec_id: str = "") -> types.Process:
    """containerd's getProcessState: the process as the shim reports it (only `id`, not container_id)."""
    state = await shim.state(exec_id)
    return types.Process(id=exec_id or shim.id, pid=state.pid, status=state.status, stdin=state.stdin,
                         stdout=state.stdout, stderr=state.stderr, terminal=state.terminal,
                         exit_status=state.exit_status, exited_at=state.exited_at)


def _adapt_task(shim: Shim) -> filters.Adaptor:
    def field(path: list[str]) -> str | None:
        head = path[0] if path else ""
        return {"id": shim.id, "namespace": shim.namespace}.get(head)
    return field
