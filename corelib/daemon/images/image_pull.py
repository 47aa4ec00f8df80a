"""`docker pull` (moby's image_pull.go with containerd's remotes): resolve the reference at the
registry, fetch the platform's manifest, config and layers into the content store (under a lease,
digests verified), unpack, name the image, and say so in Docker's progress messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from corelib import errdefs
from corelib.daemon.images.image import Image, ImageStore, chain_id, short_id
from corelib.daemon.images.image_snapshot import snapshot_exists, unpack
from corelib.daemon.images.image_tag import gc_labels, name_image, to_pb
from corelib.daemon.images.store import LABEL_DISTRIBUTION_SOURCE, Containerd
from corelib.images import reference
from corelib.images.registry import INDEX_TYPES, LAYER_TYPES, Descriptor, RegistryClient, select_platform

Progress = Callable[[dict], Awaitable[None]]
CONCURRENT_DOWNLOADS = 3  # dockerd's max-concurrent-downloads default


def pull_reference(image: str, tag: str = "") -> reference.Reference:
    """fromImage + tag as dockerd combines them: the tag may be a digest; no tag means latest."""
    ref = reference.parse_normalized_named(image)
    if tag:
        ref = reference.with_digest(ref, tag) if reference.is_digest(tag) else reference.with_tag(ref, tag)
    return reference.tag_name_only(ref)


def progress_bar(current: int, total: int) -> str:
    """jsonmessage's progress string: `[=====>      ]  1.05MB/2.06MB`."""
    if total <= 0:
        return f"{_human(current):>8}"
    filled = min(50, current * 100 // total // 2)
    return f"[{'=' * filled}>{' ' * (50 - filled)}] {_human(current):>8}/{_human(total)}"


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g}{unit}"
        n /= 1000
    raise AssertionError("unreachable")


