"""A registry v2 client for pulls (containerd's remotes/docker, distribution's client): manifests
and blobs over HTTP, Bearer token and Basic auth from the registry's challenge, manifest lists and
OCI indexes resolved to one platform, digests verified, and the registry's errors in Docker's words.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import ipaddress
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from corelib import errdefs
from corelib.images.archive import go_arch
from corelib.images.reference import DEFAULT_DOMAIN, Reference

MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
MEDIA_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

INDEX_TYPES = (MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX)
MANIFEST_TYPES = (MEDIA_DOCKER_MANIFEST, MEDIA_OCI_MANIFEST)
LAYER_TYPES = (MEDIA_DOCKER_LAYER, MEDIA_DOCKER_LAYER_GZIP, MEDIA_DOCKER_FOREIGN_LAYER_GZIP, MEDIA_OCI_LAYER,
               MEDIA_OCI_LAYER_GZIP)
ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES, "*/*"))
DOCKER_HUB_HOST = "registry-1.docker.io"
MAX_MANIFEST_SIZE = 4 << 20

# distribution's errcode descriptors: Docker prints "<descriptor message, lowercased>: <server message>"
ERROR_CODE_MESSAGES = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "DENIED": "requested access to the resource is denied",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "TOOMANYREQUESTS": "too many requests",
    "UNAUTHORIZED": "authentication required",
    "UNSUPPORTED": "the operation is unsupported",
}


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict | None = None

    @classmethod
    def from_json(cls, d: dict) -> Descriptor:
        return cls(d.get("mediaType", ""), d["digest"], int(d.get("size", 0)), d.get("platform"))

    def to_json(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def host_platform() -> dict:
    arch = go_arch()
    return {"os": "linux", "architecture": arch, "variant": "v8" if arch == "arm64" else ""}


def select_platform(index: dict, want: dict | None = None, available: set[str] | None = None) -> Descriptor:
    """The manifest of an index for `want` (the host's platform by default), as containerd's
    platforms.Only matcher: os and architecture must match; a matching variant is preferred.
    With `available`, only manifests whose digests are in that set are considered."""
    want = want or host_platform()
    best: tuple[int, Descriptor] | None = None
    for entry in index.get("manifests") or []:
        desc = Descriptor.from_json(entry)
        p = desc.platform or {}
        if available is not None and desc.digest not in available:
            continue
        if p.get("os", "linux") != want["os"] or p.get("architecture", want["architecture"]) != want["architecture"]:
            continue
        score = 2 if p.get("variant", "") == want.get("variant", "") else 1
        if best is None or score > best[0]:
            best = (score, desc)
    if best is None:
        want_s = f"{want['os']}/{want['architecture']}" + (f"/{want['variant']}" if want.get("variant") else "")
        raise errdefs.NotFound(f"no matching manifest for {want_s} in the manifest list entries")
    return best[1]


def decode_registry_auth(header: str | None) -> dict | None:
    """The X-Registry-Auth header (base64url JSON AuthConfig); like dockerd, an unreadable header
    means no credentials rather than an error."""
    if not header:
        return None
    padded = header.strip() + "=" * (-len(header.strip()) % 4)
    for decode in (base64.urlsafe_b64decode, base64.b64decode):
        try:
            doc = json.loads(decode(padded))
        except (binascii.Error, ValueError):
            continue
        return doc if isinstance(doc, dict) and doc else None
    return None


def registry_host(domain: str) -> str:
    return DOCKER_HUB_HOST if domain == DEFAULT_DOMAIN else domain


def is_loopback(host: str) -> bool:
    hostname = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    hostname = hostname.strip("[]")
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def registry_error(response: httpx.Response, ref: Reference) -> errdefs.WhaleError:
    """A registry error response, translated as dockerd's TranslatePullError does."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    if not errors:
        if response.status_code == 401:
            errors = [{"code": "UNAUTHORIZED", "message": "authentication required"}]
        elif response.status_code == 404:
            errors = [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]
        else:
            return errdefs.WhaleError(f"error from registry: {response.status_code} {response.reason_phrase}")
    code = str(errors[0].get("code", "UNKNOWN"))
    cause = f"{ERROR_CODE_MESSAGES.get(code, code.lower().replace('_', ' '))}: {errors[0].get('message', '')}"
    if code == "DENIED":
        return errdefs.NotFound(f"pull access denied for {ref.familiar_name}, repository does not exist or "
                                f"may require 'docker login': {cause}")
    if code == "MANIFEST_UNKNOWN":
        return errdefs.NotFound(f"manifest for {ref.familiar_string()} not found: {cause}")
    if code == "NAME_UNKNOWN":
        return errdefs.NotFound(f"repository {ref.familiar_name} not found: {cause}")
    if code == "UNAUTHORIZED":
        return errdefs.PermissionDenied(cause)
    return errdefs.WhaleError(cause)


_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(params))


