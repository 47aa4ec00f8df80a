"""Layers into snapshots (containerd's rootfs.ApplyLayers and image.Unpack): each layer is applied
by containerd's diff service onto an active snapshot, committed under its chain id; the image's
config then holds the top snapshot against GC. Containers get an active snapshot on top."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from corelib import errdefs
from corelib.api.containerd.types.descriptor_pb2 import Descriptor as DescriptorPB
from corelib.api.containerd.types.mount_pb2 import Mount
from corelib.daemon.images.image import Image, chain_id
from corelib.daemon.images.store import LABEL_GC_SNAPSHOT, LABEL_UNCOMPRESSED, Containerd
from corelib.images.registry import MEDIA_DOCKER_LAYER, MEDIA_OCI_LAYER, Descriptor

#: Told about each layer: (layer, "Extracting" | "Pull complete" | "Already exists").
LayerProgress = Callable[[Descriptor, str], Awaitable[None]]


async def snapshot_exists(cs: Containerd, key: str) -> bool:
    try:
        await cs.stat_snapshot(key)
    except errdefs.NotFound:
        return False
    return True


async def unpack(cs: Containerd, image: Image, progress: LayerProgress | None = None) -> str:
    """Unpack the image's layers (those not already there) and label its config with the top
    snapshot; `cs` should hold a lease. Returns the chain id."""
    layers, diff_ids = image.layers, image.diff_ids
    if len(layers) != len(diff_ids):
        raise errdefs.InvalidArgument("mismatched image rootfs and manifest layers")
    for i, layer in enumerate(layers):
        key = chain_id(diff_ids[:i + 1])
        if await snapshot_exists(cs, key):
            if progress:
                await progress(layer, "Already exists")
            continue
        if progress:
            await progress(layer, "Extracting")
        await apply_layer(cs, layer, diff_ids[i], chain_id(diff_ids[:i]) if i else "", key)
        if progress:
            await progress(layer, "Pull complete")
    top = image.chain_id
    if top:
        await cs.update_labels(image.resolved.config_digest, {LABEL_GC_SNAPSHOT + cs.snapshotter: top})
    return top


async def apply_layer(cs: Containerd, layer: Descriptor, diff_id: str, parent: str, key: str) -> None:
    extract_key = f"extract-{time.time_ns()} {key}"
    mounts = await cs.prepare(extract_key, parent)
    try:
        applied = await cs.apply(DescriptorPB(media_type=layer.media_type, digest=layer.digest, size=layer.size),
                                 mounts)
        if applied.digest != diff_id:
            raise errdefs.FailedPrecondition(f"wrong diff id calculated on extraction {applied.digest!r}")
        await cs.commit(key, extract_key)
    except errdefs.AlreadyExists:  # unpacked meanwhile by another pull of the same layer
        await _remove_quietly(cs, extract_key)
    except BaseException:
        await _remove_quietly(cs, extract_key)
        raise
    if layer.media_type not in (MEDIA_DOCKER_LAYER, MEDIA_OCI_LAYER):
        await cs.update_labels(layer.digest, {LABEL_UNCOMPRESSED: diff_id})


async def _remove_quietly(cs: Containerd, key: str) -> None:
    with contextlib.suppress(errdefs.NotFound):
        await cs.remove_snapshot(key)


async def ensure_unpacked(cs: Containerd, image: Image) -> str:
    top = image.chain_id
    if top and not await snapshot_exists(cs, top):
        async with cs.with_lease() as leased:
            await unpack(leased, image)
    return top


async def prepare_rootfs(cs: Containerd, image: Image, container_id: str) -> list[Mount]:
    """An active snapshot `container_id` on the image, held by the lease `container_id` (as moby
    does), so it lives as long as the container, whatever happens to the image."""
    # The image's snapshot and the container's lease are independent: both asked for at once.
    parent, _ = await _together(ensure_unpacked(cs, image), _create_lease(cs, container_id))
    try:
        return await replace(cs, lease=container_id).prepare(container_id, parent)
    except errdefs.AlreadyExists:  # prepared before (a retry, or a restarted daemon)
        return await cs.mounts(container_id)
    except BaseException:
        await remove_rootfs(cs, container_id)
        raise


async def _create_lease(cs: Containerd, lease_id: str) -> None:
    with contextlib.suppress(errdefs.AlreadyExists):
        await cs.create_lease(lease_id)


async def remove_rootfs(cs: Containerd, container_id: str) -> None:
    """The container's snapshot and its lease, both asked for at once (either order leaves nothing)."""
    await _together(_remove_quietly(cs, container_id), cs.delete_lease(container_id))


async def _together(*steps: Awaitable[object]) -> list[object]:
    """Independent steps at once; once all have ended, the first one's error, if any, is raised."""
    outcomes = await asyncio.gather(*steps, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes
