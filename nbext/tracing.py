"""The client's side of a trace, as the notebook sees it: one root span per `%container` command (named
as docker/cli's function for it: runRun, runCreate, runStart...), and one span per Engine API request
(named as the moby client's function: ContainerCreate, ContainerStart...), each carrying its
`traceparent` to the daemon. A span is posted to the pump when it opens and again when it ends, so a
timeline shows a request still waiting on the daemon (a slow start) while it waits."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from corelib.client.api import APIClient
from corelib.client.tracing import command_name, request_name
from corelib.trace.span import Span, Tracer

__all__ = ["TracedClient", "command_name", "request_name"]


class TracedClient(APIClient):
    """The Engine API client with every request a client-layer span; remembers the containers it
    created (a `%%container run` result names its container)."""

    def __init__(self, host: str, tracer: Tracer, on_open: Callable[[Span], None], version: str | None = None):
        super().__init__(host, version=version, tracer=tracer)
        self.on_open = on_open
        self.created: list[str] = []
        self.root: Span | None = None

    def span(self, name: str, **attributes: Any) -> AbstractContextManager[Span | None]:
        return _OpenSpan(self.tracer, self.on_open, name, attributes)

    def opened(self, span: Span) -> None:
        self.on_open(span)

    def command(self, path: str, line: str) -> AbstractContextManager[Span | None]:
        """The root span of one command; the container it creates is named on it."""
        return _OpenSpan(self.tracer, self.on_open, command_name(path), {"command": line}, root_of=self)

    def create_container(self, config: dict, name: str | None = None, platform: str | None = None) -> dict:
        response = super().create_container(config, name, platform)
        self.created.append(response["Id"])
        if self.root is not None:
            self.root.attributes.setdefault("container_id", response["Id"])
        return response


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
