"""The metadata store on SQLite: field masks, filters, namespaces, snapshot records against the overlay
snapshotter after a crash, and garbage collection by references."""

from __future__ import annotations

import os

import pytest
from google.protobuf.any_pb2 import Any

from corelib.api.containerd.services.containers.v1.containers_pb2 import Container
from corelib.api.containerd.services.images.v1.images_pb2 import Image
from corelib.api.containerd.types.descriptor_pb2 import Descriptor
from corelib.containerd.gc import GarbageCollector
from corelib.containerd.metadata import DB
from corelib.containerd.metadata.containers import ContainerStore
from corelib.containerd.metadata.content import ContentStore
from corelib.containerd.metadata.images import ImageStore
from corelib.containerd.metadata.leases import LeaseStore
from corelib.containerd.metadata.namespaces import NamespaceStore
from corelib.containerd.metadata.snapshots import SnapshotStore
from corelib.containerd.snapshots import ACTIVE, COMMITTED
from corelib.containerd.snapshots.overlay import OverlaySnapshotter
from corelib.errdefs import FailedPrecondition, InvalidArgument, NotFound
from corelib.images import content as local
from corelib.images.digest import of_bytes


@pytest.fixture
def db(tmp_path):  # noqa: ANN001, ANN201
    database = DB(tmp_path / "meta.db")
    yield database
    database.close()


def container(cid: str, **labels: str) -> Container:
    return Container(id=cid, labels=labels, image="busybox", runtime=Container.Runtime(name="io.containerd.runc.v2"),
                     spec=Any(type_url="types.containerd.io/opencontainers/runtime-spec/1/Spec", value=b"{}"))


def test_container_updates_follow_the_field_mask(db):
    store = ContainerStore(db)
    created = store.create("ns", container("c1", a="1", b="2"))
    wanted = container("c1", a="changed", c="3")
    wanted.image = "other"
    updated = store.update("ns", wanted, ["labels.a", "labels.b"])
    assert dict(updated.labels) == {"a": "changed"} and updated.image == "busybox"
    assert updated.created_at == created.created_at and updated.updated_at != created.updated_at
    replaced = store.update("ns", wanted, [])
    assert (dict(replaced.labels), replaced.image) == ({"a": "changed", "c": "3"}, "other")
    with pytest.raises(InvalidArgument, match='cannot update "runtime" field'):
        store.update("ns", wanted, ["runtime"])


def test_container_filters_and_namespaces(db):
    store = ContainerStore(db)
    store.create("ns", container("web", role="web"))
    store.create("ns", container("db", role="db"))
    store.create("other", container("web", role="web"))
    assert [c.id for c in store.list("ns", ["labels.role==db", "id==web"])] == ["db", "web"]
    assert [c.id for c in store.list("ns", ["labels.role~=^d"])] == ["db"]
    store.delete("other", "web")
    with pytest.raises(NotFound, match='container "web" in namespace "other": not found'):
        store.get("other", "web")
    assert [c.id for c in store.list("ns")] == ["db", "web"]


def test_namespaces_come_and_go_with_their_objects(db):
    namespaces = NamespaceStore(db)
    assert namespaces.labels("never") == {}
    ContainerStore(db).create("busy", container("c"))
    assert "busy" in namespaces.list()
    with pytest.raises(FailedPrecondition, match='must be empty, but it still has containers'):
        namespaces.delete("busy")
    ContainerStore(db).delete("busy", "c")
    namespaces.delete("busy")
    assert "busy" not in namespaces.list()


def test_image_annotations_update_alone(db):
    store = ImageStore(db)
    target = Descriptor(media_type="application/vnd.oci.image.manifest.v1+json", digest=of_bytes(b"m"), size=1,
                        annotations={"x": "1"})
    store.create("ns", Image(name="img:1", target=target))
    wanted = Image(name="img:1", target=Descriptor(annotations={"x": "2", "y": "3"}))
    updated = store.update("ns", wanted, ["annotations.x"])
    assert dict(updated.target.annotations) == {"x": "2"} and updated.target.digest == of_bytes(b"m")
    assert [i.name for i in store.list("ns", [f"target.digest=={of_bytes(b'm')}"])] == ["img:1"]


@pytest.fixture
def snapshots(db, tmp_path):  # noqa: ANN001, ANN201
    backend = OverlaySnapshotter(tmp_path / "overlayfs")
    yield SnapshotStore(db, "overlayfs", backend, LeaseStore(db))
    backend.close()


def test_snapshot_chain_and_mounts(snapshots, tmp_path):
    mounts = snapshots.prepare("ns", "base", "", {})
    assert (mounts[0].type, mounts[0].options) == ("bind", ["rw", "rbind"])
    snapshots.commit("ns", "layer1", "base", {"l": "1"})
    mounts = snapshots.prepare("ns", "top", "layer1", {})
    options = dict(o.split("=", 1) for o in mounts[0].options if "=" in o)
    assert mounts[0].type == "overlay" and options["lowerdir"].endswith("/fs")
    assert (snapshots.stat("ns", "top").kind, snapshots.stat("ns", "layer1").kind) == (ACTIVE, COMMITTED)
    assert snapshots.stat("ns", "top").parent == "layer1"
    with pytest.raises(NotFound):
        snapshots.stat("other-namespace", "top")
    with pytest.raises(FailedPrecondition, match="cannot remove snapshot with child"):
        snapshots.remove("ns", "layer1")


def test_snapshots_reconcile_after_a_crash(db, snapshots):
    snapshots.prepare("ns", "kept", "", {})
    snapshots.backend.prepare("ns/99/orphan-in-backend")  # made, but the crash came before it was recorded
    orphan_dir = snapshots.backend.fs_path(2).parent
    assert orphan_dir.exists()
    db.view().execute("INSERT INTO snapshots VALUES ('ns', 'overlayfs', 'lost', 'ns/98/lost', '', '{}', 0, 0)")
    snapshots.reconcile()
    snapshots.backend._remover.shutdown(wait=True)
    assert [i.name for i in snapshots.list("ns")] == ["kept"]
    assert snapshots.backend.keys() == [db.view().execute("SELECT backend_key FROM snapshots").fetchone()[0]]
    assert not orphan_dir.exists()
    (snapshots.backend.root / "snapshots" / "new-leftover").mkdir()
    snapshots.backend.cleanup()
    assert sorted(os.listdir(snapshots.backend.root / "snapshots")) == ["1"]


def test_garbage_collection_follows_references(db, snapshots, tmp_path):
    leases = LeaseStore(db)
    content = ContentStore(db, local.ContentStore(tmp_path / "content"), leases)

    def put(data: bytes, labels: dict[str, str] | None = None) -> str:
        writer = content.writer("ns", f"ref-{of_bytes(data)}")
        writer.write(data)
        writer.commit(0, "", labels or {})
        writer.close()
        return of_bytes(data)

    snapshots.prepare("ns", "extract", "", {})
    snapshots.commit("ns", "chain1", "extract", {})
    config = put(b"{}", {"containerd.io/gc.ref.snapshot.overlayfs": "chain1"})
    layer = put(b"layer bytes")
    manifest = put(b'{"layers":[]}', {"containerd.io/gc.ref.content.config": config,
                                      "containerd.io/gc.ref.content.l.0": layer})
    garbage = put(b"nobody wants me")
    snapshots.prepare("ns", "unreferenced", "", {})
    ImageStore(db).create("ns", Image(name="img", target=Descriptor(
        media_type="application/vnd.oci.image.manifest.v1+json", digest=manifest, size=13)))
    GarbageCollector(db, content, {"overlayfs": snapshots}).collect()
    assert {i.digest for i in content.list("ns")} == {config, layer, manifest}
    assert not content.store.exists(garbage)
    assert [i.name for i in snapshots.list("ns")] == ["chain1"]
