"""Naming images (moby's image_tag.go) and writing the manifests that tie blobs together.

A name is an image record; when a name moves to another image and the old image is left with no
name, the old one stays as a dangling image (`moby-dangling@<digest>`), shown as <none>:<none>."""

from __future__ import annotations

import contextlib
import json

from corelib import errdefs
from corelib.api.containerd.types.descriptor_pb2 import Descriptor as DescriptorPB
from corelib.daemon.images.image import DANGLING_PREFIX, ImageStore
from corelib.daemon.images.store import Containerd
from corelib.images import reference
from corelib.images.archive import sha256
from corelib.images.registry import MEDIA_DOCKER_CONFIG, MEDIA_DOCKER_MANIFEST, Descriptor


def to_pb(desc: Descriptor) -> DescriptorPB:
    return DescriptorPB(media_type=desc.media_type, digest=desc.digest, size=desc.size)


def gc_labels(doc: dict) -> dict[str, str]:
    """containerd's images.ChildrenHandler labels: what a manifest or index keeps from GC."""
    labels = {}
    if doc.get("config"):
        labels["containerd.io/gc.ref.content.config"] = doc["config"]["digest"]
    for i, layer in enumerate(doc.get("layers") or []):
        labels[f"containerd.io/gc.ref.content.l.{i}"] = layer["digest"]
    for i, manifest in enumerate(doc.get("manifests") or []):
        labels[f"containerd.io/gc.ref.content.m.{i}"] = manifest["digest"]
    return labels


async def write_json_blob(cs: Containerd, body: bytes, media_type: str, labels: dict[str, str] | None = None,
                          ) -> Descriptor:
    digest = sha256(body)
    await cs.write_blob(body, expected=digest, size=len(body), ref=f"manifest-{digest}", labels=labels)
    return Descriptor(media_type, digest, len(body))


async def write_manifest(cs: Containerd, config: Descriptor, layers: list[Descriptor]) -> Descriptor:
    """A docker schema 2 manifest for a config and its layers (as containerd's archive importer
    makes for `docker save` archives), labelled so that it keeps them."""
    doc = {"schemaVersion": 2, "mediaType": MEDIA_DOCKER_MANIFEST,
           "config": {**config.to_json(), "mediaType": config.media_type or MEDIA_DOCKER_CONFIG},
           "layers": [layer.to_json() for layer in layers]}
    body = json.dumps(doc, separators=(",", ":")).encode()
    return await write_json_blob(cs, body, MEDIA_DOCKER_MANIFEST, gc_labels(doc))


async def name_image(cs: Containerd, store: ImageStore, name: str, target: Descriptor | DescriptorPB,
                     labels: dict[str, str] | None = None) -> str:
    """Point the image record `name` at `target`. Returns the ID of the image the name was taken
    from ("" if none, or the same image); that image, left nameless, becomes dangling."""
    pb = target if isinstance(target, DescriptorPB) else to_pb(target)
    try:
        old = await cs.get_image(name)
    except errdefs.NotFound:
        old = None
    await cs.put_image(name, pb, labels)
    with contextlib.suppress(errdefs.NotFound):
        await cs.delete_image(DANGLING_PREFIX + pb.digest)
    if old is None or old.target.digest == pb.digest:
        return ""
    old_id = (await store.resolve(old.target)).config_digest
    if old_id == (await store.resolve(pb)).config_digest:
        return ""
    if old_id not in await store.all():
        await cs.put_image(DANGLING_PREFIX + old.target.digest, old.target)
    return old_id


async def keep_dangling(cs: Containerd, target: Descriptor) -> None:
    """A record for an image with no name, so that it is kept (and listed as <none>:<none>)."""
    await cs.put_image(DANGLING_PREFIX + target.digest, to_pb(target))


def normalise_tag(repo: str, tag: str = "") -> str:
    """The record name for `repo` [+ `tag`] (docker tag / import / pull arguments)."""
    ref = reference.parse_normalized_named(repo)
    if ref.digest:
        raise errdefs.InvalidArgument("refusing to create a tag with a digest reference")
    if tag:
        ref = reference.with_tag(ref, tag)
    return reference.tag_name_only(ref).string()
