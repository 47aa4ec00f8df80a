"""Small gRPC clients for the tests: streaming content writes, layer unpack through the API."""

from __future__ import annotations

import hashlib

from corelib.api.containerd.services.content.v1 import content_pb2 as cpb
from corelib.api.containerd.services.content.v1 import content_pb2_grpc
from corelib.api.containerd.services.diff.v1 import diff_pb2, diff_pb2_grpc
from corelib.api.containerd.services.snapshots.v1 import snapshots_pb2 as spb
from corelib.api.containerd.services.snapshots.v1 import snapshots_pb2_grpc
from corelib.api.containerd.types.descriptor_pb2 import Descriptor

LAYER = "application/vnd.oci.image.layer.v1.tar"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_content(channel, metadata, ref: str, data: bytes, chunk: int = 1 << 20, labels=None,  # noqa: ANN001
                  start: int = 0) -> list[cpb.WriteContentResponse]:
    """STAT, then WRITE from offset `start` in chunks, then COMMIT with the expected digest and size."""
    def requests():  # noqa: ANN202
        yield cpb.WriteContentRequest(action=cpb.STAT, ref=ref, total=len(data))
        for offset in range(start, len(data), chunk):
            yield cpb.WriteContentRequest(action=cpb.WRITE, ref=ref, offset=offset, data=data[offset:offset + chunk])
        yield cpb.WriteContentRequest(action=cpb.COMMIT, ref=ref, offset=len(data), total=len(data),
                                      expected=digest_of(data), labels=labels or {})
    return list(content_pb2_grpc.ContentStub(channel).Write(requests(), metadata=metadata))


def apply_layer(channel, metadata, key: str, parent: str, data: bytes, commit_as: str = "") -> diff_pb2.ApplyResponse:  # noqa: ANN001
    """What an unpacker does for one layer: store it, prepare `key` on `parent`, apply, commit."""
    write_content(channel, metadata, f"layer-{key}", data)
    snapshots = snapshots_pb2_grpc.SnapshotsStub(channel)
    mounts = snapshots.Prepare(spb.PrepareSnapshotRequest(snapshotter="overlayfs", key=key, parent=parent),
                               metadata=metadata).mounts
    applied = diff_pb2_grpc.DiffStub(channel).Apply(diff_pb2.ApplyRequest(
        diff=Descriptor(media_type=LAYER, digest=digest_of(data), size=len(data)), mounts=mounts), metadata=metadata)
    if commit_as:
        snapshots.Commit(spb.CommitSnapshotRequest(snapshotter="overlayfs", name=commit_as, key=key),
                         metadata=metadata)
    return applied
