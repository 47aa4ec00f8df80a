"""containerd's content, image, snapshot, diff and lease services, as the daemon calls them
(the client half of containerd's services/*/v1 APIs). gRPC errors become errdefs here, once."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass, field, replace

import grpc
from google.protobuf import field_mask_pb2

from corelib import errdefs
from corelib.api.containerd.services.content.v1 import content_pb2 as cpb
from corelib.api.containerd.services.content.v1 import content_pb2_grpc
from corelib.api.containerd.services.diff.v1 import diff_pb2, diff_pb2_grpc
from corelib.api.containerd.services.images.v1 import images_pb2, images_pb2_grpc
from corelib.api.containerd.services.leases.v1 import leases_pb2, leases_pb2_grpc
from corelib.api.containerd.services.snapshots.v1 import snapshots_pb2, snapshots_pb2_grpc
from corelib.api.containerd.types.descriptor_pb2 import Descriptor
from corelib.api.containerd.types.mount_pb2 import Mount

WRITE_CHUNK = 1 << 20
LABEL_UNCOMPRESSED = "containerd.io/uncompressed"
LABEL_GC_SNAPSHOT = "containerd.io/gc.ref.snapshot."
LABEL_GC_EXPIRE = "containerd.io/gc.expire"
LABEL_DISTRIBUTION_SOURCE = "containerd.io/distribution.source."


def grpc_error(e: grpc.aio.AioRpcError) -> errdefs.WhaleError:
    return errdefs.from_grpc_code(e.code().value[0], e.details() or "")


@contextlib.contextmanager
def errors() -> Iterator[None]:
    try:
        yield
    except grpc.aio.AioRpcError as e:
        raise grpc_error(e) from None


@dataclass(frozen=True)
class ImageRecord:
    """containerd's images.Image: a name and the descriptor it points at."""

    name: str
    target: Descriptor
    labels: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0

    @classmethod
    def from_pb(cls, img: images_pb2.Image) -> ImageRecord:
        return cls(img.name, img.target, dict(img.labels), img.created_at.ToNanoseconds() / 1e9,
                   img.updated_at.ToNanoseconds() / 1e9)


