"""ImageService: the daemon's images, kept in containerd's image store (as dockerd does with the
containerd image store, moby's daemon/containerd): blobs in the content store, layers unpacked into
overlay snapshots named by chain id, image records named like `docker.io/library/busybox:latest`.

whaled is a client of containerd's gRPC API here; it never touches containerd's files itself.
Errors are corelib.errdefs, worded as dockerd words them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc

from corelib.api.containerd.types.mount_pb2 import Mount

#: Receives Docker's JSON progress messages, one dict per line of the response stream.
Progress = Callable[[dict], Awaitable[None]]

DEFAULT_NAMESPACE = "moby"
SNAPSHOTTER = "overlayfs"


class ImageService:
    """The image half of the daemon, over one containerd connection.

    `channel` is a grpc.aio channel to containerd (real or whale-containerd); `namespace` the
    containerd namespace every call is made in; `root` a private directory of the daemon for
    spooling uploads (load, import) before they go into the content store.
    """

    def __init__(self, channel: grpc.aio.Channel, namespace: str = DEFAULT_NAMESPACE,
                 root: Path | None = None):
        raise NotImplementedError

    async def list_images(self, all: bool = False, filters: dict | None = None) -> list[dict]:  # noqa: A002
        """GET /images/json: Engine API ImageSummary dicts, newest first. `filters` in either of
        Docker's JSON forms ({"reference": ["busybox"]} or {"dangling": {"true": true}}): reference,
        dangling, label, before, since. Raises InvalidArgument for an unknown filter."""
        raise NotImplementedError

    async def inspect(self, ref: str) -> dict:
        """GET /images/{name}/json: the image as dockerd shows it (Id, RepoTags, RepoDigests,
        Parent, Comment, Created, Config, Architecture, Os, Size, VirtualSize, RootFS, Metadata...).
        `ref` is a name[:tag], name@digest, a full or short image ID. NotFound("No such image: x")."""
        raise NotImplementedError

    async def get_image_config(self, ref: str) -> dict:
        """The image's container config, as in the image's config blob: Cmd, Entrypoint, Env,
        WorkingDir, User, Labels, ExposedPorts, Volumes, StopSignal (absent keys are None)."""
        raise NotImplementedError

    async def pull(self, ref: str, tag: str = "", auth: dict | None = None,
                   progress: Progress | None = None) -> None:
        """POST /images/create?fromImage=ref&tag=tag. `auth` is the decoded X-Registry-Auth
        (corelib.images.registry.decode_registry_auth). Errors found while resolving the manifest
        (bad reference, unknown tag or repository, registry unreachable) are raised BEFORE the first
        `progress` call, so the route can answer 404/500 before streaming; an error after that is
        raised too, and the route writes it as an errorDetail line."""
        raise NotImplementedError

    async def load(self, chunks: AsyncIterator[bytes], progress: Progress | None = None) -> list[str]:
        """POST /images/load: a `docker save` or OCI archive. Returns the loaded names
        (`busybox:latest`, or `sha256:<id>` for an untagged image) and sends
        {"stream": "Loaded image: busybox:latest\\n"} per image through `progress`."""
        raise NotImplementedError

    async def save(self, names: list[str]) -> AsyncIterator[bytes]:
        """GET /images/get?names=..: the images as one `docker save` archive, streamed."""
        raise NotImplementedError

    async def import_image(self, chunks: AsyncIterator[bytes], repo: str = "", tag: str = "",
                           changes: list[str] | None = None, message: str = "") -> str:
        """POST /images/create?fromSrc=-: a root filesystem tar (optionally compressed) becomes a
        one-layer image; `changes` are Dockerfile instructions (CMD, ENTRYPOINT, ENV, WORKDIR, USER,
        LABEL, EXPOSE, VOLUME, STOPSIGNAL). Returns the image ID `sha256:...`."""
        raise NotImplementedError

    async def tag(self, source: str, repo: str, tag: str = "") -> None:
        """POST /images/{name}/tag?repo=&tag=: another name for the image `source`."""
        raise NotImplementedError

    async def delete(self, ref: str, force: bool = False, noprune: bool = False) -> list[dict]:
        """DELETE /images/{name}: [{"Untagged": "busybox:latest"}, {"Deleted": "sha256:..."}].
        Conflict (409) when the image has several names and `ref` is an ID, or when a container
        uses it (see `set_image_users`) and not `force`."""
        raise NotImplementedError

    async def prune(self, filters: dict | None = None) -> dict:
        """POST /images/prune: removes dangling images (all unused ones with dangling=false).
        Returns {"ImagesDeleted": [...] or None, "SpaceReclaimed": n}."""
        raise NotImplementedError

    async def ensure_busybox(self) -> None:
        """Make sure `busybox:latest` exists: when absent, build it from the host's static busybox."""
        raise NotImplementedError

    async def prepare_rootfs(self, image_ref: str, container_id: str) -> list[Mount]:
        """An active overlay snapshot keyed `container_id` on the image's top layer (chain id), held
        by a lease of the same id; returns its mounts (for the task's rootfs)."""
        raise NotImplementedError

    async def remove_rootfs(self, container_id: str) -> None:
        """Remove the container's snapshot and lease; no error when they are already gone."""
        raise NotImplementedError

    def set_image_users(self, users: Callable[[], dict[str, list[str]]]) -> None:
        """Tell the service which containers use which image: `users()` returns
        {image ID: [container IDs]}; delete and prune consult it (Docker refuses to delete an image
        a container uses, unless forced, and prune keeps it)."""
        raise NotImplementedError
