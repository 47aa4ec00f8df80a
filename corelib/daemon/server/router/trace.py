"""Trace routes, beside the Engine API (a real dockerd answers them 404):

    GET  /containers/{name}/trace   every span of every trace that touched the container (also after
                                    it was removed: then by its full ID)
    GET  /traces/{id}               one trace's spans
    GET  /spans?filters=...         a stream of spans as they end, one JSON object per line, like /events;
                                    filters {"container": [...], "trace": [...]}
    POST /spans                     a client hands in its own spans (a JSON list)
"""

from __future__ import annotations

import asyncio

from corelib import errdefs
from corelib.daemon.server.http import Request, ResponseWriter, encode_json
from corelib.daemon.server.httputils import parse_filters, read_json
from corelib.daemon.server.server import Route, route
from corelib.trace.span import LAYERS, Span


class TraceRouter:
    def __init__(self, daemon: object):
        self.daemon = daemon

    @property
    def collector(self):  # noqa: ANN201
        return self.daemon.traces

    def routes(self) -> list[Route]:
        return [
            route("GET", "/containers/{name:[^/]+}/trace", self.getContainersTrace),
            route("GET", "/traces/{id:[0-9a-f]{32}}", self.getTrace),
            route("GET", "/spans", self.getSpans, cancel_on_disconnect=True),
            route("POST", "/spans", self.postSpans),
        ]

    async def getContainersTrace(self, r: Request, w: ResponseWriter) -> None:
        name = r.vars["name"]
        try:
            container_id = self.daemon.GetContainer(name).ID
        except errdefs.NotFound:
            container_id = name  # removed already (run --rm): its spans are kept under its full ID
        self.collector.flush()
        spans = self.collector.store.spans_of(container_id)
        if not spans and container_id not in self.daemon.containers:
            raise errdefs.NotFound(f"No such container: {name}")
        await w.write_json(200, [s.to_dict() for s in spans])

    async def getTrace(self, r: Request, w: ResponseWriter) -> None:
        self.collector.flush()
        spans = self.collector.store.trace(r.vars["id"])
        if not spans:
            raise errdefs.NotFound(f"No such trace: {r.vars['id']}")
        await w.write_json(200, [s.to_dict() for s in spans])

    async def getSpans(self, r: Request, w: ResponseWriter) -> None:
        filters = parse_filters(r.form("filters"))
        containers, traces = set(filters.get("container", [])), set(filters.get("trace", []))
        store = self.collector.store
        queue: asyncio.Queue[Span] = asyncio.Queue()
        unsubscribe = store.subscribe(queue.put_nowait)
        try:
            await w.start_stream(200, "application/json")
            while True:
                span = await queue.get()
                if traces and span.trace_id not in traces:
                    continue
                if containers and not _matches_container(store.container_of(span), containers):
                    continue
                await w.write(encode_json(span.to_dict()))
        finally:
            unsubscribe()

    async def postSpans(self, r: Request, w: ResponseWriter) -> None:
        body = await read_json(r)
        if not isinstance(body, list):
            raise errdefs.InvalidArgument("spans must be a JSON list")
        spans = [_span(item) for item in body]
        for span in spans:
            self.collector.add(span)
        await w.write_status(204)


def _matches_container(container_id: str | None, wanted: set[str]) -> bool:
    return bool(container_id) and any(container_id.startswith(w) for w in wanted)


def _span(item: object) -> Span:
    try:
        span = Span.from_dict(item)  # type: ignore[arg-type]
    except TypeError as e:
        raise errdefs.InvalidArgument(f"invalid span: {e}") from None
    ok = (isinstance(span.trace_id, str) and len(span.trace_id) == 32 and isinstance(span.span_id, str)
          and len(span.span_id) == 16 and span.layer in LAYERS and isinstance(span.name, str)
          and isinstance(span.start_ns, int) and isinstance(span.end_ns, int) and isinstance(span.attributes, dict))
    if not ok:
        raise errdefs.InvalidArgument(f"invalid span: {item!r:.200}")
    return span