@dataclass
class Containerd:
    """One namespace (and optionally one lease) of a containerd, over a grpc.aio channel."""

    channel: grpc.aio.Channel
    namespace: str
    lease: str = ""
    snapshotter: str = "overlayfs"

    def __post_init__(self) -> None:
        self.content = content_pb2_grpc.ContentStub(self.channel)
        self.images = images_pb2_grpc.ImagesStub(self.channel)
        self.snapshots = snapshots_pb2_grpc.SnapshotsStub(self.channel)
        self.diff = diff_pb2_grpc.DiffStub(self.channel)
        self.leases = leases_pb2_grpc.LeasesStub(self.channel)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        md = (("containerd-namespace", self.namespace),)
        return (*md, ("containerd-lease", self.lease)) if self.lease else md

    # leases

    @contextlib.asynccontextmanager
    async def with_lease(self) -> AsyncIterator[Containerd]:
        """A temporary lease (containerd's WithLease) protecting what is written under it from GC
        until an image refers to it; deleted on the way out, and expiring in a day should the
        daemon die before that."""
        lease_id = f"whaled-{secrets.token_hex(8)}"
        expire = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=24)
        labels = {LABEL_GC_EXPIRE: expire.strftime("%Y-%m-%dT%H:%M:%SZ")}
        with errors():
            await self.leases.Create(leases_pb2.CreateRequest(id=lease_id, labels=labels), metadata=self.metadata)
        try:
            yield replace(self, lease=lease_id)
        finally:
            await self.delete_lease(lease_id)

    async def create_lease(self, lease_id: str) -> None:
        with errors():
            await self.leases.Create(leases_pb2.CreateRequest(id=lease_id), metadata=self.metadata)

    async def delete_lease(self, lease_id: str) -> None:
        with contextlib.suppress(errdefs.NotFound), errors():
            await self.leases.Delete(leases_pb2.DeleteRequest(id=lease_id), metadata=self.metadata)

    # content

    async def info(self, digest: str) -> cpb.Info:
        with errors():
            return (await self.content.Info(cpb.InfoRequest(digest=digest), metadata=self.metadata)).info

    async def exists(self, digest: str) -> bool:
        try:
            await self.info(digest)
        except errdefs.NotFound:
            return False
        return True

    async def read(self, digest: str) -> bytes:
        return b"".join([chunk async for chunk in self.read_stream(digest)])

    async def read_stream(self, digest: str) -> AsyncIterator[bytes]:
        with errors():
            async for resp in self.content.Read(cpb.ReadContentRequest(digest=digest), metadata=self.metadata):
                yield resp.data

    async def update_labels(self, digest: str, labels: dict[str, str]) -> None:
        """Set (or, with an empty value, remove) these labels on a blob, leaving the others."""
        mask = field_mask_pb2.FieldMask(paths=[f"labels.{k}" for k in labels])
        info = cpb.Info(digest=digest, labels={k: v for k, v in labels.items() if v})
        with errors():
            await self.content.Update(cpb.UpdateRequest(info=info, update_mask=mask), metadata=self.metadata)

    async def write_blob(self, data: bytes | AsyncIterable[bytes], expected: str = "", size: int = 0,
                         ref: str = "", labels: dict[str, str] | None = None) -> tuple[str, int]:
        """Content.Write, streamed: returns (digest, size). With `expected`, a blob already there is
        not sent again, and containerd refuses a stream whose digest differs."""
        if expected and await self.exists(expected):
            if labels:
                await self.update_labels(expected, labels)
            return expected, size or (await self.info(expected)).size
        ref = f"{ref or 'whaled'}-{secrets.token_hex(8)}"  # unique: concurrent writers never share an ingest
        call = self.content.Write(metadata=self.metadata)
        try:
            digest, total = await self._write(call, data, expected, size, ref, labels or {})
        except grpc.aio.AioRpcError as e:
            err = grpc_error(e)
            if isinstance(err, errdefs.AlreadyExists) and expected:
                return expected, size
            raise err from None
        finally:
            call.cancel()
        return digest, total

    async def _write(self, call: grpc.aio.StreamStreamCall, data: bytes | AsyncIterable[bytes], expected: str,
                     size: int, ref: str, labels: dict[str, str]) -> tuple[str, int]:
        await call.write(cpb.WriteContentRequest(action=cpb.STAT, ref=ref, total=size, expected=expected))
        await call.read()
        offset = 0
        digest = hashlib.sha256()
        async for chunk in _chunks(data):
            digest.update(chunk)
            await call.write(cpb.WriteContentRequest(action=cpb.WRITE, ref=ref, offset=offset, data=chunk))
            offset += len(chunk)
            await call.read()
        got = "sha256:" + digest.hexdigest()
        if expected and got != expected:
            await call.done_writing()
            await self.abort(ref)
            raise errdefs.FailedPrecondition(f"digest mismatch: got {got}, expected {expected}")
        await call.write(cpb.WriteContentRequest(action=cpb.COMMIT, ref=ref, offset=offset, total=offset,
                                                 expected=got, labels=labels))
        resp = await call.read()
        await call.done_writing()
        return resp.digest or got, offset

    async def abort(self, ref: str) -> None:
        with contextlib.suppress(errdefs.NotFound), errors():
            await self.content.Abort(cpb.AbortRequest(ref=ref), metadata=self.metadata)

    # images

    async def get_image(self, name: str) -> ImageRecord:
        with errors():
            resp = await self.images.Get(images_pb2.GetImageRequest(name=name), metadata=self.metadata)
        return ImageRecord.from_pb(resp.image)

    async def list_images(self, *filters: str) -> list[ImageRecord]:
        with errors():
            resp = await self.images.List(images_pb2.ListImagesRequest(filters=list(filters)),
                                          metadata=self.metadata)
        return [ImageRecord.from_pb(i) for i in resp.images]

    async def put_image(self, name: str, target: Descriptor, labels: dict[str, str] | None = None) -> None:
        """Create the image record, or point an existing one at `target` (containerd's
        images.Create falling back to Update, as ctr import does)."""
        img = images_pb2.Image(name=name, target=target, labels=labels or {})
        try:
            with errors():
                await self.images.Create(images_pb2.CreateImageRequest(image=img), metadata=self.metadata)
        except errdefs.AlreadyExists:
            mask = field_mask_pb2.FieldMask(paths=["target", *(f"labels.{k}" for k in labels or {})])
            with errors():
                await self.images.Update(images_pb2.UpdateImageRequest(image=img, update_mask=mask),
                                         metadata=self.metadata)

    async def delete_image(self, name: str, sync: bool = False) -> None:
        """Delete the record; with `sync`, containerd collects garbage before answering."""
        with errors():
            await self.images.Delete(images_pb2.DeleteImageRequest(name=name, sync=sync), metadata=self.metadata)

    # snapshots and diff

    async def stat_snapshot(self, key: str) -> snapshots_pb2.Info:
        with errors():
            resp = await self.snapshots.Stat(snapshots_pb2.StatSnapshotRequest(snapshotter=self.snapshotter, key=key),
                                             metadata=self.metadata)
        return resp.info

    async def prepare(self, key: str, parent: str, labels: dict[str, str] | None = None) -> list[Mount]:
        req = snapshots_pb2.PrepareSnapshotRequest(snapshotter=self.snapshotter, key=key, parent=parent,
                                                   labels=labels or {})
        with errors():
            return list((await self.snapshots.Prepare(req, metadata=self.metadata)).mounts)

    async def mounts(self, key: str) -> list[Mount]:
        req = snapshots_pb2.MountsRequest(snapshotter=self.snapshotter, key=key)
        with errors():
            return list((await self.snapshots.Mounts(req, metadata=self.metadata)).mounts)

    async def commit(self, name: str, key: str) -> None:
        req = snapshots_pb2.CommitSnapshotRequest(snapshotter=self.snapshotter, name=name, key=key)
        with errors():
            await self.snapshots.Commit(req, metadata=self.metadata)

    async def remove_snapshot(self, key: str) -> None:
        req = snapshots_pb2.RemoveSnapshotRequest(snapshotter=self.snapshotter, key=key)
        with errors():
            await self.snapshots.Remove(req, metadata=self.metadata)

    async def usage(self, key: str) -> int:
        req = snapshots_pb2.UsageRequest(snapshotter=self.snapshotter, key=key)
        with errors():
            return (await self.snapshots.Usage(req, metadata=self.metadata)).size

    async def apply(self, layer: Descriptor, mounts: list[Mount]) -> Descriptor:
        with errors():
            resp = await self.diff.Apply(diff_pb2.ApplyRequest(diff=layer, mounts=mounts), metadata=self.metadata)
        return resp.applied


async def _chunks(data: bytes | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        for i in range(0, len(data), WRITE_CHUNK):
            yield bytes(data[i:i + WRITE_CHUNK])
        return
    async for chunk in data:
        for i in range(0, len(chunk), WRITE_CHUNK):
            yield chunk[i:i + WRITE_CHUNK]
