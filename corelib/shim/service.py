"""The shim v2 task service, `containerd.task.v2.Task`, for the one container this shim serves
(containerd's runtime/v2/runc/task/service.go and container.go)."""

from __future__ import annotations

import os
import threading
from _queue import SimpleQueue  # queue.py would bring heapq, for this one class of _queue's

from corelib import errdefs
from corelib.api.containerd.events import task_pb2 as events
from corelib.api.containerd.runtime.v2.runc.options import oci_pb2
from corelib.api.containerd.runtime.v2.task import shim_pb2 as api
from corelib.api.containerd.types.task import task_pb2 as types
from corelib.shim import log, mount
from corelib.shim.events import Publisher
from corelib.shim.process import Exec, Init, Process
from corelib.shim.reaper import Reaper
from corelib.shim.runc import RUNC_ROOT, Runc
from corelib.shim.stdio import ProcessIO
from corelib.shim.timestamp import set_timestamp
from corelib.trace.span import NO_SPAN

OPTIONS_TYPE = "containerd.runc.v1.Options"
STATUS = {"created": types.CREATED, "running": types.RUNNING, "stopped": types.STOPPED,
          "paused": types.PAUSED, "pausing": types.PAUSING}
UNCLAIMED_EXITS_KEPT = 128

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Container:
    def __init__(self, id: str, bundle: str, init: Init):
        self.id = id
        self.bundle = bundle
        self.init = init
        self.execs: dict[str, Exec] = {}
        self.lock = threading.Lock()
        # Without a pid namespace of its own, the container's other processes outlive init unless killed.
        self.kill_all_on_exit = not has_own_pid_namespace(init.pid)
        self.oom_watch: object | None = None
        self.trace: object | None = None  # the TraceContext of a traced Start: its exit joins that trace

    def process(self, exec_id: str) -> Process:
        if not exec_id:
            return self.init
        with self.lock:
            process = self.execs.get(exec_id)
        if process is None:
            raise errdefs.NotFound(f"process does not exist {exec_id}: not found")
        return process

    def all(self) -> list[Process]:
        with self.lock:
            return [self.init, *self.execs.values()]


