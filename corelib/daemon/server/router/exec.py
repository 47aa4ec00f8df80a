"""Exec routes (moby's api/server/router/container/exec.go)."""

from __future__ import annotations

from corelib.daemon.container.config import BOOL, STRING, Field, Slice, StrSlice, Struct, decode
from corelib.daemon.server.http import Request, ResponseWriter
from corelib.daemon.server.httputils import int_value, read_json
from corelib.daemon.server.server import Route, route

EXEC_CONFIG = Struct("ExecConfig", [
    Field("User", STRING), Field("Privileged", BOOL), Field("Tty", BOOL), Field("AttachStdin", BOOL),
    Field("AttachStderr", BOOL), Field("AttachStdout", BOOL), Field("Detach", BOOL), Field("DetachKeys", STRING),
    Field("Env", Slice(STRING)), Field("WorkingDir", STRING), Field("Cmd", StrSlice())], go="types.ExecConfig")
EXEC_START = Struct("ExecStartCheck", [Field("Detach", BOOL), Field("Tty", BOOL)], go="types.ExecStartCheck")


class ExecRouter:
    def __init__(self, daemon: object):
        self.daemon = daemon

    def routes(self) -> list[Route]:
        return [
            route("POST", "/containers/{name:[^/]+}/exec", self.postContainerExecCreate),
            route("POST", "/exec/{name:[^/]+}/start", self.postContainerExecStart),
            route("POST", "/exec/{name:[^/]+}/resize", self.postContainerExecResize),
            route("GET", "/exec/{name:[^/]+}/json", self.getExecByID),
        ]

    async def postContainerExecCreate(self, r: Request, w: ResponseWriter) -> None:
        config = decode(EXEC_CONFIG, await read_json(r))
        exec_id = self.daemon.ContainerExecCreate(r.vars["name"], config)
        await w.write_json(201, {"Id": exec_id})

    async def postContainerExecStart(self, r: Request, w: ResponseWriter) -> None:
        check = decode(EXEC_START, await read_json(r, allow_empty=True))
        exec_config, container = self.daemon.check_exec_start(r.vars["name"])
        if check["Detach"]:
            await self.daemon.ContainerExecStart(exec_config, container)
            await w.write_status(200)
            return
        upgrade = "upgrade" in r.headers.get("connection", "").lower() or "upgrade" in r.headers
        reader, writer, leftover = await w.hijack(upgrade, extra_headers=w.headers)
        await self.daemon.ExecAttach(exec_config, container, reader, writer, leftover)

    async def postContainerExecResize(self, r: Request, w: ResponseWriter) -> None:
        height, width = int_value(r, "h", 0), int_value(r, "w", 0)
        await self.daemon.ContainerExecResize(r.vars["name"], height, width)
        await w.write_body(200, b"")

    async def getExecByID(self, r: Request, w: ResponseWriter) -> None:
        await w.write_json(200, self.daemon.get_exec(r.vars["name"]).to_json())



