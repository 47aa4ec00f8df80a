"""`docker load` and `docker save` (moby's image_exporter.go; containerd's images/archive):
`docker save` archives (manifest.json) and OCI layouts (index.json) in; one archive that is both
out. Uploads are spooled to the daemon's disk first, as dockerd does, then every blob is streamed
into containerd's content store under a lease."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO

from corelib import errdefs
from corelib.daemon.images.image import Image, ImageStore
from corelib.daemon.images.image_snapshot import unpack
from corelib.daemon.images.image_tag import gc_labels, keep_dangling, name_image, normalise_tag, to_pb, write_manifest
from corelib.daemon.images.store import Containerd
from corelib.images import reference
from corelib.images.registry import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MEDIA_DOCKER_CONFIG,
    MEDIA_DOCKER_LAYER,
    MEDIA_DOCKER_LAYER_GZIP,
    MEDIA_OCI_INDEX,
    Descriptor,
)

READ_CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
_BLOB_PATH = re.compile(r"^blobs/(sha256)/([a-f0-9]{64})$")
Progress = Callable[[dict], Awaitable[None]]


async def spool(chunks: AsyncIterator[bytes], directory: Path, prefix: str) -> Path:
    """Write an upload to a private temporary file (the caller removes it)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=directory, prefix=prefix)
    with os.fdopen(fd, "wb") as f:
        async for chunk in chunks:
            f.write(chunk)
    return Path(path)


async def file_chunks(f: IO[bytes]) -> AsyncIterator[bytes]:
    while chunk := f.read(READ_CHUNK):
        yield chunk


class Archive:
    """A spooled archive, its members by clean name."""

    def __init__(self, tar: tarfile.TarFile):
        self.tar = tar
        self.members = {os.path.normpath(m.name).lstrip("/"): m for m in tar.getmembers()}

    def open(self, name: str) -> IO[bytes]:
        member = self.members.get(os.path.normpath(name).lstrip("/"))
        f = self.tar.extractfile(member) if member is not None else None
        if f is None:
            raise errdefs.InvalidArgument(f"invalid archive: {name} is missing")
        return f

    def read_json(self, name: str) -> object:
        try:
            return json.loads(self.open(name).read())
        except ValueError as e:
            raise errdefs.InvalidArgument(f"invalid archive: {name}: {e}") from None

    def digest(self, name: str) -> tuple[str, int]:
        h, size, f = hashlib.sha256(), 0, self.open(name)
        while chunk := f.read(READ_CHUNK):
            h.update(chunk)
            size += len(chunk)
        return "sha256:" + h.hexdigest(), size

    async def write(self, cs: Containerd, name: str, media_type: str = "",
                    labels: dict[str, str] | None = None) -> Descriptor:
        """Stream a member into the content store (skipped when the blob is there already)."""
        m = _BLOB_PATH.match(os.path.normpath(name))
        digest, size = (f"{m.group(1)}:{m.group(2)}", self.members[name].size) if m and name in self.members \
            else self.digest(name)
        if not media_type:
            media_type = MEDIA_DOCKER_LAYER_GZIP if self.open(name).read(2) == GZIP_MAGIC else MEDIA_DOCKER_LAYER
        await cs.write_blob(file_chunks(self.open(name)), expected=digest, size=size, ref=f"load-{digest}",
                            labels=labels)
        return Descriptor(media_type, digest, size)


async def load(cs: Containerd, store: ImageStore, path: Path, progress: Progress | None) -> list[str]:
    """Load every image of the archive at `path`; returns the names (or IDs) loaded."""
    try:
        tar = tarfile.open(path)  # noqa: SIM115 - closed by the `with tar` below
    except tarfile.TarError:
        raise errdefs.InvalidArgument("archive/tar: invalid tar header") from None
    loaded: list[str] = []
    with tar:
        archive = Archive(tar)
        async with cs.with_lease() as leased:
            if "manifest.json" in archive.members:
                images = await _write_docker(leased, archive)
            elif "index.json" in archive.members:
                images = await _write_oci(leased, archive)
            else:
                raise errdefs.InvalidArgument("invalid archive: no manifest.json (docker save) or index.json (OCI)")
            for target, names in images:
                resolved = await store.resolve(to_pb(target))
                image = Image(resolved.config_digest, resolved)
                await unpack(leased, image)
                loaded += await _name(leased, store, image, target, names, progress)
    return loaded


async def _write_docker(cs: Containerd, archive: Archive) -> list[tuple[Descriptor, list[str]]]:
    entries = archive.read_json("manifest.json")
    if not isinstance(entries, list):
        raise errdefs.InvalidArgument("invalid archive: manifest.json is not a list")
    images = []
    for entry in entries:
        config = await archive.write(cs, entry["Config"], MEDIA_DOCKER_CONFIG)
        layers = [await archive.write(cs, layer) for layer in entry.get("Layers") or []]
        images.append((await write_manifest(cs, config, layers), list(entry.get("RepoTags") or [])))
    return images


async def _write_oci(cs: Containerd, archive: Archive) -> list[tuple[Descriptor, list[str]]]:
    index = archive.read_json("index.json")
    images = []
    for entry in (index or {}).get("manifests") or []:
        desc = Descriptor.from_json(entry)
        await _write_tree(cs, archive, desc)
        annotations = entry.get("annotations") or {}
        name = annotations.get("io.containerd.image.name") or annotations.get("org.opencontainers.image.ref.name")
        images.append((desc, [name] if name and _is_full_name(name) else []))
    return images


