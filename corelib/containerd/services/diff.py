"""containerd.services.diff.v1.Diff: apply a layer from the content store onto a snapshot's mounts,
and write the layer of what a snapshot changed (the walking differ's two halves). Both run in a
worker thread; they never block the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import os

from corelib import errdefs
from corelib.api.containerd.services.diff.v1 import diff_pb2 as api
from corelib.api.containerd.services.diff.v1 import diff_pb2_grpc
from corelib.api.containerd.types.descriptor_pb2 import Descriptor
from corelib.containerd.metadata.content import ContentStore
from corelib.containerd.metadata.leases import random_id
from corelib.containerd.services import lease_of, namespace_required
from corelib.errdefs import AlreadyExists, FailedPrecondition, NotFound
from corelib.images import diff, unpack

MEDIA_TYPE_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TYPE_LAYER_GZIP = MEDIA_TYPE_LAYER + "+gzip"
UNCOMPRESSED = "containerd.io/uncompressed"
_LAYER_BASES = (
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
)


class DiffService(diff_pb2_grpc.DiffServicer):
    descriptor = api.DESCRIPTOR.services_by_name["Diff"]
    add_to_server = staticmethod(diff_pb2_grpc.add_DiffServicer_to_server)

    def __init__(self, content: ContentStore):
        self.content = content

    async def Apply(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        desc = request.diff
        check_media_type(desc.media_type)
        self.content.info(ns, desc.digest)
        root, overlay, parents = apply_target(request.mounts)
        blob = self.content.store.blob_path(desc.digest)
        applied = await asyncio.to_thread(_apply_file, str(blob), root, overlay, parents)
        return api.ApplyResponse(applied=Descriptor(media_type=MEDIA_TYPE_LAYER, digest=applied.digest,
                                                    size=applied.size))

    async def Diff(self, request, context):  # noqa: N802
        ns = namespace_required(context)
        media_type = request.media_type or MEDIA_TYPE_LAYER_GZIP
        if media_type not in (MEDIA_TYPE_LAYER, MEDIA_TYPE_LAYER_GZIP):
            raise errdefs.NotImplemented(f"unsupported diff media type: {media_type}: not implemented")
        root, overlay = diff_source(request.left, request.right)
        ref = request.ref or random_id()
        writer = self.content.writer(ns, ref, lease=lease_of(context))
        try:
            if request.ref:
                writer.truncate(0)
            compress = media_type == MEDIA_TYPE_LAYER_GZIP
            written = await asyncio.to_thread(diff.write_diff, root, writer, overlay, compress)
            labels = dict(request.labels)
            if compress:
                labels[UNCOMPRESSED] = written.uncompressed
            try:
                digest = writer.commit(0, "", labels)
            except AlreadyExists:
                digest = writer.digest()
                self.content.update(ns, digest, labels, [f"labels.{k}" for k in labels])
        except BaseException:
            writer.close()
            with contextlib.suppress(NotFound):
                self.content.abort(ns, ref)
            raise
        writer.close()
        return api.DiffResponse(diff=Descriptor(media_type=media_type, digest=digest, size=written.size))


def _apply_file(blob: str, root: str, overlay: bool, parents: tuple[str, ...]) -> unpack.Applied:
    with open(blob, "rb") as f:
        return unpack.apply_layer(root, f, overlay=overlay, parents=parents)


def diff_source(left, right) -> tuple[str, bool]:  # noqa: ANN001 - repeated containerd.types.Mount
    """The directory holding exactly the changes from `left` to `right`, and whether it is an overlay
    layer (whiteouts as overlayfs writes them): `right` must be `left`'s layers with one more on top,
    as the mounts of a snapshot and of a view of its parent are."""
    upper, lower = layer_dirs(right), layer_dirs(left)
    if len(lower) == 1 and not os.listdir(lower[0]):
        lower = []  # a view of no parent: an empty directory
    if not upper or upper[1:] != lower:
        raise errdefs.NotImplemented("diff of mounts that are not a snapshot over its parent's view is not "
                                     "supported: not implemented")
    return upper[0], len(upper) > 1


def layer_dirs(mounts) -> list[str]:  # noqa: ANN001
    """The layer directories of snapshot mounts, top first."""
    if not mounts:
        return []
    if len(mounts) == 1 and mounts[0].type == "bind":
        return [mounts[0].source]
    if len(mounts) == 1 and mounts[0].type == "overlay":
        options = dict(o.split("=", 1) for o in mounts[0].options if "=" in o)
        lower = options["lowerdir"].split(":") if options.get("lowerdir") else []
        return [options["upperdir"], *lower] if "upperdir" in options else lower
    kinds = ", ".join(m.type for m in mounts)
    raise errdefs.NotImplemented(f"diff of mounts of type {kinds} is not supported: not implemented")


def check_media_type(media_type: str) -> None:
    base = media_type.split("+", 1)[0]
    if base not in _LAYER_BASES:
        raise errdefs.NotImplemented(f"failed to get stream processor for {media_type}: no processor for media-type")


def apply_target(mounts) -> tuple[str, bool, tuple[str, ...]]:  # noqa: ANN001 - repeated containerd.types.Mount
    """Where a layer goes for these snapshot mounts: (directory, is an overlay upperdir, lower dirs)."""
    if len(mounts) == 1 and mounts[0].type == "overlay":
        options = dict(o.split("=", 1) for o in mounts[0].options if "=" in o)
        if "upperdir" not in options:
            raise FailedPrecondition("cannot apply a layer to an overlay mount without upperdir: failed precondition")
        lower = tuple(options["lowerdir"].split(":")) if options.get("lowerdir") else ()
        return options["upperdir"], True, lower
    if len(mounts) == 1 and mounts[0].type == "bind":
        if "ro" in mounts[0].options:
            raise FailedPrecondition("cannot apply a layer to a read-only mount: failed precondition")
        return mounts[0].source, False, ()
    kinds = ", ".join(m.type for m in mounts) or "none"
    raise errdefs.NotImplemented(f"applying a layer to mounts of type {kinds} is not supported: not implemented")
