"""The client's side of a trace: one root span per command (named as docker/cli's function for it:
runRun, runCreate, runStart...), the seed's steps inside it (validateAPIVersion, runContainer,
createContainer, pullImage), and one span per Engine API request (named as the moby client's function:
ContainerCreate, ContainerStart...), each carrying its `traceparent` to the daemon. When the command
ends, its spans are handed to the daemon (POST /spans), which keeps them with the rest of the trace.

`WHALE_TRACE=0` turns it off (the benchmark of tracing's cost compares both)."""

from __future__ import annotations

import os
import re

from corelib.trace.span import Span, Tracer

_FULL_ID = re.compile(r"^[0-9a-f]{64}$")
_BY_PATH = [  # (method, path pattern, moby client function); the first match names the span
    ("POST", r"/containers/create", "ContainerCreate"),
    ("GET", r"/containers/json", "ContainerList"),
    ("GET", r"/containers/[^/]+/json", "ContainerInspect"),
    ("GET", r"/containers/[^/]+/trace", "ContainerTrace"),
    ("DELETE", r"/containers/[^/]+", "ContainerRemove"),
    ("POST", r"/containers/[^/]+/exec", "ContainerExecCreate"),
    ("*", r"/containers/[^/]+/(\w+)", "Container{0}"),
    ("POST", r"/images/create", "ImagePull"),
    ("GET", r"/images/json", "ImageList"),
    ("*", r"/exec/[^/]+/(\w+)", "ContainerExec{0}"),
    ("*", r"/(_ping|events|version|info|spans)", "{0}"),
]


def tracing_enabled() -> bool:
    return os.environ.get("WHALE_TRACE", "1").lower() not in ("0", "false", "off", "no")


def request_name(method: str, path: str) -> str:
    """The moby client's name for a request: `POST /containers/abc/start` -> ContainerStart."""
    for want, pattern, name in _BY_PATH:
        match = re.fullmatch(pattern, path)
        if match and want in ("*", method):
            return name.format(*(g.strip("_").capitalize() for g in match.groups()))
    return f"{method} {path}"


def command_name(path: str) -> str:
    """docker/cli's function for a command: `whale run` -> runRun, `whale container rm` -> runRm."""
    return "run" + path.split()[-1].capitalize()


def container_in(path: str) -> str | None:
    """The full container ID a request path names, if it names one."""
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "containers" and _FULL_ID.match(parts[2]) else None


class CommandTracer(Tracer):
    """A command's tracer: it keeps the spans of its one trace, to hand them to the daemon at the end."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        super().__init__("client", sink=self.spans.append, enabled=tracing_enabled())
