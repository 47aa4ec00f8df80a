"""The client's side of a trace: one root span per command (named as docker/cli's function for it:
runRun, runCreate, runStart...), the seed's steps inside it (validateAPIVersion, runContainer,
createContainer, pullImage), and one span per Engine API request (named as the moby client's function:
ContainerCreate, ContainerStart...), each carrying its `traceparent` to the daemon. When the command
ends, its spans are handed to the daemon (POST /spans), which keeps them with the rest of the trace.

`WHALE_TRACE=0` turns it off (the benchmark of tracing's cost compares both)."""

from __future__ import annotations

import os

from corelib.trace.span import Span, Tracer

_HEX = frozenset("0123456789abcdef")
# Named by hand, not by regular expressions: compiling a dozen of them cost each traced command ~1 ms.
_FIXED = {("POST", "containers/create"): "ContainerCreate", ("GET", "containers/json"): "ContainerList",
          ("POST", "images/create"): "ImagePull", ("GET", "images/json"): "ImageList"}
_OF_CONTAINER = {("GET", "json"): "ContainerInspect", ("GET", "trace"): "ContainerTrace",
                 ("POST", "exec"): "ContainerExecCreate"}
_SYSTEM = frozenset({"_ping", "events", "version", "info", "spans"})


def tracing_enabled() -> bool:
    return os.environ.get("WHALE_TRACE", "1").lower() not in ("0", "false", "off", "no")


def request_name(method: str, path: str) -> str:
    """The moby client's name for a request: `POST /containers/abc/start` -> ContainerStart."""
    parts = path.split("/")
    name = _FIXED.get((method, "/".join(parts[1:]))) if parts[0] == "" and len(parts) == 3 else None
    if name is None and parts[0] == "" and len(parts) > 1 and all(parts[1:]):
        name = _name_of(method, parts[1:])
    return name or f"{method} {path}"


def _name_of(method: str, parts: list[str]) -> str | None:
    if parts[0] == "containers" and len(parts) == 2 and method == "DELETE":
        return "ContainerRemove"
    if parts[0] == "containers" and len(parts) == 3:
        return _OF_CONTAINER.get((method, parts[2])) or _word("Container", parts[2])
    if parts[0] == "exec" and len(parts) == 3:
        return _word("ContainerExec", parts[2])
    if len(parts) == 1 and parts[0] in _SYSTEM:
        return parts[0].strip("_").capitalize()
    return None


def _word(prefix: str, action: str) -> str | None:
    """`prefix` + the action, when it is one word (`\\w+`), as the moby client's function names it."""
    return prefix + action.strip("_").capitalize() if action.replace("_", "a").isalnum() else None


def command_name(path: str) -> str:
    """docker/cli's function for a command: `whale run` -> runRun, `whale container rm` -> runRm."""
    return "run" + path.split()[-1].capitalize()


def container_in(path: str) -> str | None:
    """The full container ID a request path names, if it names one."""
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "containers" and len(parts[2]) == 64 and _HEX.issuperset(parts[2]):
        return parts[2]
    return None


class CommandTracer(Tracer):
    """A command's tracer: it keeps the spans of its one trace, to hand them to the daemon at the end."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        super().__init__("client", sink=self.spans.append, enabled=tracing_enabled())