def _is_full_name(name: str) -> bool:
    try:
        reference.parse_normalized_named(name)
    except errdefs.InvalidArgument:
        return False
    return ":" in name or "/" in name


async def _write_tree(cs: Containerd, archive: Archive, desc: Descriptor) -> None:
    """A manifest or index and everything below it that the archive holds, children first."""
    path = "blobs/" + desc.digest.replace(":", "/")
    if path not in archive.members:
        return
    labels = None
    if desc.media_type in (*INDEX_TYPES, *MANIFEST_TYPES):
        doc = archive.read_json(path)
        children = [doc["config"], *(doc.get("layers") or [])] if "config" in doc else doc.get("manifests") or []
        for child in children:
            await _write_tree(cs, archive, Descriptor.from_json(child))
        labels = gc_labels(doc)
    await archive.write(cs, path, desc.media_type, labels)


async def _name(cs: Containerd, store: ImageStore, image: Image, target: Descriptor, names: list[str],
                progress: Progress | None) -> list[str]:
    async def say(line: str) -> None:
        if progress:
            await progress({"stream": line + "\n"})

    if not names:
        await keep_dangling(cs, target)
        await say(f"Loaded image ID: {image.id}")
        return [image.id]
    loaded = []
    for name in names:
        full = normalise_tag(name)
        familiar = reference.familiar_string(full)
        old_id = await name_image(cs, store, full, target)
        if old_id:
            await say(f"The image {familiar} already exists, renaming the old one with ID {old_id} to empty string")
        await say(f"Loaded image: {familiar}")
        loaded.append(familiar)
    return loaded


async def save(cs: Containerd, store: ImageStore, names: list[str]) -> AsyncIterator[bytes]:
    """One archive for the images `names`, both a `docker save` archive and an OCI layout.
    Every name is resolved before the first byte, so a missing image fails the request cleanly."""
    plan = await _save_plan(store, names)
    return _save_stream(cs, plan)


async def _save_plan(store: ImageStore, names: list[str]) -> dict[str, tuple[Image, list[str]]]:
    plan: dict[str, tuple[Image, list[str]]] = {}

    def add(image: Image, tag: str | None) -> None:
        entry = plan.setdefault(image.id, (image, []))
        if tag and tag not in entry[1]:
            entry[1].append(tag)

    for name in names:
        parsed = reference.parse_any_reference(name)
        if isinstance(parsed, reference.Reference) and parsed.is_name_only():
            tagged = [(img, t) for img in (await store.all()).values() for t in img.repo_tags
                      if reference.parse_normalized_named(t).name == parsed.name]
            for img, t in tagged:
                add(img, t)
            if tagged:
                continue
        image = await store.lookup(name)
        is_tag = isinstance(parsed, reference.Reference) and any(
            r.name == reference.tag_name_only(parsed).string() for r in image.records)
        add(image, reference.tag_name_only(parsed).familiar_string() if is_tag else None)
    return plan


async def _save_stream(cs: Containerd, plan: dict[str, tuple[Image, list[str]]]) -> AsyncIterator[bytes]:
    written: set[str] = set()
    manifest_json, index = [], {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": []}
    for image, tags in plan.values():
        manifest = image.resolved.manifest
        blobs = [image.resolved.manifest_digest, manifest["config"]["digest"],
                 *(layer["digest"] for layer in manifest.get("layers") or [])]
        for digest in blobs:
            if digest not in written:
                written.add(digest)
                async for chunk in _blob_member(cs, digest):
                    yield chunk
        manifest_json.append({"Config": _blob_path(manifest["config"]["digest"]), "RepoTags": tags or None,
                              "Layers": [_blob_path(layer["digest"]) for layer in manifest.get("layers") or []]})
        manifest_desc = {"mediaType": manifest.get("mediaType") or MANIFEST_TYPES[0],
                         "digest": image.resolved.manifest_digest,
                         "size": len(await cs.read(image.resolved.manifest_digest))}
        for tag in tags or [None]:
            annotations = {"io.containerd.image.name": reference.tag_name_only(
                reference.parse_normalized_named(tag)).string(),
                "org.opencontainers.image.ref.name": reference.parse_normalized_named(tag).tag or "latest",
            } if tag else {}
            index["manifests"].append({**manifest_desc, **({"annotations": annotations} if annotations else {})})
    for name, doc in (("oci-layout", {"imageLayoutVersion": "1.0.0"}), ("index.json", index),
                      ("manifest.json", manifest_json)):
        body = json.dumps(doc, separators=(",", ":")).encode()
        yield _header(name, len(body)) + body + _padding(len(body))
    yield b"\0" * 1024


def _blob_path(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/")


async def _blob_member(cs: Containerd, digest: str) -> AsyncIterator[bytes]:
    size = (await cs.info(digest)).size
    yield _header(_blob_path(digest), size)
    sent = 0
    async for chunk in cs.read_stream(digest):
        sent += len(chunk)
        yield chunk
    if sent != size:
        raise errdefs.Internal(f"content {digest}: read {sent} bytes of {size}")
    yield _padding(size)


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)