class TaskService:
    def __init__(self, namespace: str, publisher: Publisher, reaper: Reaper, shutdown: Callable[[], None]):
        self.namespace = namespace
        self.publisher = publisher
        self.reaper = reaper
        self.shutdown = shutdown
        self.containers: dict[str, Container] = {}
        self._lock = threading.Lock()
        self._event_lock = threading.Lock()  # a task's exit is never published before its start
        self._exits: SimpleQueue = SimpleQueue()
        self._unclaimed: dict[int, int] = {}  # exits of pids no process had yet (an exec that died at once)
        self._tracer = None  # a ShimTracer, made when the first traced call arrives
        reaper.on_exit = lambda pid, status: self._exits.put((pid, status))
        threading.Thread(target=self._process_exits, name="exits", daemon=True).start()

    # -- lookups ---------------------------------------------------------------------------------

    def _container(self, id: str) -> Container:
        with self._lock:
            container = self.containers.get(id)
        if container is None:
            raise errdefs.NotFound("container not created: not found")
        return container

    def _send(self, topic: str, event: object, on_forwarded: Callable[[int, int], None] | None = None) -> None:
        self.publisher.publish(topic, event, on_forwarded)

    def _trace(self, context: object, name: str, **attributes: object) -> object:
        """A span for this call when containerd traces it (traceparent in the metadata), else nothing."""
        if context is None or not context.get("traceparent"):  # type: ignore[attr-defined]
            return NO_SPAN
        if self._tracer is None:
            from corelib.shim.tracing import ShimTracer

            self._tracer = ShimTracer(self.publisher)
        return self._tracer.handle(context, name, **attributes)

    # -- the Task service --------------------------------------------------------------------------

    def Create(self, request: api.CreateTaskRequest, context: object) -> api.CreateTaskResponse:
        with self._trace(context, "Create", container_id=request.id):
            return self._create(request)

    def _create(self, request: api.CreateTaskRequest) -> api.CreateTaskResponse:
        with self._lock:
            if request.id in self.containers:
                raise errdefs.AlreadyExists(f"container {request.id}: already exists")
            container = new_container(request, self.namespace, self.reaper, self._tracer)
            self.containers[request.id] = container
            self._claim(container.init)
        # watched from creation on, so a process that runs out of memory at once is still seen
        container.oom_watch = watch_oom(container.init.pid, lambda: self._send(
            "/tasks/oom", events.TaskOOM(container_id=request.id)))
        self._send("/tasks/create", events.TaskCreate(
            container_id=request.id, bundle=request.bundle, rootfs=request.rootfs, checkpoint=request.checkpoint,
            io=events.TaskIO(stdin=request.stdin, stdout=request.stdout, stderr=request.stderr,
                             terminal=request.terminal),
            pid=container.init.pid))
        return api.CreateTaskResponse(pid=container.init.pid)

    def Start(self, request: api.StartRequest, context: object) -> api.StartResponse:
        with self._trace(context, "Start", container_id=request.id, exec_id=request.exec_id):
            return self._start(request)

    def _start(self, request: api.StartRequest) -> api.StartResponse:
        container = self._container(request.id)
        if self._tracer is not None and not request.exec_id:
            from corelib.shim.tracing import current

            container.trace = current()
        with self._event_lock:
            process = container.process(request.exec_id)
            process.start()
            if request.exec_id:
                self._send("/tasks/exec-started", events.TaskExecStarted(
                    container_id=container.id, exec_id=request.exec_id, pid=process.pid))
            else:
                self._send("/tasks/start", events.TaskStart(container_id=container.id, pid=process.pid))
        with self._lock:
            self._claim(process)
        return api.StartResponse(pid=process.pid)

    def Delete(self, request: api.DeleteRequest, context: object) -> api.DeleteResponse:
        container = self._container(request.id)
        process = container.process(request.exec_id)
        process.delete()
        if request.exec_id:
            with container.lock:
                container.execs.pop(request.exec_id, None)
        else:
            with self._lock:
                self.containers.pop(request.id, None)
            if container.oom_watch is not None:
                container.oom_watch.close()  # type: ignore[attr-defined]
            event = events.TaskDelete(container_id=container.id, pid=process.pid, exit_status=process.exit_status)
            set_timestamp(event.exited_at, process.exited_at)
            self._send("/tasks/delete", event)
        response = api.DeleteResponse(pid=process.pid, exit_status=process.exit_status)
        set_timestamp(response.exited_at, process.exited_at)
        return response

    def Exec(self, request: api.ExecProcessRequest, context: object) -> None:
        container = self._container(request.id)
        with container.lock:
            if request.exec_id in container.execs:
                raise errdefs.AlreadyExists(f"id {request.exec_id}: already exists")
            with container.init.lock:
                container.init.refuse("exec")
            import json

            spec = json.loads(request.spec.value or b"{}")
            spec["terminal"] = request.terminal
            io = ProcessIO(request.stdin, request.stdout, request.stderr, request.terminal)
            container.execs[request.exec_id] = Exec(request.exec_id, container.init, io, json.dumps(spec).encode())
        self._send("/tasks/exec-added", events.TaskExecAdded(container_id=container.id, exec_id=request.exec_id))

    def State(self, request: api.StateRequest, context: object) -> api.StateResponse:
        container = self._container(request.id)
        process = container.process(request.exec_id)
        io = process.io
        response = api.StateResponse(
            id=process.id, bundle=container.bundle, pid=process.pid, status=STATUS.get(process.status(), 0),
            stdin=io.stdin, stdout=io.stdout, stderr=io.stderr, terminal=io.terminal,
            exit_status=process.exit_status)
        set_timestamp(response.exited_at, process.exited_at)
        return response

    def Wait(self, request: api.WaitRequest, context: object) -> api.WaitResponse:
        process = self._container(request.id).process(request.exec_id)
        if not process.wait(context.time_remaining()):  # type: ignore[attr-defined]
            raise errdefs.Deadline("context deadline exceeded")
        response = api.WaitResponse(exit_status=process.exit_status)
        set_timestamp(response.exited_at, process.exited_at)
        return response

    def Kill(self, request: api.KillRequest, context: object) -> None:
        self._container(request.id).process(request.exec_id).kill(request.signal, request.all)

    def Pids(self, request: api.PidsRequest, context: object) -> api.PidsResponse:
        container = self._container(request.id)
        execs = {p.pid: p.id for p in container.all() if p is not container.init}
        response = api.PidsResponse()
        for pid in container.init.runtime.ps(container.id):
            info = response.processes.add(pid=pid)
            if pid in execs:
                info.info.type_url = "containerd.runc.v1.ProcessDetails"
                info.info.value = oci_pb2.ProcessDetails(exec_id=execs[pid]).SerializeToString()
        return response

    def Pause(self, request: api.PauseRequest, context: object) -> None:
        container = self._container(request.id)
        container.init.pause()
        self._send("/tasks/paused", events.TaskPaused(container_id=container.id))

    def Resume(self, request: api.ResumeRequest, context: object) -> None:
        container = self._container(request.id)
        container.init.resume()
        self._send("/tasks/resumed", events.TaskResumed(container_id=container.id))

    def Update(self, request: api.UpdateTaskRequest, context: object) -> None:
        self._container(request.id).init.update(request.resources.value)

    def CloseIO(self, request: api.CloseIORequest, context: object) -> None:
        self._container(request.id).process(request.exec_id).io.close_stdin()

    def ResizePty(self, request: api.ResizePtyRequest, context: object) -> None:
        self._container(request.id).process(request.exec_id).resize(request.width, request.height)

    def Stats(self, request: api.StatsRequest, context: object) -> api.StatsResponse:
        from corelib.shim import cgroups

        container = self._container(request.id)
        type_url, value = cgroups.stats(container.init.pid)
        response = api.StatsResponse()
        response.stats.type_url, response.stats.value = type_url, value
        return response

    def Checkpoint(self, request: api.CheckpointTaskRequest, context: object) -> None:
        self._container(request.id)
        raise errdefs.NotImplemented("checkpoint is not supported by containerd-shim-whale-v2")

    def Connect(self, request: api.ConnectRequest, context: object) -> api.ConnectResponse:
        with self._lock:
            container = self.containers.get(request.id)
        return api.ConnectResponse(shim_pid=os.getpid(), task_pid=container.init.pid if container else 0)

    def Shutdown(self, request: api.ShutdownRequest, context: object) -> None:
        with self._lock:
            if self.containers:
                return
        if self._tracer is not None:
            self._tracer.flush_later()
        self.shutdown()

    # -- exits -------------------------------------------------------------------------------------

    def _process_exits(self) -> None:
        while True:
            pid, status = self._exits.get()
            try:
                self._process_exit(pid, status)
            except Exception as e:  # noqa: BLE001 - one bad exit must not stop the others being seen
                log.error(f"processing exit of pid {pid}: {e!r}")

    def _process_exit(self, pid: int, status: int) -> None:
        with self._lock:
            found = self._find(pid)
            if found is None:
                self._remember(pid, status)
                return
        self._exited(*found, status)

    def _find(self, pid: int) -> tuple[Container, Process] | None:
        for container in self.containers.values():
            for process in container.all():
                if process.pid == pid and process.exited_at is None:
                    return container, process
        return None

    def _remember(self, pid: int, status: int) -> None:
        self._unclaimed[pid] = status
        while len(self._unclaimed) > UNCLAIMED_EXITS_KEPT:
            del self._unclaimed[next(iter(self._unclaimed))]

    def _claim(self, process: Process) -> None:
        """A process whose pid was just learned may have exited already (held under self._lock)."""
        status = self._unclaimed.pop(process.pid, None)
        if status is not None:
            self._exits.put((process.pid, status))

    def _exited(self, container: Container, process: Process, status: int) -> None:
        if process is container.init and container.kill_all_on_exit:
            try:
                container.init.kill_all()
            except errdefs.WhaleError as e:
                log.error(f"failed to kill init's children: {e}")
        process.set_exited(status)
        if process is container.init:
            container.init.runtime.prepare()  # for the `delete` that follows an exit (if none waits)
        event = events.TaskExit(container_id=container.id, id=process.id, pid=process.pid, exit_status=status)
        set_timestamp(event.exited_at, process.exited_at)
        on_forwarded = None
        if process is container.init and container.trace is not None and self._tracer is not None:
            tracer, trace, exited_at = self._tracer, container.trace, process.exited_at
            on_forwarded = lambda start, end: tracer.record_exit(  # noqa: E731
                trace, exited_at, container.id, process.pid, start, end)
        with self._event_lock:
            self._send("/tasks/exit", event, on_forwarded)


