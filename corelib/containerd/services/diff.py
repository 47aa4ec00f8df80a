"""containerd.services.diff.v1.Diff: apply a layer from the content store onto a snapshot's mounts
(the walking differ). The unpack runs in a worker thread; it never blocks the daemon."""

from __future__ import annotations

import asyncio

from corelib import errdefs
from corelib.api.containerd.services.diff.v1 import diff_pb2 as api
from corelib.api.containerd.services.diff.v1 import diff_pb2_grpc
from corelib.api.containerd.types.descriptor_pb2 import Descriptor
from corelib.containerd.metadata.content import ContentStore
from corelib.containerd.services import namespace_required
from corelib.errdefs import FailedPrecondition
from corelib.images import unpack

MEDIA_TYPE_LAYER = "application/vnd.oci.image.layer.v1.tar"
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
        namespace_required(context)
        raise errdefs.NotImplemented("creating a diff from mounts is not supported: not implemented")


def _apply_file(blob: str, root: str, overlay: bool, parents: tuple[str, ...]) -> unpack.Applied:
    with open(blob, "rb") as f:
        return unpack.apply_layer(root, f, overlay=overlay, parents=parents)


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
