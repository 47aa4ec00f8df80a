"""Bad input, side by side: the same gRPC calls against whale-containerd and the real containerd 1.6
must fail with the same status code and the same message (clients match on both)."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.any_pb2 import Any
from google.protobuf.empty_pb2 import Empty

from corelib.api.containerd.services.containers.v1 import containers_pb2 as cpb
from corelib.api.containerd.services.containers.v1 import containers_pb2_grpc
from corelib.api.containerd.services.content.v1 import content_pb2 as content_pb
from corelib.api.containerd.services.content.v1 import content_pb2_grpc
from corelib.api.containerd.services.events.v1 import events_pb2 as epb
from corelib.api.containerd.services.events.v1 import events_pb2_grpc
from corelib.api.containerd.services.images.v1 import images_pb2 as ipb
from corelib.api.containerd.services.images.v1 import images_pb2_grpc
from corelib.api.containerd.services.leases.v1 import leases_pb2 as lpb
from corelib.api.containerd.services.leases.v1 import leases_pb2_grpc
from corelib.api.containerd.services.namespaces.v1 import namespace_pb2 as npb
from corelib.api.containerd.services.namespaces.v1 import namespace_pb2_grpc
from corelib.api.containerd.services.snapshots.v1 import snapshots_pb2 as spb
from corelib.api.containerd.services.snapshots.v1 import snapshots_pb2_grpc
from corelib.api.containerd.services.tasks.v1 import tasks_pb2 as tpb
from corelib.api.containerd.services.tasks.v1 import tasks_pb2_grpc
from corelib.api.containerd.types.descriptor_pb2 import Descriptor

NS = "wbconform"
MD = [("containerd-namespace", NS)]
SPEC = Any(type_url="types.containerd.io/opencontainers/runtime-spec/1/Spec", value=b"{}")
DIGEST = "sha256:" + "ab" * 32


def container(cid: str, runtime: str = "io.containerd.runc.v2") -> cpb.Container:
    return cpb.Container(id=cid, runtime=cpb.Container.Runtime(name=runtime), spec=SPEC)


def image(name: str, digest: str = DIGEST) -> ipb.Image:
    return ipb.Image(name=name, target=Descriptor(media_type="application/vnd.oci.image.index.v1+json",
                                                  digest=digest, size=10))


def containers(ch):  # noqa: ANN001, ANN201
    return containers_pb2_grpc.ContainersStub(ch)


def _write(ch, ref: str, data: bytes, expected: str, total: int):  # noqa: ANN001, ANN201
    requests = [content_pb.WriteContentRequest(action=content_pb.STAT, ref=ref),
                content_pb.WriteContentRequest(action=content_pb.WRITE, ref=ref, data=data),
                content_pb.WriteContentRequest(action=content_pb.COMMIT, ref=ref, offset=len(data), expected=expected,
                                               total=total)]
    return list(content_pb2_grpc.ContentStub(ch).Write(iter(requests), metadata=MD))


def _prepare_child_of_active(ch) -> None:  # noqa: ANN001
    snaps = snapshots_pb2_grpc.SnapshotsStub(ch)
    key = "active"
    snaps.Prepare(spb.PrepareSnapshotRequest(snapshotter="overlayfs", key=key), metadata=MD)
    snaps.Prepare(spb.PrepareSnapshotRequest(snapshotter="overlayfs", key=key + "-child", parent=key), metadata=MD)


def _subscribe_bad_filter(ch) -> None:  # noqa: ANN001
    stream = events_pb2_grpc.EventsStub(ch).Subscribe(epb.SubscribeRequest(filters=["topic~="]), metadata=MD)
    next(iter(stream))


CASES = {
    "no namespace": lambda ch: containers(ch).Get(cpb.GetContainerRequest(id="x")),
    "invalid namespace": lambda ch: containers(ch).Get(cpb.GetContainerRequest(id="x"),
                                                       metadata=[("containerd-namespace", "bad ns!")]),
    "unknown container": lambda ch: containers(ch).Get(cpb.GetContainerRequest(id="nope"), metadata=MD),
    "delete unknown container": lambda ch: containers(ch).Delete(cpb.DeleteContainerRequest(id="nope"), metadata=MD),
    "duplicate container": lambda ch: [containers(ch).Create(cpb.CreateContainerRequest(container=container("dup")),
                                                             metadata=MD) for _ in range(2)],
    "invalid container id": lambda ch: containers(ch).Create(
        cpb.CreateContainerRequest(container=container("bad id!")), metadata=MD),
    "container without runtime": lambda ch: containers(ch).Create(
        cpb.CreateContainerRequest(container=container("noruntime", runtime="")), metadata=MD),
    "container without spec": lambda ch: containers(ch).Create(
        cpb.CreateContainerRequest(container=cpb.Container(id="nospec", runtime=cpb.Container.Runtime(name="r"))),
        metadata=MD),
    "update immutable field": lambda ch: [
        containers(ch).Create(cpb.CreateContainerRequest(container=container("imm")), metadata=MD),
        containers(ch).Update(cpb.UpdateContainerRequest(container=container("imm", runtime="other")), metadata=MD)],
    "unknown image": lambda ch: images_pb2_grpc.ImagesStub(ch).Get(ipb.GetImageRequest(name="nope"), metadata=MD),
    "duplicate image": lambda ch: [images_pb2_grpc.ImagesStub(ch).Create(
        ipb.CreateImageRequest(image=image("dup:img")), metadata=MD) for _ in range(2)],
    "image with invalid digest": lambda ch: images_pb2_grpc.ImagesStub(ch).Create(
        ipb.CreateImageRequest(image=image("bad:img", digest="sha256:xyz")), metadata=MD),
    "delete unknown image": lambda ch: images_pb2_grpc.ImagesStub(ch).Delete(
        ipb.DeleteImageRequest(name="nope"), metadata=MD),
    "delete unknown lease": lambda ch: leases_pb2_grpc.LeasesStub(ch).Delete(lpb.DeleteRequest(id="nope"),
                                                                             metadata=MD),
    "duplicate lease": lambda ch: [leases_pb2_grpc.LeasesStub(ch).Create(lpb.CreateRequest(id="dup"), metadata=MD)
                                   for _ in range(2)],
    "unknown snapshot": lambda ch: snapshots_pb2_grpc.SnapshotsStub(ch).Stat(
        spb.StatSnapshotRequest(snapshotter="overlayfs", key="nope"), metadata=MD),
    "snapshot with unknown parent": lambda ch: snapshots_pb2_grpc.SnapshotsStub(ch).Prepare(
        spb.PrepareSnapshotRequest(snapshotter="overlayfs", key="orphan", parent="nope"), metadata=MD),
    "snapshot on an active parent": _prepare_child_of_active,
    "unknown snapshotter": lambda ch: snapshots_pb2_grpc.SnapshotsStub(ch).Stat(
        spb.StatSnapshotRequest(snapshotter="nosuch", key="x"), metadata=MD),
    "duplicate snapshot": lambda ch: [snapshots_pb2_grpc.SnapshotsStub(ch).Prepare(
        spb.PrepareSnapshotRequest(snapshotter="overlayfs", key="dupsnap"), metadata=MD) for _ in range(2)],
    "unknown content": lambda ch: content_pb2_grpc.ContentStub(ch).Info(content_pb.InfoRequest(digest=DIGEST),
                                                                        metadata=MD),
    "corrupt content (digest mismatch)": lambda ch: _write(ch, "corrupt-digest", b"hello", DIGEST, 5),
    "corrupt content (size mismatch)": lambda ch: _write(ch, "corrupt-size", b"hello", "", 6),
    "task of unknown container": lambda ch: tasks_pb2_grpc.TasksStub(ch).Get(
        tpb.GetRequest(container_id="nope"), metadata=MD),
    "container without a task": lambda ch: [
        containers(ch).Create(cpb.CreateContainerRequest(container=container("notask")), metadata=MD),
        tasks_pb2_grpc.TasksStub(ch).Get(tpb.GetRequest(container_id="notask"), metadata=MD)],
    "exec without id": lambda ch: tasks_pb2_grpc.TasksStub(ch).Exec(
        tpb.ExecProcessRequest(container_id="notask"), metadata=MD),
    "delete unknown namespace": lambda ch: namespace_pb2_grpc.NamespacesStub(ch).Delete(
        npb.DeleteNamespaceRequest(name="nosuchns")),
    "delete a namespace in use": lambda ch: [
        leases_pb2_grpc.LeasesStub(ch).Create(lpb.CreateRequest(id="keepns"), metadata=MD),
        namespace_pb2_grpc.NamespacesStub(ch).Delete(npb.DeleteNamespaceRequest(name=NS))],
    "bad subscription filter": _subscribe_bad_filter,
}


def outcome(channel: grpc.Channel, case) -> tuple[str, str]:  # noqa: ANN001
    try:
        case(channel)
    except grpc.RpcError as e:
        return e.code().name, e.details()
    return "OK", ""


@pytest.fixture(scope="module")
def channels(whale, real):  # noqa: ANN001, ANN201
    ours, theirs = grpc.insecure_channel(f"unix:{whale.address}"), grpc.insecure_channel(f"unix:{real.address}")
    with ours, theirs:
        yield ours, theirs


@pytest.mark.parametrize("name", list(CASES))
def test_same_status_and_message_as_the_real_containerd(channels, name):
    ours, theirs = channels
    expected = outcome(theirs, CASES[name])
    assert expected[0] != "OK", f"the real containerd accepted {name!r}"
    assert outcome(ours, CASES[name]) == expected, expected


def test_unknown_namespace_is_answered_ok_with_no_labels(channels):
    for channel in channels:
        response = namespace_pb2_grpc.NamespacesStub(channel).Get(npb.GetNamespaceRequest(name="never-made"))
        assert response.namespace.name == "never-made"
        assert dict(response.namespace.labels) == {}


def test_health_and_version(channels):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from corelib.api.containerd.services.version.v1 import version_pb2_grpc

    ours, _ = channels
    health = health_pb2_grpc.HealthStub(ours).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert version_pb2_grpc.VersionStub(ours).Version(Empty()).version.startswith("1.6")
