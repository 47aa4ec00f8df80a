"""APIClient: connections to the daemon, version negotiation, requests and their errors."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable

from corelib.client.api._path import query_escape
from corelib.client.api.container import ContainerApiMixin
from corelib.client.api.exec import ExecApiMixin
from corelib.client.api.image import ImageApiMixin
from corelib.client.api.system import SystemApiMixin
from corelib.client.errors import APIError, from_response
from corelib.client.tracing import container_in, request_name
from corelib.client.transport import dial
from corelib.client.transport.http import HijackedSocket, HTTPConnection, Response, StaleConnection
from corelib.trace.context import TRACEPARENT
from corelib.trace.span import NO_SPAN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from corelib.trace.span import Span, Tracer

API_VERSION = "1.41"  # the newest Engine API version we speak
FALLBACK_API_VERSION = "1.24"  # what a daemon that sends no Api-Version header is taken to speak
USER_AGENT = "Whale-Client/0.1.0 (linux)"

Params = dict[str, object] | None


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".") if p.isdigit())


def negotiated(server_version: str | None) -> str:
    """min(ours, the server's), as the docker client's NegotiateAPIVersionPing."""
    if not server_version:
        return FALLBACK_API_VERSION
    return server_version if version_tuple(server_version) < version_tuple(API_VERSION) else API_VERSION


class Ping:
    def __init__(self, headers: dict[str, str]):
        self.api_version = headers.get("api-version", "")
        self.os_type = headers.get("ostype", "")
        self.experimental = headers.get("docker-experimental", "") == "true"
        self.keeps_spans = headers.get("whalebone-spans", "") == "1"  # whaled: it takes a command's spans


class APIClient(ContainerApiMixin, ImageApiMixin, ExecApiMixin, SystemApiMixin):
    """A client of one daemon. `version` pins the API version (no negotiation); else the first request
    pings the daemon (HEAD /_ping) and uses min(1.41, its Api-Version). Thread-safe: each thread's
    request takes an idle kept-alive connection or dials a new one."""

    def __init__(self, host: str | None = None, version: str | None = None, timeout: float | None = None,
                 tracer: Tracer | None = None):
        self.host = host or dial.DEFAULT_HOST
        self.tracer = tracer  # with one, every request is a span of the current trace, and says so
        dial.parse_host(self.host)  # refuse a malformed address before any request
        self.timeout = timeout
        self._version = version or os.environ.get("WHALE_API_VERSION") or None
        self._ping: Ping | None = None
        self._idle: list[HTTPConnection] = []
        self._lock = threading.Lock()

    # -- version negotiation ---------------------------------------------------------------------

    @property
    def api_version(self) -> str:
        if self._version is None:
            self._version = negotiated(self.ping().api_version)
        return self._version

    def ping(self) -> Ping:
        """HEAD /_ping (GET when HEAD is refused); remembered, so a command pings once."""
        if self._ping is None:
            resp = self._request("HEAD", "/_ping", versioned=False)
            if resp.status >= 400:
                resp.read()
                resp = self._request("GET", "/_ping", versioned=False)
            resp.read()
            if resp.status >= 400 and not resp.headers.get("api-version"):
                raise APIError(resp.status, f"ping failed with status {resp.status}")
            self._ping = Ping(resp.headers)
        return self._ping

    # -- requests --------------------------------------------------------------------------------

    def span(self, name: str, **attributes: object) -> object:
        """`with client.span(name):` a span of the current trace, when this client traces."""
        return self.tracer.span(name, **attributes) if self.tracer is not None else NO_SPAN

    def _request_span(self, method: str, path: str, headers: dict[str, str]) -> Span | None:
        """A request's span, open until its response is read or closed (a wait, an attach, a followed
        log last as long as their stream); its traceparent goes into `headers`."""
        if self.tracer is None or not self.tracer.active():
            return None
        container = container_in(path)
        span = self.tracer.start(request_name(method, path), **({"container_id": container} if container else {}))
        headers[TRACEPARENT] = span.context.traceparent()
        self.opened(span)
        return span

    def opened(self, span: Span) -> None:
        """Called as a request's span opens (the notebook draws it while the daemon works)."""

    def _finisher(self, span: Span | None) -> Callable[[], None] | None:
        if span is None:
            return None
        return lambda: self.tracer.finish(span)  # type: ignore[union-attr]

    def _failed(self, span: Span | None, error: BaseException) -> None:
        if span is not None:
            span.status = "error"
            span.attributes.setdefault("error", str(error) or type(error).__name__)
            self.tracer.finish(span)  # type: ignore[union-attr]

    def url(self, path: str, params: Params = None, versioned: bool = True) -> str:
        target = f"/v{self.api_version}{path}" if versioned else path
        query = encode_query(params)
        return f"{target}?{query}" if query else target

    def _connection(self) -> HTTPConnection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return HTTPConnection(dial.connect(self.host, self.timeout), release=self._keep)

    def _keep(self, conn: HTTPConnection) -> None:
        with self._lock:
            self._idle.append(conn)

    def _request(self, method: str, path: str, params: Params = None, body: bytes | Iterable[bytes] | None = None,
                 headers: dict[str, str] | None = None, versioned: bool = True) -> Response:
        target = self.url(path, params, versioned)
        hdrs = [("User-Agent", USER_AGENT), *(headers or {}).items()]
        if body is None and method in ("POST", "PUT"):
            body = b""
        while True:  # a StaleConnection comes only from a reused one, so this ends on a fresh dial
            conn = self._connection()
            try:
                return conn.request(method, target, hdrs, body)
            except StaleConnection:
                conn.close()
                if not isinstance(body, bytes | None):
                    raise
            except BaseException:
                conn.close()
                raise

    def call(self, method: str, path: str, params: Params = None, json_body: object = None,
             body: bytes | Iterable[bytes] | None = None, headers: dict[str, str] | None = None) -> Response:
        """A request whose error status raises APIError; the response body is left to the caller."""
        hdrs = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
            hdrs["Content-Type"] = "application/json"
        span = self._request_span(method, path, hdrs)
        try:
            resp = self._request(method, path, params, body, hdrs)
            if resp.status >= 400:
                raise from_response(resp.status, resp.headers.get("content-type", ""), resp.read(), self.url(path))
        except BaseException as e:
            self._failed(span, e)
            raise
        resp.on_done = self._finisher(span)
        return resp

    def get_json(self, path: str, params: Params = None) -> object:
        return self.call("GET", path, params).json()

    def post_json(self, path: str, params: Params = None, json_body: object = None) -> object:
        return self.call("POST", path, params, json_body=json_body).json()

    def post(self, path: str, params: Params = None, json_body: object = None) -> None:
        self.call("POST", path, params, json_body=json_body).read()

    def post_spans(self, spans: list[dict]) -> None:
        """POST /spans: a command's spans for the daemon to keep (itself outside any trace), when the
        daemon keeps spans (whaled says so on its ping; the real dockerd is sent nothing more)."""
        if not self.ping().keeps_spans:
            return
        body = json.dumps(spans, separators=(",", ":")).encode()
        self._request("POST", "/spans", body=body, headers={"Content-Type": "application/json"}).read()

    def hijack(self, path: str, params: Params = None, json_body: object = None) -> HijackedSocket:
        """POST with `Upgrade: tcp` on a connection of its own; the raw stream after `101 UPGRADED`."""
        traced: dict[str, str] = {}
        span = self._request_span("POST", path, traced)
        try:
            sock = self._hijack(path, params, json_body, traced)
        except BaseException as e:
            self._failed(span, e)
            raise
        sock.on_done = self._finisher(span)
        return sock

    def _hijack(self, path: str, params: Params, json_body: object, headers: dict[str, str]) -> HijackedSocket:
        hdrs = [("User-Agent", USER_AGENT), *headers.items()]
        body = b""
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
            hdrs.append(("Content-Type", "application/json"))
        conn = HTTPConnection(dial.connect(self.host, self.timeout))
        try:
            result = conn.upgrade("POST", self.url(path, params), hdrs, body)
        except BaseException:
            conn.close()
            raise
        if isinstance(result, Response):
            data = result.read()
            conn.close()
            if result.status >= 400:
                raise from_response(result.status, result.headers.get("content-type", ""), data, self.url(path))
            raise APIError(result.status, f"unable to upgrade to tcp, received {result.status}")
        return result

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def encode_query(params: Params) -> str:
    """Go's url.Values.Encode: keys sorted, QueryEscape'd; a list repeats its key; None is left out."""
    if not params:
        return ""
    pairs = []
    for key in sorted(params):
        value = params[key]
        if isinstance(value, list):
            pairs.extend((key, str(v)) for v in value)
        elif value is not None:
            pairs.append((key, _query_value(value)))
    return "&".join(f"{query_escape(key)}={query_escape(value)}" for key, value in pairs)


def _query_value(value: object) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
