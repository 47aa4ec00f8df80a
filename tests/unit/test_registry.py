"""The registry v2 client against a registry and a token server spoken to through httpx's
MockTransport: the protocol (challenge, token, manifests, blobs) byte by byte, no network."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json

import httpx
import pytest

from corelib import errdefs
from corelib.images import registry as reg
from corelib.images.reference import parse_normalized_named

CONFIG = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
LAYER = b"layer bytes" * 1000


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": reg.MEDIA_DOCKER_MANIFEST,
                       "config": {"mediaType": reg.MEDIA_DOCKER_CONFIG, "digest": digest(CONFIG), "size": len(CONFIG)},
                       "layers": [{"mediaType": reg.MEDIA_DOCKER_LAYER, "digest": digest(LAYER),
                                   "size": len(LAYER)}]}).encode()


class FakeRegistry:
    """registry.example:443 wants a Bearer token from auth.example, given for user:secret only."""

    def __init__(self, corrupt: bool = False):
        self.corrupt = corrupt
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "auth.example":
            return self.token(request)
        if request.headers.get("Authorization") != "Bearer t0ken":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.example/token",'
                                                'service="registry.example",scope="repository:team/app:pull"'},
                                  json={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
        path = request.url.path
        if path == "/v2/team/app/manifests/v1":
            return httpx.Response(200, content=MANIFEST, headers={"Content-Type": reg.MEDIA_DOCKER_MANIFEST,
                                                                  "Docker-Content-Digest": digest(MANIFEST)})
        if path == f"/v2/team/app/blobs/{digest(LAYER)}":
            return httpx.Response(200, content=LAYER[:-1] + b"X" if self.corrupt else LAYER)
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})

    def token(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["service"] == "registry.example"
        assert request.url.params["scope"] == "repository:team/app:pull"
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"user:secret").decode():
            return httpx.Response(401)
        return httpx.Response(200, json={"token": "t0ken"})


def run(fake: FakeRegistry, coro_fn, auth: dict | None = None):
    async def main():
        async with reg.RegistryClient("registry.example", auth, transport=httpx.MockTransport(fake)) as client:
            return await coro_fn(client)
    return asyncio.run(main())


REF = parse_normalized_named("registry.example/team/app:v1")


def test_bearer_challenge_then_manifest_and_blob() -> None:
    fake = FakeRegistry()

    async def pull(client: reg.RegistryClient) -> tuple:
        desc, body = await client.resolve(REF)
        layer = reg.Descriptor.from_json(json.loads(body)["layers"][0])
        return desc, await client.fetch_bytes(REF, layer)

    desc, layer = run(fake, pull, {"username": "user", "password": "secret"})
    assert desc == reg.Descriptor(reg.MEDIA_DOCKER_MANIFEST, digest(MANIFEST), len(MANIFEST))
    assert layer == LAYER
    assert str(fake.requests[0].url) == "https://registry.example/v2/team/app/manifests/v1"
    assert fake.requests[0].headers["Accept"].startswith(reg.MEDIA_DOCKER_MANIFEST)
    assert [r.url.host for r in fake.requests] == ["registry.example", "auth.example", "registry.example",
                                                   "registry.example"]  # the token is reused for the blob


def test_wrong_credentials_and_unknown_tags_in_dockers_words() -> None:
    with pytest.raises(errdefs.PermissionDenied, match="unauthorized: authentication required"):
        run(FakeRegistry(), lambda c: c.resolve(REF), {"username": "user", "password": "nope"})
    missing = parse_normalized_named("registry.example/team/app:v2")
    with pytest.raises(errdefs.NotFound, match="^manifest for registry.example/team/app:v2 not found: "
                                               "manifest unknown: manifest unknown$"):
        run(FakeRegistry(), lambda c: c.resolve(missing), {"username": "user", "password": "secret"})


def test_a_corrupt_blob_is_refused() -> None:
    layer = reg.Descriptor(reg.MEDIA_DOCKER_LAYER, digest(LAYER), len(LAYER))
    with pytest.raises(errdefs.FailedPrecondition, match="digest mismatch"):
        run(FakeRegistry(corrupt=True), lambda c: c.fetch_bytes(REF, layer), {"username": "user", "password": "secret"})


def test_platform_selection() -> None:
    index = {"manifests": [
        {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:win", "platform": {"os": "windows", "architecture": "amd64"}},
    ]}
    assert reg.select_platform(index, {"os": "linux", "architecture": "amd64"}).digest == "sha256:amd"
    assert reg.select_platform(index, {"os": "linux", "architecture": "arm64", "variant": "v8"}).digest == "sha256:arm"
    with pytest.raises(errdefs.NotFound, match="^no matching manifest for linux/s390x in the manifest list entries$"):
        reg.select_platform(index, {"os": "linux", "architecture": "s390x"})
    with pytest.raises(errdefs.NotFound):
        reg.select_platform(index, {"os": "linux", "architecture": "amd64"}, available={"sha256:arm"})


def test_x_registry_auth_header() -> None:
    doc = {"username": "u", "password": "p", "serveraddress": "r.example"}
    encoded = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
    assert reg.decode_registry_auth(encoded) == doc
    assert reg.decode_registry_auth(encoded.rstrip("=")) == doc
    assert reg.decode_registry_auth("e30=") is None  # {} as the docker CLI sends it
    assert reg.decode_registry_auth("!!not base64") is None
    assert reg.decode_registry_auth(None) is None


def test_plain_http_for_loopback_only() -> None:
    assert reg.is_loopback("127.0.0.1:5000") and reg.is_loopback("localhost:5000") and reg.is_loopback("[::1]:5000")
    assert not reg.is_loopback("registry.example:5000")
    assert reg.registry_host("docker.io") == "registry-1.docker.io"