class RegistryClient:
    """Pulls from one registry host; `auth` is Docker's AuthConfig (username, password,
    identitytoken, registrytoken). Plain HTTP for loopback hosts and `insecure` ones, as dockerd
    treats 127.0.0.0/8 as an insecure registry."""

    def __init__(self, domain: str, auth: dict | None = None, insecure: bool = False,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.host = registry_host(domain)
        scheme = "http" if insecure or is_loopback(self.host) else "https"
        self.base = f"{scheme}://{self.host}"
        self.auth = auth or {}
        self._authorization: dict[str, str] = {}  # scope -> Authorization header value
        self._http = httpx.AsyncClient(transport=transport, follow_redirects=True,
                                       timeout=httpx.Timeout(60.0, connect=15.0),
                                       headers={"User-Agent": "whalebone/0.1 (linux)"})

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def resolve(self, ref: Reference) -> tuple[Descriptor, bytes]:
        """The manifest (or index) `ref` names: its descriptor and its bytes, verified."""
        return await self.fetch_manifest(ref, ref.digest or ref.tag or "latest")

    async def fetch_manifest(self, ref: Reference, reference: str) -> tuple[Descriptor, bytes]:
        response = await self._get(ref, f"/v2/{ref.path}/manifests/{reference}", {"Accept": ACCEPT})
        if response.status_code != 200:
            raise registry_error(response, ref)
        body = response.content
        if len(body) > MAX_MANIFEST_SIZE:
            raise errdefs.InvalidArgument(f"manifest for {ref.familiar_string()} is too large")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        expected = reference if reference.startswith("sha256:") else response.headers.get("Docker-Content-Digest")
        if expected and expected != digest:
            raise errdefs.FailedPrecondition(f"digest mismatch for manifest {reference}: got {digest}, "
                                             f"expected {expected}")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in (*MANIFEST_TYPES, *INDEX_TYPES):
            media_type = json.loads(body).get("mediaType") or media_type
        if media_type not in (*MANIFEST_TYPES, *INDEX_TYPES):
            raise errdefs.InvalidArgument(f"unsupported media type {media_type}")
        return Descriptor(media_type, digest, len(body)), body

    async def fetch_blob(self, ref: Reference, desc: Descriptor) -> AsyncIterator[bytes]:
        """The blob's bytes as they arrive; raises after the last chunk when size or digest differ."""
        async with self._stream(ref, f"/v2/{ref.path}/blobs/{desc.digest}") as response:
            if response.status_code != 200:
                await response.aread()
                raise registry_error(response, ref)
            digest, size = hashlib.sha256(), 0
            async for chunk in response.aiter_bytes(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                yield chunk
        got = "sha256:" + digest.hexdigest()
        if got != desc.digest or (desc.size and size != desc.size):
            raise errdefs.FailedPrecondition(f"digest mismatch for blob {desc.digest}: got {got} ({size} bytes)")

    async def fetch_bytes(self, ref: Reference, desc: Descriptor) -> bytes:
        return b"".join([chunk async for chunk in self.fetch_blob(ref, desc)])

    async def _get(self, ref: Reference, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async with self._stream(ref, path, headers) as response:
            await response.aread()
            return response

    @contextlib.asynccontextmanager
    async def _stream(self, ref: Reference, path: str,
                      headers: dict[str, str] | None = None) -> AsyncIterator[httpx.Response]:
        response = await self._request(ref, path, headers or {})
        try:
            yield response
        finally:
            await response.aclose()

    async def _request(self, ref: Reference, path: str, headers: dict[str, str]) -> httpx.Response:
        """A streamed GET, retried once with credentials after a 401 challenge."""
        scope = f"repository:{ref.path}:pull"
        for attempt in range(2):
            auth = self._authorization.get(scope)
            request = self._http.build_request("GET", self.base + path,
                                               headers={**headers, **({"Authorization": auth} if auth else {})})
            response = await self._send(request)
            if response.status_code != 401 or attempt:
                return response
            challenge = response.headers.get("WWW-Authenticate", "")
            await response.aclose()
            self._authorization[scope] = await self._authorize(challenge, scope, ref)
        raise AssertionError("unreachable")

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._http.send(request, stream=True)
        except httpx.HTTPError as e:
            cause = _cause(e, f"{request.url.host}:{request.url.port or 443}")
            raise errdefs.WhaleError(f'{request.method.title()} "{request.url}": {cause}') from None

    async def _authorize(self, challenge: str, scope: str, ref: Reference) -> str:
        scheme, params = parse_challenge(challenge)
        username, password = self.auth.get("username", ""), self.auth.get("password", "")
        if scheme == "basic":
            if not username:
                raise errdefs.PermissionDenied("no basic auth credentials")
            return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        if scheme != "bearer" or "realm" not in params:
            raise errdefs.PermissionDenied(f"unsupported authentication challenge {challenge!r}")
        if self.auth.get("registrytoken"):
            return "Bearer " + self.auth["registrytoken"]
        query = {"scope": params.get("scope", scope)}
        if params.get("service"):
            query["service"] = params["service"]
        basic = (username, password) if username else None
        try:
            response = await self._http.get(params["realm"], params=query, auth=basic)
        except httpx.HTTPError as e:
            url = httpx.URL(params["realm"])
            raise errdefs.WhaleError(f'Get "{url}": {_cause(e, f"{url.host}:{url.port or 443}")}') from None
        if response.status_code != 200:
            raise errdefs.PermissionDenied(f"failed to authorize: failed to fetch anonymous token: unexpected "
                                           f"status: {response.status_code} {response.reason_phrase}"
                                           if not username else
                                           f"Get \"{params['realm']}\": unauthorized: authentication required")
        doc = response.json()
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise errdefs.PermissionDenied("authorization server did not include a token in the response")
        return "Bearer " + token


def _cause(e: httpx.HTTPError, host: str) -> str:
    """The reason, worded as Go's net/http client words it (dockerd passes it on)."""
    err: BaseException | None = e
    while err is not None:
        if isinstance(err, ConnectionRefusedError):
            return f"dial tcp {host}: connect: connection refused"
        err = err.__cause__ or err.__context__
    return str(e) or type(e).__name__
