"""APIClient: connections to the daemon, version negotiation, requests and their errors."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from urllib.parse import urlencode

from corelib.client.api.container import ContainerApiMixin
from corelib.client.api.exec import ExecApiMixin
from corelib.client.api.image import ImageApiMixin
from corelib.client.api.system import SystemApiMixin
from corelib.client.errors import APIError, from_response
from corelib.client.transport import dial
from corelib.client.transport.http import HijackedSocket, HTTPConnection, Response, StaleConnection

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


class APIClient(ContainerApiMixin, ImageApiMixin, ExecApiMixin, SystemApiMixin):
    """A client of one daemon. `version` pins the API version (no negotiation); else the first request
    pings the daemon (HEAD /_ping) and uses min(1.41, its Api-Version). Thread-safe: each thread's
    request takes an idle kept-alive connection or dials a new one."""

    def __init__(self, host: str | None = None, version: str | None = None, timeout: float | None = None):
        self.host = host or dial.DEFAULT_HOST
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
        resp = self._request(method, path, params, body, hdrs)
        if resp.status >= 400:
            raise from_response(resp.status, resp.headers.get("content-type", ""), resp.read(), self.url(path))
        return resp

    def get_json(self, path: str, params: Params = None) -> object:
        return self.call("GET", path, params).json()

    def post_json(self, path: str, params: Params = None, json_body: object = None) -> object:
        return self.call("POST", path, params, json_body=json_body).json()

    def post(self, path: str, params: Params = None, json_body: object = None) -> None:
        self.call("POST", path, params, json_body=json_body).read()

    def hijack(self, path: str, params: Params = None, json_body: object = None) -> HijackedSocket:
        """POST with `Upgrade: tcp` on a connection of its own; the raw stream after `101 UPGRADED`."""
        hdrs = [("User-Agent", USER_AGENT)]
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
    return urlencode(pairs)


def _query_value(value: object) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