def new_container(request: api.CreateTaskRequest, namespace: str, reaper: Reaper, tracer: object = None) -> Container:
    """Runtime options, the rootfs mounted, `runc create` (containerd's NewContainer)."""
    options = runtime_options(request.options)
    rootfs = ""
    if request.rootfs:
        rootfs = os.path.join(request.bundle, "rootfs")
        os.makedirs(rootfs, mode=0o711, exist_ok=True)
    write_options(request.bundle, options)
    try:
        for m in request.rootfs:
            try:
                mount.mount(reaper, m.type, m.source, rootfs, list(m.options))
            except OSError as e:
                raise errdefs.WhaleError(f"failed to mount rootfs component {m.type} {m.source}: {e}") from None
        runtime = Runc(reaper, options.binary_name, os.path.join(options.root or RUNC_ROOT, namespace),
                       os.path.join(request.bundle, "log.json"), options.systemd_cgroup, tracer)
        io = ProcessIO(request.stdin, request.stdout, request.stderr, request.terminal)
        init = Init(request.id, request.bundle, runtime, io, rootfs, options.no_pivot_root, options.no_new_keyring)
        init.create()
    except BaseException:
        mount.unmount_all(reaper, rootfs)
        raise
    return Container(request.id, request.bundle, init)


def runtime_options(options: object) -> oci_pb2.Options:
    type_url = options.type_url  # type: ignore[attr-defined]
    if not type_url:
        return oci_pb2.Options()
    if type_url.rsplit("/", 1)[-1] != OPTIONS_TYPE:
        raise errdefs.InvalidArgument(f"type with url {type_url}: not found")
    return oci_pb2.Options.FromString(options.value)  # type: ignore[attr-defined]