class Puller:
    def __init__(self, cs: Containerd, store: ImageStore, ref: reference.Reference, client: RegistryClient,
                 progress: Progress | None):
        self.cs, self.store, self.ref, self.client = cs, store, ref, client
        self.progress = progress
        self.source = {LABEL_DISTRIBUTION_SOURCE + ref.domain: ref.path}

    async def say(self, message: dict) -> None:
        if self.progress:
            await self.progress(message)

    async def pull(self) -> None:
        target, body = await self.client.resolve(self.ref)  # errors here come before any progress
        await self.say({"status": f"Pulling from {self.ref.path}", "id": self.ref.tag or self.ref.digest})
        try:
            previous = (await self.cs.get_image(self.ref.string())).target.digest
        except errdefs.NotFound:
            previous = ""
        async with self.cs.with_lease() as leased:
            self.cs = leased
            await self._fetch(target, body)
            resolved = await self.store.resolve(to_pb(target))
            await unpack(leased, Image(resolved.config_digest, resolved), self._layer_progress)
            await name_image(leased, self.store, self.ref.string(), target)
        await self.say({"status": f"Digest: {target.digest}"})
        news = "Image is up to date" if previous == target.digest else "Downloaded newer image"
        await self.say({"status": f"Status: {news} for {self.ref.familiar_string()}"})

    async def _fetch(self, target: Descriptor, body: bytes) -> None:
        manifest_desc, manifest_body = target, body
        if target.media_type in INDEX_TYPES:
            chosen = select_platform(json.loads(body))
            manifest_desc, manifest_body = await self.client.fetch_manifest(self.ref, chosen.digest)
        manifest = json.loads(manifest_body)
        config_desc = Descriptor.from_json(manifest["config"])
        # As moby's ImageStore.Get(config digest): an image of this ID, not a config blob that a removed
        # image left in the content store until the garbage collector passes.
        known = config_desc.digest in await self.store.all()
        config = await self.client.fetch_bytes(self.ref, config_desc)
        await self.cs.write_blob(config, expected=config_desc.digest, size=len(config),
                                 ref=f"config-{config_desc.digest}", labels=self.source)
        layers = [Descriptor.from_json(layer) for layer in manifest.get("layers") or []]
        for layer in layers:
            if layer.media_type not in LAYER_TYPES:
                raise errdefs.InvalidArgument(f"unsupported media type {layer.media_type}")
        await self._fetch_layers(layers, (json.loads(config).get("rootfs") or {}).get("diff_ids") or [], known)
        await self._write_manifest(manifest_desc, manifest_body, manifest)
        if manifest_desc is not target:
            await self._write_manifest(target, body, json.loads(body))

    async def _write_manifest(self, desc: Descriptor, body: bytes, doc: dict) -> None:
        await self.cs.write_blob(body, expected=desc.digest, size=len(body), ref=f"manifest-{desc.digest}",
                                 labels={**gc_labels(doc), **self.source})

    async def _fetch_layers(self, layers: list[Descriptor], diff_ids: list[str], known: bool) -> None:
        """Fetch the missing layers. As dockerd, say nothing of them when an image of this ID is here
        already, maybe under another name, and unpacked (a compressed blob it lacks is fetched without
        a word: whether a removed name's blobs are still in the store is the garbage collector's timing);
        else each layer is either "Already exists" (unpacked) or pulled with progress."""
        unpacked = [i < len(diff_ids) and await snapshot_exists(self.cs, chain_id(diff_ids[:i + 1]))
                    for i in range(len(layers))]
        missing = [layer for layer in layers if not await self.cs.exists(layer.digest)]
        quiet = known and all(unpacked)  # blobs it lacks (a registry's compressed layers) come silently
        for layer, done in zip(layers, unpacked, strict=True):
            if not quiet:
                status = "Already exists" if done else "Pulling fs layer"
                await self.say({"status": status, "progressDetail": {}, "id": short_id(layer.digest)})
        limit = asyncio.Semaphore(CONCURRENT_DOWNLOADS)

        async def fetch(layer: Descriptor, report: bool) -> None:
            async with limit:
                await self._download(layer, report)

        await asyncio.gather(*(fetch(layer, not done) for layer, done in zip(layers, unpacked, strict=True)
                               if layer in missing))

    async def _download(self, layer: Descriptor, report: bool) -> None:
        lid = short_id(layer.digest)
        await self.cs.write_blob(self._counted(layer, lid if report else ""), expected=layer.digest,
                                 size=layer.size, ref=f"layer-{layer.digest}", labels=self.source)
        if report:
            await self.say({"status": "Verifying Checksum", "progressDetail": {}, "id": lid})
            await self.say({"status": "Download complete", "progressDetail": {}, "id": lid})

    async def _counted(self, layer: Descriptor, lid: str) -> AsyncIterator[bytes]:
        current = reported = 0
        step = max(layer.size // 20, 256 << 10)
        async for chunk in self.client.fetch_blob(self.ref, layer):
            current += len(chunk)
            if lid and (current - reported >= step or current == layer.size):
                reported = current
                await self.say({"status": "Downloading", "progressDetail": {"current": current, "total": layer.size},
                                "progress": progress_bar(current, layer.size), "id": lid})
            yield chunk

    async def _layer_progress(self, layer: Descriptor, status: str) -> None:
        lid = short_id(layer.digest)
        if status == "Extracting":
            await self.say({"status": "Extracting", "progressDetail": {"current": layer.size, "total": layer.size},
                            "progress": progress_bar(layer.size, layer.size), "id": lid})
        elif status == "Pull complete":
            await self.say({"status": "Pull complete", "progressDetail": {}, "id": lid})


async def pull(cs: Containerd, store: ImageStore, image: str, tag: str, auth: dict | None,
               progress: Progress | None) -> None:
    ref = pull_reference(image, tag)
    async with RegistryClient(ref.domain, auth) as client:
        await Puller(cs, store, ref, client, progress).pull()
