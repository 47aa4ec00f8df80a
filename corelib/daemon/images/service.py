"""ImageService: the daemon's images, kept in containerd's image store (as dockerd does with the
containerd image store, moby's daemon/containerd): blobs in the content store, layers unpacked into
overlay snapshots named by chain id, image records named like `docker.io/library/busybox:latest`.

whaled is a client of containerd's gRPC API here; it never touches containerd's files itself.
Errors are corelib.errdefs, worded as dockerd words them.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc

from corelib import errdefs
from corelib.api.containerd.types.mount_pb2 import Mount
from corelib.daemon.images import image_delete, image_exporter, image_import, image_pull, image_snapshot
from corelib.daemon.images.image import Image, ImageStore, inspect, summary, unix_time
from corelib.daemon.images.image_tag import name_image, normalise_tag
from corelib.daemon.images.store import Containerd
from corelib.images import reference
from corelib.images.archive import write_docker_archive
from corelib.images.busybox import build_busybox_rootfs

#: Receives Docker's JSON progress messages, one dict per line of the response stream.
Progress = Callable[[dict], Awaitable[None]]

DEFAULT_NAMESPACE = "moby"
SNAPSHOTTER = "overlayfs"
BUSYBOX = "docker.io/library/busybox:latest"
CONFIG_KEYS = ("Cmd", "Entrypoint", "Env", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal")


class ImageService:
    """The image half of the daemon, over one containerd connection.

    `channel` is a grpc.aio channel to containerd (real or whale-containerd); `namespace` the
    containerd namespace every call is made in; `root` a private directory of the daemon for
    spooling uploads (load, import) before they go into the content store.
    """

    def __init__(self, channel: grpc.aio.Channel, namespace: str = DEFAULT_NAMESPACE,
                 root: Path | None = None):
        self.cs = Containerd(channel, namespace, snapshotter=SNAPSHOTTER)
        self.store = ImageStore(self.cs)
        self.root = Path(root) if root else Path(tempfile.gettempdir()) / "whaled-images"
        self._users: Callable[[], dict[str, list[str]]] = dict

    async def list_images(self, all: bool = False, filters: dict | None = None) -> list[dict]:  # noqa: A002
        """GET /images/json: Engine API ImageSummary dicts, newest first. `filters` in either of
        Docker's JSON forms ({"reference": ["busybox"]} or {"dangling": {"true": true}}): reference,
        dangling, label, before, since. Raises InvalidArgument for an unknown filter."""
        flt = image_delete.normalise_filters(filters)
        image_delete.validate_filters(flt, ("dangling", "label", "before", "since", "reference"))
        dangling = image_delete.is_true(flt.get("dangling", []), "dangling")
        before = [unix_time((await self.store.lookup(v)).created) for v in flt.get("before", [])]
        since = [unix_time((await self.store.lookup(v)).created) for v in flt.get("since", [])]
        out = []
        for image in (await self.store.all()).values():
            created = unix_time(image.created)
            if not _listed(image, flt, dangling) or any(created >= b for b in before) \
                    or any(created <= s for s in since):
                continue
            digests = image.repo_digests(await self.store.sources(image))
            out.append(summary(image, await self.store.size(image), digests))
        return sorted(out, key=lambda s: s["Created"], reverse=True)

    async def inspect(self, ref: str) -> dict:
        """GET /images/{name}/json: the image as dockerd shows it (Id, RepoTags, RepoDigests,
        Parent, Comment, Created, Config, Architecture, Os, Size, VirtualSize, RootFS, Metadata...).
        `ref` is a name[:tag], name@digest, a full or short image ID. NotFound("No such image: x")."""
        image = await self.store.lookup(ref)
        digests = image.repo_digests(await self.store.sources(image))
        return inspect(image, await self.store.size(image), digests, self.cs.snapshotter)

    async def get_image_config(self, ref: str) -> dict:
        """The image's container config, as in the image's config blob: Cmd, Entrypoint, Env,
        WorkingDir, User, Labels, ExposedPorts, Volumes, StopSignal (absent keys are None)."""
        image = await self.store.lookup(ref)
        config = image.config.get("config") or {}
        return {key: config.get(key) for key in CONFIG_KEYS}

    async def pull(self, ref: str, tag: str = "", auth: dict | None = None,
                   progress: Progress | None = None) -> None:
        """POST /images/create?fromImage=ref&tag=tag. `auth` is the decoded X-Registry-Auth
        (corelib.images.registry.decode_registry_auth). Errors found while resolving the manifest
        (bad reference, unknown tag or repository, registry unreachable) are raised BEFORE the first
        `progress` call, so the route can answer 404/500 before streaming; an error after that is
        raised too, and the route writes it as an errorDetail line."""
        await image_pull.pull(self.cs, self.store, ref, tag, auth, progress)

    async def load(self, chunks: AsyncIterator[bytes], progress: Progress | None = None) -> list[str]:
        """POST /images/load: a `docker save` or OCI archive. Returns the loaded names
        (`busybox:latest`, or `sha256:<id>` for an untagged image) and sends
        {"stream": "Loaded image: busybox:latest\\n"} per image through `progress`."""
        path = await image_exporter.spool(chunks, self._tmp, "load-")
        try:
            return await image_exporter.load(self.cs, self.store, path, progress)
        finally:
            os.unlink(path)

    async def save(self, names: list[str]) -> AsyncIterator[bytes]:
        """GET /images/get?names=..: the images as one `docker save` archive, streamed."""
        return await image_exporter.save(self.cs, self.store, names)

    async def import_image(self, chunks: AsyncIterator[bytes], repo: str = "", tag: str = "",
                           changes: list[str] | None = None, message: str = "") -> str:
        """POST /images/create?fromSrc=-: a root filesystem tar (optionally compressed) becomes a
        one-layer image; `changes` are Dockerfile instructions (CMD, ENTRYPOINT, ENV, WORKDIR, USER,
        LABEL, EXPOSE, VOLUME, STOPSIGNAL). Returns the image ID `sha256:...`."""
        if repo:  # a bad name fails before the upload is read
            normalise_tag(repo, tag)
        path = await image_exporter.spool(chunks, self._tmp, "import-")
        try:
            return await image_import.import_image(self.cs, self.store, path, self._tmp, repo, tag, changes or [],
                                                   message)
        finally:
            os.unlink(path)

    async def tag(self, source: str, repo: str, tag: str = "") -> None:
        """POST /images/{name}/tag?repo=&tag=: another name for the image `source`."""
        image = await self.store.lookup(source)
        await name_image(self.cs, self.store, normalise_tag(repo, tag), image.records[0].target)

    async def delete(self, ref: str, force: bool = False, noprune: bool = False) -> list[dict]:
        """DELETE /images/{name}: [{"Untagged": "busybox:latest"}, {"Deleted": "sha256:..."}].
        Conflict (409) when the image has several names and `ref` is an ID, or when a container
        uses it (see `set_image_users`) and not `force`."""
        image = await self.store.lookup(ref)
        return await image_delete.delete(self.cs, self.store, ref, force, self._users().get(image.id, []))

    async def prune(self, filters: dict | None = None) -> dict:
        """POST /images/prune: removes dangling images (all unused ones with dangling=false).
        Returns {"ImagesDeleted": [...] or None, "SpaceReclaimed": n}."""
        return await image_delete.prune(self.cs, self.store, filters, set(self._users()))

    async def ensure_busybox(self) -> None:
        """Make sure `busybox:latest` exists: when absent, build it from the host's static busybox."""
        try:
            await self.cs.get_image(BUSYBOX)
            return
        except errdefs.NotFound:
            pass
        with tempfile.TemporaryDirectory(dir=self._tmp) as work:
            rootfs = build_busybox_rootfs(Path(work) / "rootfs")
            write_docker_archive(Path(work) / "busybox.tar", rootfs, ["busybox:latest"])
            await image_exporter.load(self.cs, self.store, Path(work) / "busybox.tar", None)

    async def get_image(self, ref: str) -> Image:
        """dockerd's GetImage for a container about to be made: the image's ID, config and layers
        (not what only inspect shows: its size, digests and other names, each a call to containerd)."""
        return await self.store.lookup(ref, every_name=False)

    async def prepare_rootfs(self, image: Image | str, container_id: str) -> list[Mount]:
        """An active overlay snapshot keyed `container_id` on the image's (or image reference's) top
        layer (chain id), held by a lease of the same id; returns its mounts (for the task's rootfs)."""
        if isinstance(image, str):
            image = await self.get_image(image)
        return await image_snapshot.prepare_rootfs(self.cs, image, container_id)

    async def remove_rootfs(self, container_id: str) -> None:
        """Remove the container's snapshot and lease; no error when they are already gone."""
        await image_snapshot.remove_rootfs(self.cs, container_id)

    def set_image_users(self, users: Callable[[], dict[str, list[str]]]) -> None:
        """Tell the service which containers use which image: `users()` returns
        {image ID: [container IDs]}; delete and prune consult it (Docker refuses to delete an image
        a container uses, unless forced, and prune keeps it)."""
        self._users = users

    @property
    def _tmp(self) -> Path:
        path = self.root / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path


def _listed(image: Image, flt: dict[str, list[str]], dangling: bool | None) -> bool:
    if dangling is not None and dangling != (not image.repo_tags):
        return False
    labels = (image.config.get("config") or {}).get("Labels")
    if flt.get("label") and not image_delete.label_matches(labels, flt["label"]):
        return False
    if flt.get("reference"):
        return any(_reference_matches(tag, pattern) for tag in image.repo_tags for pattern in flt["reference"])
    return True


def _reference_matches(tag: str, pattern: str) -> bool:
    """dockerd's reference filter: a pattern on the familiar name, or on name:tag."""
    name = reference.parse_normalized_named(tag).familiar_name
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(tag, pattern)