def write_options(bundle: str, options: oci_pb2.Options) -> None:
    """options.json and runtime, which `shim delete` reads once the shim is gone."""
    fields = {"binary_name": options.binary_name, "root": options.root}
    with open(os.path.join(bundle, "options.json"), "w") as f:
        f.write("{" + ",".join(f'"{k}":{json_string(v)}' for k, v in fields.items() if v) + "}")
    with open(os.path.join(bundle, "runtime"), "w") as f:
        f.write(options.binary_name)


def json_string(value: str) -> str:
    """A JSON string literal (the json module would bring re and enum into every shim for this)."""
    return '"' + "".join(c if c >= " " and c not in '"\\' else f"\\u{ord(c):04x}" for c in value) + '"'


def has_own_pid_namespace(pid: int) -> bool:
    """Whether `pid` is pid 1 of a pid namespace below ours: it is, just created, when its spec asks for
    a new pid namespace. (containerd's shouldKillAllOnExit reads that from config.json; the kernel
    says it without a JSON parser in every shim, on the exit's path.)"""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    pids = line.split()[1:]
                    return len(pids) > 1 and pids[-1] == "1"
    except OSError as e:
        log.error(f"shouldKillAllOnExit: failed to read the pid namespace of {pid}: {e}")
    return False


def watch_oom(pid: int, notify: Callable[[], None]) -> object | None:
    from corelib.shim import cgroups

    try:
        return cgroups.watch_oom(pid, notify)
    except (OSError, ValueError) as e:  # a process already gone, a cgroup without memory.oom_control
        log.warn(f"add cg to OOM monitor: {e}")
        return None

