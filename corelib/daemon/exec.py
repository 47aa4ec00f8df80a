"""`docker exec` (moby's daemon/exec.go): an extra process in a running container, made from the
container's own process spec (read back from containerd, as dockerd does), with its own stdio
fifos; its exit comes as a `/tasks/exit` event carrying the exec ID."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import secrets
from dataclasses import dataclass, field

from corelib import errdefs
from corelib.daemon.attach import AttachConfig, _close, _sender, stream_attached
from corelib.daemon.container.container import Container
from corelib.daemon.container.stream import StreamConfig
from corelib.daemon.oci_linux import get_user
from corelib.daemon.start import FifoKeepers, make_fifos, translate_start_error
from corelib.oci import caps as oci_caps

log = logging.getLogger("whaled.exec")

EXEC_GC_SECONDS = 300


@dataclass
class ExecConfig:
    ID: str
    ContainerID: str
    Entrypoint: str
    Arguments: list[str]
    Tty: bool = False
    Privileged: bool = False
    User: str = ""
    WorkingDir: str = ""
    Env: list[str] = field(default_factory=list)
    OpenStdin: bool = False
    OpenStdout: bool = False
    OpenStderr: bool = False
    DetachKeys: str = ""
    Running: bool = False
    ExitCode: int | None = None
    Pid: int = 0
    started: bool = False
    stream: StreamConfig = field(default_factory=StreamConfig)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def command(self) -> str:
        return " ".join([self.Entrypoint, *self.Arguments])

    def to_json(self) -> dict:
        return {"CanRemove": False, "ContainerID": self.ContainerID, "DetachKeys": self.DetachKeys,
                "ExitCode": self.ExitCode, "ID": self.ID, "OpenStderr": self.OpenStderr,
                "OpenStdin": self.OpenStdin, "OpenStdout": self.OpenStdout,
                "ProcessConfig": {"arguments": self.Arguments, "entrypoint": self.Entrypoint,
                                  "privileged": self.Privileged, "tty": self.Tty, "user": self.User},
                "Running": self.Running, "Pid": self.Pid}


class ExecMixin:
    def _running_container(self, name: str) -> Container:
        container = self.GetContainer(name)
        if not container.is_running():
            raise errdefs.Conflict(f"Container {container.ID} is not running")
        if container.is_paused():
            raise errdefs.Conflict(f"Container {container.ID} is paused, unpause the container before exec")
        if container.State.Restarting:
            raise errdefs.Conflict(f"Container {container.ID} is restarting, wait until the container is running")
        return container

    def ContainerExecCreate(self, name: str, config: dict) -> str:
        container = self._running_container(name)
        cmd = config.get("Cmd") or []
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd:
            raise errdefs.InvalidArgument("No exec command specified")
        exec_config = ExecConfig(
            ID=secrets.token_hex(32), ContainerID=container.ID, Entrypoint=cmd[0], Arguments=list(cmd[1:]),
            Tty=bool(config.get("Tty")), Privileged=bool(config.get("Privileged")), User=config.get("User") or "",
            WorkingDir=config.get("WorkingDir") or "", Env=list(config.get("Env") or []),
            OpenStdin=bool(config.get("AttachStdin")), OpenStdout=bool(config.get("AttachStdout")),
            OpenStderr=bool(config.get("AttachStderr")), DetachKeys=config.get("DetachKeys") or "")
        exec_config.stream.new_input_pipe(exec_config.OpenStdin)
        self.execs[exec_config.ID] = exec_config
        container.exec_ids.append(exec_config.ID)
        self.LogContainerEvent(container, f"exec_create: {exec_config.command()}", {"execID": exec_config.ID})
        return exec_config.ID

    def get_exec(self, exec_id: str) -> ExecConfig:
        found = self.execs.get(exec_id)
        if found is None:
            raise errdefs.NotFound(f"No such exec instance: {exec_id}")
        return found

    def check_exec_start(self, exec_id: str) -> tuple[ExecConfig, Container]:
        exec_config = self.get_exec(exec_id)
        if exec_config.Running:
            raise errdefs.Conflict(f"Error: Exec command {exec_id} is already running")
        if exec_config.started:
            raise errdefs.Conflict(f"Error: Exec command {exec_id} has already run")
        return exec_config, self._running_container(exec_config.ContainerID)

    async def ContainerExecStart(self, exec_config: ExecConfig, container: Container) -> None:
        """Start the process; output flows into `exec_config.stream` until it exits."""
        exec_config.started = True
        process = await self._exec_process(container, exec_config)
        stdin, stdout, stderr = make_fifos(self.fifo_dir(container.ID), exec_config.ID, exec_config.OpenStdin,
                                           exec_config.Tty)
        self.start_copiers(exec_config.stream, stdout, stderr, None)
        exec_config.Running = True
        try:
            # The shim opens an exec's fifos at Start (not at Exec, as for a task): keep them open till then.
            with FifoKeepers(stdout, stderr):
                exec_config.Pid = await self.containerd.exec(container.ID, exec_config.ID, process, stdin, stdout,
                                                             stderr, exec_config.Tty)
            self.connect_stdin(exec_config.stream, stdin, container.ID, exec_config.ID)
        except errdefs.WhaleError as e:
            error, code = translate_start_error(exec_config.Entrypoint, e)
            exec_config.ExitCode = code
            await self._exec_finished(container, exec_config)
            raise error from None
        self.LogContainerEvent(container, f"exec_start: {exec_config.command()}", {"execID": exec_config.ID})

    async def _exec_process(self, container: Container, exec_config: ExecConfig) -> dict:
        spec = await self.containerd.get_spec(container.ID)
        process = copy.deepcopy(spec.get("process") or {})
        process["args"] = [exec_config.Entrypoint, *exec_config.Arguments]
        env = list(process.get("env") or [])
        keys = {e.split("=", 1)[0]: i for i, e in enumerate(env)}
        for value in exec_config.Env:
            key = value.split("=", 1)[0]
            if key in keys:
                env[keys[key]] = value
            else:
                env.append(value)
        process["env"] = env
        process["terminal"] = exec_config.Tty
        process.pop("consoleSize", None)
        if exec_config.WorkingDir:
            process["cwd"] = exec_config.WorkingDir
        if exec_config.User:
            process["user"] = get_user(container.rootfs, exec_config.User, container.HostConfig.get("GroupAdd"))
        if exec_config.Privileged:
            caps = oci_caps.available()
            process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
        return process

    async def handle_exec_exit(self, container: Container, exec_id: str, exit_code: int) -> None:
        exec_config = self.execs.get(exec_id)
        if exec_config is None or not exec_config.Running:
            return
        exec_config.ExitCode = exit_code
        await self._exec_finished(container, exec_config)
        self.LogContainerEvent(container, "exec_die", {"execID": exec_id, "exitCode": str(exit_code)})

    async def _exec_finished(self, container: Container, exec_config: ExecConfig) -> None:
        await exec_config.stream.wait_drained(2.0)
        exec_config.Running = False
        exec_config.stream.release_stdin()
        exec_config.stream.end_run()
        exec_config.done.set()
        if exec_config.ID in container.exec_ids:
            container.exec_ids.remove(exec_config.ID)  # inspect's ExecIDs are the running ones
        self.spawn(self._forget_exec(exec_config.ID))
        with contextlib.suppress(errdefs.WhaleError):
            await self.containerd.delete_process(container.ID, exec_config.ID)
        directory = self.fifo_dir(container.ID)
        for suffix in ("stdin", "stdout", "stderr"):
            with contextlib.suppress(FileNotFoundError):
                (directory / f"{exec_config.ID}-{suffix}").unlink()

    async def _forget_exec(self, exec_id: str) -> None:
        """A finished exec can be inspected for a while (dockerd's exec GC runs every 5 minutes)."""
        await asyncio.sleep(EXEC_GC_SECONDS)
        self.execs.pop(exec_id, None)

    async def ExecAttach(self, exec_config: ExecConfig, container: Container, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter, leftover: bytes) -> None:
        """The hijacked `exec start`: stream the exec's stdio; a start failure is written to the stream."""
        send = _sender(writer, exec_config.Tty)
        config = AttachConfig(stdin=exec_config.OpenStdin, stdout=exec_config.OpenStdout,
                              stderr=exec_config.OpenStderr, detach_keys=exec_config.DetachKeys)
        try:
            streaming = asyncio.ensure_future(stream_attached(exec_config.stream, reader, leftover, send, config,
                                                              close_stdin=True))
            await asyncio.sleep(0)  # subscribed before the process can write
            try:
                await self.ContainerExecStart(exec_config, container)
            except errdefs.WhaleError as e:
                streaming.cancel()
                await send(1, (str(e) + "\r\n").encode())
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await streaming
        finally:
            await _close(writer)

    async def ContainerExecResize(self, exec_id: str, height: int, width: int) -> None:
        exec_config = self.get_exec(exec_id)
        if not exec_config.Running:
            raise errdefs.Conflict(f"Exec {exec_id} is not running, so it can not be resized.")
        await self.containerd.resize(exec_config.ContainerID, exec_id, width, height)
