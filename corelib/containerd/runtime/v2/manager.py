"""The runtime v2 task manager (containerd's runtime/v2/manager.go + shim_load.go): one shim per task,
started from its bundle, found again after a restart, and cleaned up (`delete`, exit events) when it
dies under us."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.any_pb2 import Any as AnyProto

from corelib.api.containerd.events import task_pb2 as events
from corelib.api.containerd.runtime.v2.task import shim_pb2 as task
from corelib.api.containerd.types.mount_pb2 import Mount
from corelib.containerd.events.exchange import Exchange
from corelib.containerd.metadata import timestamp
from corelib.containerd.metadata.containers import ContainerStore
from corelib.containerd.runtime.v2.binary import ShimBinary, ShimLog, resolve_runtime_path
from corelib.containerd.runtime.v2.bundle import Bundle, load_bundle, new_bundle
from corelib.containerd.runtime.v2.shim import LOAD_TIMEOUT, Shim
from corelib.containerd.tracing import tracer
from corelib.errdefs import AlreadyExists, NotFound, WhaleError
from corelib.ttrpc import Client, ConnectionClosed

log = logging.getLogger("whale-containerd.runtime")

PLUGIN_DIR = "io.containerd.runtime.v2.task"


@dataclass
class CreateOpts:
    spec: bytes
    runtime: str
    rootfs: list[Mount] = field(default_factory=list)
    stdin: str = ""
    stdout: str = ""
    stderr: str = ""
    terminal: bool = False
    runtime_options: AnyProto | None = None
    task_options: AnyProto | None = None

    @property
    def options(self) -> AnyProto | None:
        return self.task_options if self.task_options is not None else self.runtime_options


@dataclass
class Exit:
    pid: int
    status: int
    exited_at: object  # google.protobuf.Timestamp


class TaskManager:
    def __init__(self, root: Path, state: Path, address: str, ttrpc_address: str, exchange: Exchange,
                 containers: ContainerStore, debug: bool = False):
        self.root = root / PLUGIN_DIR
        self.state = state / PLUGIN_DIR
        self.address = address
        self.ttrpc_address = ttrpc_address
        self.exchange = exchange
        self.containers = containers
        self.debug = debug
        self.tasks: dict[tuple[str, str], Shim] = {}
        self.cleanups: dict[tuple[str, str], asyncio.Task[None]] = {}  # shims being cleaned up after a delete
        for d in (self.root, self.state):
            d.mkdir(parents=True, exist_ok=True, mode=0o711)

    def get(self, ns: str, task_id: str) -> Shim:
        shim = self.tasks.get((ns, task_id))
        if shim is None:
            raise NotFound(f"task {task_id} not found")
        return shim

    def list(self, ns: str) -> list[Shim]:
        return [shim for (n, _), shim in sorted(self.tasks.items()) if n == ns]

    def _binary(self, bundle: Bundle, runtime_path: str) -> ShimBinary:
        return ShimBinary(bundle, runtime_path, self.address, self.ttrpc_address, self.debug)

    async def create(self, ns: str, task_id: str, opts: CreateOpts) -> tuple[Shim, int]:
        """Start a shim for the task and create it; return the shim and the task's pid."""
        if (ns, task_id) in self.tasks:
            raise AlreadyExists(f"task {task_id}: already exists")
        if (ns, task_id) in self.cleanups:
            await asyncio.shield(self.cleanups[(ns, task_id)])  # the previous shim's bundle must be gone
        try:
            runtime_path = resolve_runtime_path(opts.runtime)
        except WhaleError as e:
            raise type(e)(f"failed to start shim: failed to resolve runtime path: {e}") from None
        bundle = new_bundle(self.root, self.state, ns, task_id, opts.spec)
        try:
            with tracer.span("shim.start", container_id=task_id, runtime=opts.runtime):
                shim = await self._start_shim(bundle, runtime_path, opts.options)
        except BaseException as e:
            bundle.delete()
            if isinstance(e, WhaleError):
                raise type(e)(f"failed to start shim: {e}") from None
            raise
        self.tasks[(ns, task_id)] = shim
        request = task.CreateTaskRequest(id=task_id, bundle=str(bundle.path), rootfs=opts.rootfs, stdin=opts.stdin,
                                         stdout=opts.stdout, stderr=opts.stderr, terminal=opts.terminal)
        if opts.options is not None:
            request.options.CopyFrom(opts.options)
        try:
            pid = await shim.create(request)
        except BaseException as e:
            self.tasks.pop((ns, task_id), None)
            await self._teardown(shim)
            if isinstance(e, WhaleError):
                raise type(e)(f"failed to create shim task: {e}") from None
            raise
        return shim, pid

    async def _start_shim(self, bundle: Bundle, runtime_path: str, options: AnyProto | None) -> Shim:
        binary = self._binary(bundle, runtime_path)
        shim_log = ShimLog(bundle)
        try:
            address = await binary.start(options.SerializeToString() if options is not None else b"")
            client = await Client.connect(address)
        except BaseException:
            shim_log.close()
            raise
        return Shim(bundle, client, binary, shim_log, self._shim_closed)

    async def delete(self, ns: str, task_id: str) -> Exit:
        """Delete the init process, shut the shim down, and clean up after it."""
        shim = self.get(ns, task_id)
        shim_error: Exception | None = None
        response = None
        try:
            response = await shim.delete_process()
        except (ConnectionClosed, NotFound) as e:
            shim_error = e
        if shim_error is None:
            self.tasks.pop((ns, task_id), None)
            self._finish_cleanup(shim)
            return Exit(response.pid, response.exit_status, response.exited_at)
        await self._teardown(shim)
        self.tasks.pop((ns, task_id), None)
        if isinstance(shim_error, NotFound):
            raise NotFound(f"failed to delete task: {shim_error}")
        raise WhaleError(f"failed to delete task: {shim_error}")

    def _finish_cleanup(self, shim: Shim) -> None:
        """The task is deleted: shutting its shim down, the shim's `delete` and the bundle's removal
        need not hold up the caller (a new task of the same id waits for them)."""
        key = (shim.namespace, shim.id)

        async def finish() -> None:
            try:
                await self._teardown(shim)
            finally:
                if self.cleanups.get(key) is cleanup:
                    del self.cleanups[key]
        cleanup = asyncio.get_running_loop().create_task(finish())
        self.cleanups[key] = cleanup

    async def _teardown(self, shim: Shim) -> None:
        await shim.shutdown()
        await shim.close()
        await shim.closed.wait()  # the close handler ran the shim's `delete`
        with contextlib.suppress(OSError):
            await asyncio.to_thread(shim.bundle.delete)
        shim.binary.prepare_spare()

    async def _shim_closed(self, shim: Shim) -> None:
        """containerd's cleanupAfterDeadShim: `SHIM delete`, and if the task was still ours, its exit."""
        log.info("shim disconnected id=%s", shim.id)
        try:
            response = await shim.binary.delete()
            exit_ = Exit(response.pid, response.exit_status, response.exited_at)
        except Exception as e:  # noqa: BLE001 - a dead shim must not stop the cleanup
            log.warning("failed to clean up after shim disconnected id=%s namespace=%s: %s", shim.id,
                        shim.namespace, e)
            exit_ = Exit(0, 255, timestamp(time.time_ns()))
        if self.tasks.get((shim.namespace, shim.id)) is not shim:
            return
        log.warning("cleaning up after shim disconnected id=%s namespace=%s", shim.id, shim.namespace)
        self.publish_exit(shim.namespace, shim.id, exit_)
        self.tasks.pop((shim.namespace, shim.id), None)

    def publish_exit(self, ns: str, task_id: str, exit_: Exit) -> None:
        self.exchange.publish(ns, "/tasks/exit", events.TaskExit(
            container_id=task_id, id=task_id, pid=exit_.pid, exit_status=exit_.status, exited_at=exit_.exited_at))
        self.exchange.publish(ns, "/tasks/delete", events.TaskDelete(
            container_id=task_id, pid=exit_.pid, exit_status=exit_.status, exited_at=exit_.exited_at))

    # After a restart

    async def load_existing(self) -> None:
        for ns_dir in sorted(self.state.iterdir()):
            if not ns_dir.is_dir() or ns_dir.name.startswith("."):
                continue
            for task_dir in sorted(ns_dir.iterdir()):
                if task_dir.is_dir() and not task_dir.name.startswith("."):
                    await self._load(ns_dir.name, task_dir.name)
            self._cleanup_work_dirs(ns_dir.name)

    async def _load(self, ns: str, task_id: str) -> None:
        bundle = load_bundle(self.state, ns, task_id)
        if not any(bundle.path.iterdir()):
            bundle.delete()
            return
        try:
            runtime = (bundle.path / "shim-binary-path").read_text()
        except FileNotFoundError:
            try:
                runtime = self.containers.get(ns, task_id).runtime.name
            except NotFound:
                log.error("loading container %s: not found", task_id)
                bundle.delete()
                return
        try:
            binary = self._binary(bundle, resolve_runtime_path(runtime))
        except WhaleError as e:
            log.error("failed to resolve runtime path: %s", e)
            bundle.delete()
            return
        try:
            shim = await self._connect(bundle, binary)
        except Exception as e:  # noqa: BLE001 - any failure means the shim is gone
            log.warning("shim of task %s/%s is gone (%s): cleaning up", ns, task_id, e)
            await self._cleanup_dead(bundle, binary)
            return
        self.tasks[(ns, task_id)] = shim
        log.info("reconnected to the shim of task %s/%s", ns, task_id)

    async def _connect(self, bundle: Bundle, binary: ShimBinary) -> Shim:
        address = bundle.address_file.read_text().strip()
        client = await asyncio.wait_for(Client.connect(address), LOAD_TIMEOUT)
        shim = Shim(bundle, client, binary, ShimLog(bundle), self._shim_closed)
        try:
            await shim.pid(timeout=LOAD_TIMEOUT)
        except BaseException:
            shim.detached = True
            await shim.close()
            raise
        return shim

    async def _cleanup_dead(self, bundle: Bundle, binary: ShimBinary) -> None:
        try:
            response = await binary.delete()
            exit_ = Exit(response.pid, response.exit_status, response.exited_at)
        except Exception as e:  # noqa: BLE001
            log.warning("failed to clean up dead shim %s: %s", bundle.id, e)
            with contextlib.suppress(OSError):
                bundle.delete()
            exit_ = Exit(0, 255, timestamp(time.time_ns()))
        self.publish_exit(bundle.namespace, bundle.id, exit_)

    def _cleanup_work_dirs(self, ns: str) -> None:
        work = self.root / ns
        if not work.is_dir():
            return
        for d in work.iterdir():
            if (ns, d.name) not in self.tasks:
                shutil.rmtree(d, ignore_errors=True)

    async def detach_all(self) -> None:
        """Daemon shutdown: finish the cleanups under way, then drop every shim connection, leaving
        shims and containers running."""
        await asyncio.gather(*self.cleanups.values(), return_exceptions=True)
        await asyncio.gather(*(shim.detach() for shim in self.tasks.values()), return_exceptions=True)
