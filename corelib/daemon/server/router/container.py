"""Container routes (moby's api/server/router/container): decode the request, call the daemon,
answer in the Engine API's form."""

from __future__ import annotations

from corelib import errdefs
from corelib.daemon.attach import AttachConfig
from corelib.daemon.container.config import decode_create_body
from corelib.daemon.container.state import NOT_RUNNING, format_time_ns
from corelib.daemon.events import parse_timestamp
from corelib.daemon.logs import LogsOptions
from corelib.daemon.server.http import Request, ResponseWriter, encode_json
from corelib.daemon.server.httputils import bool_value, int_value, parse_filters, read_json
from corelib.daemon.server.server import Route, compare_versions, route
from corelib.daemon.stdcopy import frame

STREAM_IDS = {"stdout": 1, "stderr": 2}


class ContainerRouter:
    def __init__(self, daemon: object):
        self.daemon = daemon

    def routes(self) -> list[Route]:
        c = "/containers/{name:[^/]+}"
        return [
            route("GET", "/containers/json", self.getContainersJSON),
            route("GET", c + "/json", self.getContainersByName),
            route("GET", c + "/top", self.getContainersTop),
            route("GET", c + "/logs", self.getContainersLogs, cancel_on_disconnect=True),
            route("POST", "/containers/create", self.postContainersCreate),
            route("POST", "/containers/prune", self.postContainersPrune),
            route("POST", c + "/kill", self.postContainersKill),
            route("POST", c + "/pause", self.postContainersPause),
            route("POST", c + "/unpause", self.postContainersUnpause),
            route("POST", c + "/restart", self.postContainersRestart),
            route("POST", c + "/start", self.postContainersStart),
            route("POST", c + "/stop", self.postContainersStop),
            route("POST", c + "/wait", self.postContainersWait, cancel_on_disconnect=True),
            route("POST", c + "/resize", self.postContainersResize),
            route("POST", c + "/attach", self.postContainersAttach),
            route("POST", c + "/rename", self.postContainerRename),
            route("DELETE", c, self.deleteContainers),
        ]

    async def getContainersJSON(self, r: Request, w: ResponseWriter) -> None:
        filters = parse_filters(r.form("filters"))
        limit = int_value(r, "limit", 0) or 0
        listed = await self.daemon.Containers(bool_value(r, "all"), limit, bool_value(r, "size"), filters)
        await w.write_json(200, listed)

    async def getContainersByName(self, r: Request, w: ResponseWriter) -> None:
        await w.write_json(200, await self.daemon.ContainerInspect(r.vars["name"], bool_value(r, "size")))

    async def getContainersTop(self, r: Request, w: ResponseWriter) -> None:
        await w.write_json(200, await self.daemon.ContainerTop(r.vars["name"], r.form("ps_args")))

    async def postContainersCreate(self, r: Request, w: ResponseWriter) -> None:
        body = await read_json(r)
        config, host_config, networking = decode_create_body(body)
        created = await self.daemon.ContainerCreate(r.form("name"), config, host_config, networking)
        await w.write_json(201, created)

    async def postContainersStart(self, r: Request, w: ResponseWriter) -> None:
        if compare_versions(r.version, "1.24") >= 0 and await _has_body(r):
            raise errdefs.InvalidArgument("starting container with non-empty request body was deprecated since API "
                                          "v1.22 and removed in v1.24")
        await self.daemon.ContainerStart(r.vars["name"])
        await w.write_status(204)

    async def postContainersStop(self, r: Request, w: ResponseWriter) -> None:
        await self.daemon.ContainerStop(r.vars["name"], int_value(r, "t"))
        await w.write_status(204)

    async def postContainersRestart(self, r: Request, w: ResponseWriter) -> None:
        await self.daemon.ContainerRestart(r.vars["name"], int_value(r, "t"))
        await w.write_status(204)

    async def postContainersKill(self, r: Request, w: ResponseWriter) -> None:
        await self.daemon.ContainerKill(r.vars["name"], r.form("signal"))
        await w.write_status(204)

    async def postContainersPause(self, r: Request, w: ResponseWriter) -> None:
        await self.daemon.ContainerPause(r.vars["name"])
        await w.write_status(204)

    async def postContainersUnpause(self, r: Request, w: ResponseWriter) -> None:
        await self.daemon.ContainerUnpause(r.vars["name"])
        await w.write_status(204)

    async def postContainersResize(self, r: Request, w: ResponseWriter) -> None:
        height, width = int_value(r, "h", 0), int_value(r, "w", 0)
        await self.daemon.ContainerResize(r.vars["name"], height, width)
        await w.write_body(200, b"")

    async def postContainerRename(self, r: Request, w: ResponseWriter) -> None:
        await self.daemon.ContainerRename(r.vars["name"], r.form("name"))
        await w.write_status(204)

    async def deleteContainers(self, r: Request, w: ResponseWriter) -> None:
        await self.daemon.ContainerRm(r.vars["name"], force=bool_value(r, "force"), remove_volumes=bool_value(r, "v"),
                                      remove_link=bool_value(r, "link"))
        await w.write_status(204)

    async def postContainersPrune(self, r: Request, w: ResponseWriter) -> None:
        await w.write_json(200, await self.daemon.ContainersPrune(parse_filters(r.form("filters"))))

    async def postContainersWait(self, r: Request, w: ResponseWriter) -> None:
        """The headers go out at once (the CLI starts the container only after it has them); the
        result when the condition is met; nothing if the client went away."""
        container = self.daemon.GetContainer(r.vars["name"])
        condition = r.form("condition") or NOT_RUNNING
        future = self.daemon.ContainerWait(container, condition)
        try:
            await w.start_stream(200, "application/json")
            code, error = await future
        finally:
            future.cancel()
        await w.write(encode_json({"Error": {"Message": error} if error else None, "StatusCode": code}))
        await w.end()

    async def getContainersLogs(self, r: Request, w: ResponseWriter) -> None:
        options = LogsOptions(stdout=bool_value(r, "stdout"), stderr=bool_value(r, "stderr"),
                              follow=bool_value(r, "follow"), since_ns=parse_timestamp(r.form("since")) or None,
                              until_ns=parse_timestamp(r.form("until")) or None, tail=_tail(r.form("tail")))
        container, messages = self.daemon.ContainerLogs(r.vars["name"], options)
        tty = bool(container.Config.get("Tty"))
        timestamps = bool_value(r, "timestamps")
        await w.start_stream(200, None)
        async for message in messages:
            line = message.line
            if timestamps:
                line = _fixed_time(message.time_ns).encode() + b" " + line
            await w.write(line if tty else frame(STREAM_IDS[message.stream], line))
        await w.end()

    async def postContainersAttach(self, r: Request, w: ResponseWriter) -> None:
        config = AttachConfig(stdin=bool_value(r, "stdin"), stdout=bool_value(r, "stdout"),
                              stderr=bool_value(r, "stderr"), logs=bool_value(r, "logs"),
                              stream=bool_value(r, "stream"), detach_keys=r.form("detachKeys"))
        container = self.daemon.check_attach(r.vars["name"], config)
        upgrade = "upgrade" in r.headers.get("connection", "").lower() or "upgrade" in r.headers
        reader, writer, leftover = await w.hijack(upgrade)
        await self.daemon.ContainerAttach(container, reader, writer, leftover, config)


async def _has_body(r: Request) -> bool:
    if r.headers.get("content-length", "0") in ("", "0") and "chunked" not in r.headers.get("transfer-encoding", ""):
        return False
    body = await r.body(1 << 20)
    return body.strip() not in (b"", b"null", b"{}")


def _tail(raw: str) -> int:
    if raw in ("", "all"):
        return -1
    try:
        return int(raw)
    except ValueError:
        return -1


def _fixed_time(ns: int) -> str:
    """jsonmessage.RFC3339NanoFixed: always nine digits of fraction."""
    text = format_time_ns(ns)
    base, _, frac = text.rstrip("Z").partition(".")
    return f"{base}.{(frac + '000000000')[:9]}Z"

