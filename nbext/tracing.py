"""The client's side of a trace, as the notebook sees it: one root span per `%container` command (named
as docker/cli's function for it: runRun, runCreate, runStart...), and one span per Engine API request
(named as the moby client's function: ContainerCreate, ContainerStart...), each carrying its
`traceparent` to the daemon. A span is posted to the pump when it opens and again when it ends, so a
timeline shows a request still waiting on the daemon (a slow start) while it waits."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from corelib.client.api import APIClient
from corelib.client.transport.http import HijackedSocket, Response
from corelib.trace.span import Span, Tracer

_FULL_ID = re.compile(r"^[0-9a-f]{64}$")
_BY_PATH = [  # (method, path pattern, moby client function); the first match names the span
    ("POST", r"/containers/create", "ContainerCreate"),
    ("GET", r"/containers/json", "ContainerList"),
    ("GET", r"/containers/[^/]+/json", "ContainerInspect"),
    ("DELETE", r"/containers/[^/]+", "ContainerRemove"),
    ("POST", r"/containers/[^/]+/exec", "ContainerExecCreate"),
    ("*", r"/containers/[^/]+/(\w+)", "Container{0}"),
    ("POST", r"/images/create", "ImagePull"),
    ("GET", r"/images/json", "ImageList"),
    ("*", r"/exec/[^/]+/(\w+)", "ContainerExec{0}"),
    ("*", r"/(_ping|events|version|info|spans)", "{0}"),
]


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


def _container_in(path: str) -> str | None:
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "containers" and _FULL_ID.match(parts[2]) else None


class TracedClient(APIClient):
    """The Engine API client with every request a client-layer span; remembers the containers it
    created (a `%%container run` result names its container)."""

    def __init__(self, host: str, tracer: Tracer, on_open: Callable[[Span], None], version: str | None = None):
        super().__init__(host, version=version)
        self.tracer = tracer
        self.on_open = on_open
        self.created: list[str] = []
        self.root: Span | None = None

    def span(self, name: str, **attributes: Any) -> AbstractContextManager[Span | None]:
        return _OpenSpan(self.tracer, self.on_open, name, attributes)

    def command(self, path: str, line: str) -> AbstractContextManager[Span | None]:
        """The root span of one command; the container it creates is named on it."""
        return _OpenSpan(self.tracer, self.on_open, command_name(path), {"command": line}, root_of=self)

    def call(self, method: str, path: str, params: Any = None, json_body: object = None,
             body: bytes | Iterable[bytes] | None = None, headers: dict[str, str] | None = None) -> Response:
        with self.span(request_name(method, path), **self._attributes(path)) as span:
            if span is not None:
                headers = {"traceparent": span.context.traceparent(), **(headers or {})}
            return super().call(method, path, params, json_body, body, headers)

    def hijack(self, path: str, params: Any = None, json_body: object = None) -> HijackedSocket:
        with self.span(request_name("POST", path), **self._attributes(path)):
            return super().hijack(path, params, json_body)

    def create_container(self, config: dict, name: str | None = None, platform: str | None = None) -> dict:
        response = super().create_container(config, name, platform)
        self.created.append(response["Id"])
        if self.root is not None:
            self.root.attributes.setdefault("container_id", response["Id"])
        return response

    @staticmethod
    def _attributes(path: str) -> dict[str, str]:
        container = _container_in(path)
        return {"container_id": container} if container else {}


class _OpenSpan(AbstractContextManager):
    """`tracer.span`, posting the span when it opens too (the tracer's sink has it when it ends)."""

    def __init__(self, tracer: Tracer, on_open: Callable[[Span], None], name: str, attributes: dict,
                 root_of: TracedClient | None = None):
        self._cm = tracer.span(name, **attributes)
        self._on_open = on_open
        self._root_of = root_of

    def __enter__(self) -> Span | None:
        span = self._cm.__enter__()
        if span is not None:
            self._on_open(span)
            if self._root_of is not None:
                self._root_of.root = span
        return span

    def __exit__(self, *exc: object) -> bool | None:
        if self._root_of is not None:
            self._root_of.root = None
        return self._cm.__exit__(*exc)
