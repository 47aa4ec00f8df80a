"""whale-containerd's stores through its gRPC API: streaming content (resumable, verified), layers
applied onto overlay snapshots and mounted by the kernel, malicious layers refused, events with
filters, garbage collection after leases, and metadata that survives a kill -9."""

from __future__ import annotations

import copy as copy_module
import os
import queue
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import threading
from pathlib import Path

import grpc
import pytest
from google.protobuf.any_pb2 import Any

from corelib.api.containerd.services.containers.v1 import containers_pb2 as cpb
from corelib.api.containerd.services.containers.v1 import containers_pb2_grpc
from corelib.api.containerd.services.content.v1 import content_pb2 as content_pb
from corelib.api.containerd.services.content.v1 import content_pb2_grpc
from corelib.api.containerd.services.diff.v1 import diff_pb2, diff_pb2_grpc
from corelib.api.containerd.services.events.v1 import events_pb2, events_pb2_grpc
from corelib.api.containerd.services.images.v1 import images_pb2 as ipb
from corelib.api.containerd.services.images.v1 import images_pb2_grpc
from corelib.api.containerd.services.leases.v1 import leases_pb2 as lpb
from corelib.api.containerd.services.leases.v1 import leases_pb2_grpc
from corelib.api.containerd.services.snapshots.v1 import snapshots_pb2 as spb
from corelib.api.containerd.services.snapshots.v1 import snapshots_pb2_grpc
from corelib.api.containerd.types.descriptor_pb2 import Descriptor
from tests.integration.containerd.grpc_helpers import apply_layer, digest_of, write_content
from tests.integration.containerd.harness import WhaleContainerd, layer_tar, tar_entry, wait_for
from tests.support import cleanup
from tests.support.env import require_binary, require_root, venv_bin


def content_stub(whale):  # noqa: ANN001, ANN201
    return content_pb2_grpc.ContentStub(whale.channel())


def test_content_write_is_resumable_verified_and_readable(whale):
    data = os.urandom(3 << 20)
    md = whale.metadata()
    content = content_stub(whale)

    def first_part():  # noqa: ANN202 - a writer that goes away after 1 MiB
        yield content_pb.WriteContentRequest(action=content_pb.STAT, ref="resume-me", total=len(data))
        yield content_pb.WriteContentRequest(action=content_pb.WRITE, ref="resume-me", data=data[:1 << 20])
    assert [r.offset for r in content.Write(first_part(), metadata=md)] == [0, 1 << 20]
    assert content.Status(content_pb.StatusRequest(ref="resume-me"), metadata=md).status.offset == 1 << 20

    responses = write_content(whale.channel(), md, "resume-me", data, start=1 << 20)
    assert responses[0].offset == 1 << 20
    assert responses[-1].action == content_pb.COMMIT and responses[-1].digest == digest_of(data)
    info = content.Info(content_pb.InfoRequest(digest=digest_of(data)), metadata=md).info
    assert info.size == len(data)
    chunks = content.Read(content_pb.ReadContentRequest(digest=digest_of(data)), metadata=md)
    assert b"".join(c.data for c in chunks) == data
    part = content.Read(content_pb.ReadContentRequest(digest=digest_of(data), offset=100, size=5000), metadata=md)
    assert b"".join(c.data for c in part) == data[100:5100]
    assert not content.ListStatuses(content_pb.ListStatusesRequest(), metadata=md).statuses
    with pytest.raises(grpc.RpcError) as again:
        write_content(whale.channel(), md, "again", data)
    assert again.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_corrupt_content_is_refused_and_leaves_nothing(whale):
    md = whale.metadata()
    content = content_stub(whale)
    requests = [content_pb.WriteContentRequest(action=content_pb.WRITE, ref="corrupt", data=b"not what was promised"),
                content_pb.WriteContentRequest(action=content_pb.COMMIT, ref="corrupt", offset=21,
                                               expected=digest_of(b"something else"))]
    with pytest.raises(grpc.RpcError) as refused:
        list(content.Write(iter(requests), metadata=md))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "unexpected commit digest" in refused.value.details()
    with pytest.raises(grpc.RpcError) as gone:
        content.Status(content_pb.StatusRequest(ref="corrupt"), metadata=md)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    store = whale.root / "io.containerd.content.v1.content"
    assert not (store / "blobs/sha256" / digest_of(b"not what was promised").split(":")[1]).exists()
    assert list((store / "ingest").iterdir()) == []


def _mount_overlay(mounts, target: Path) -> None:  # noqa: ANN001
    (mount,) = mounts
    subprocess.run(["mount", "-t", mount.type, mount.source, "-o", ",".join(mount.options), str(target)], check=True)


def test_layers_stack_into_overlay_snapshots_the_kernel_mounts(whale, tmp_path):
    md = whale.metadata()
    base = layer_tar(
        tar_entry("etc", "dir", mode=0o755), tar_entry("a", "dir", mode=0o755),
        tar_entry("a/keep", data=b"keep"), tar_entry("a/gone", data=b"gone"),
        tar_entry("opq", "dir", mode=0o750, uid=7, gid=8), tar_entry("opq/old", data=b"old"),
        tar_entry("etc-link", "symlink", linkname="/etc"),
        tar_entry("etc-link/through", data=b"written through a symlink"),
        tar_entry("bin-su", data=b"#!", mode=0o4755, uid=1000, gid=1000),
        tar_entry("a/hard", "hardlink", linkname="a/keep"))
    applied = apply_layer(whale.channel(), md, "extract-1", "", base, commit_as="layer-1").applied
    assert applied.digest == digest_of(base) and applied.size == len(base)
    assert applied.media_type == "application/vnd.oci.image.layer.v1.tar"
    upper = layer_tar(
        tar_entry("a/.wh.gone"), tar_entry("opq/.wh..wh..opq"), tar_entry("opq/new", data=b"new"),
        tar_entry("deep/er/file", data=b"parents made"))
    apply_layer(whale.channel(), md, "extract-2", "layer-1", upper, commit_as="layer-2")

    snapshots = snapshots_pb2_grpc.SnapshotsStub(whale.channel())
    mounts = snapshots.Prepare(spb.PrepareSnapshotRequest(snapshotter="overlayfs", key="rootfs", parent="layer-2"),
                               metadata=md).mounts
    assert mounts[0].type == "overlay" and any(o.startswith("upperdir=") for o in mounts[0].options)
    target = tmp_path / "merged"
    target.mkdir()
    _mount_overlay(mounts, target)
    try:
        assert (target / "a/keep").read_bytes() == b"keep"
        assert not (target / "a/gone").exists()
        assert sorted(os.listdir(target / "opq")) == ["new"]
        assert (target / "etc/through").read_bytes() == b"written through a symlink"
        assert (target / "deep/er/file").read_bytes() == b"parents made"
        su = (target / "bin-su").stat()
        assert (stat.S_IMODE(su.st_mode), su.st_uid, su.st_gid) == (0o4755, 1000, 1000)
        assert (target / "a/hard").stat().st_ino == (target / "a/keep").stat().st_ino
        (target / "written-by-container").write_text("x")
    finally:
        subprocess.run(["umount", str(target)], check=True)
    kinds = {i.name: i.kind for r in snapshots.List(spb.ListSnapshotsRequest(snapshotter="overlayfs"), metadata=md)
             for i in r.info}
    assert kinds == {"layer-1": spb.COMMITTED, "layer-2": spb.COMMITTED, "rootfs": spb.ACTIVE}
    view = snapshots.View(spb.ViewSnapshotRequest(snapshotter="overlayfs", key="view-1", parent="layer-1"),
                          metadata=md).mounts
    assert (view[0].type, list(view[0].options)) == ("bind", ["ro", "rbind"])
    with pytest.raises(grpc.RpcError) as busy:
        snapshots.Remove(spb.RemoveSnapshotRequest(snapshotter="overlayfs", key="layer-2"), metadata=md)
    assert busy.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    for key in ("rootfs", "view-1", "layer-2"):
        snapshots.Remove(spb.RemoveSnapshotRequest(snapshotter="overlayfs", key=key), metadata=md)


MALICIOUS = {
    "parent traversal": [tar_entry("../escaped", data=b"x")],
    "absolute path": [tar_entry("{canary}/escaped", data=b"x")],
    "hard link out of the layer": [tar_entry("passwd", "hardlink", linkname="../../../../../../etc/passwd")],
    "block device": [tar_entry("dev/sda", "block", major=8, minor=0)],
    "character device other than mem/tty": [tar_entry("dev/mem-kmsg", "char", major=10, minor=1)],
    "traversal after good entries": [tar_entry("ok", data=b"fine"), tar_entry("a/../../escaped", data=b"x")],
}


def live_snapshot_dirs(snapshot_dirs: Path) -> set[str]:
    """Snapshot directories in use (removed ones are renamed away first, then deleted in the background)."""
    return {d for d in os.listdir(snapshot_dirs) if d.isdigit()}


def renamed(info: tarfile.TarInfo, name: str) -> tarfile.TarInfo:
    """A copy under another name (TarInfo.replace exists only from Python 3.11.4; Debian 12 has 3.11.2)."""
    copy = copy_module.copy(info)
    copy.name = name
    return copy


@pytest.mark.parametrize("name", list(MALICIOUS))
def test_malicious_layer_is_refused_and_writes_nothing_outside(whale, name):
    canary = Path(tempfile.mkdtemp(prefix="wb-canary-", dir="/tmp"))
    try:
        entries = [(renamed(info, info.name.format(canary=canary)), data) for info, data in MALICIOUS[name]]
        snapshot_dirs = whale.root / "io.containerd.snapshotter.v1.overlayfs/snapshots"
        before = live_snapshot_dirs(snapshot_dirs)
        with pytest.raises(grpc.RpcError) as refused:
            apply_layer(whale.channel(), whale.metadata(), f"evil-{abs(hash(name))}", "", layer_tar(*entries))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "refusing layer entry" in refused.value.details()
        assert list(canary.iterdir()) == []
        (new,) = live_snapshot_dirs(snapshot_dirs) - before
        assert sorted(os.listdir(snapshot_dirs / new)) == ["fs", "work"]  # nothing beside the snapshot's fs
        assert not (snapshot_dirs.parent / "escaped").exists()
    finally:
        canary.rmdir()


def test_a_symlink_cannot_carry_writes_out_of_the_snapshot(whale):
    canary = Path(tempfile.mkdtemp(prefix="wb-canary-", dir="/tmp"))
    try:
        evil = layer_tar(tar_entry("out", "symlink", linkname=str(canary)), tar_entry("out/planted", data=b"x"),
                         tar_entry("rel", "symlink", linkname="../../../../../../.." + str(canary)),
                         tar_entry("rel/planted2", data=b"x"))
        apply_layer(whale.channel(), whale.metadata(), "symlinks", "", evil)
        assert list(canary.iterdir()) == []
        snapshot_dirs = whale.root / "io.containerd.snapshotter.v1.overlayfs/snapshots"
        fs = next(snapshot_dirs / d / "fs" for d in live_snapshot_dirs(snapshot_dirs)
                  if (snapshot_dirs / d / "fs/out").is_symlink())
        assert (fs / str(canary).lstrip("/") / "planted").exists()
        assert (fs / str(canary).lstrip("/") / "planted2").exists()
    finally:
        for p in canary.iterdir():
            p.unlink()
        canary.rmdir()


def test_events_are_delivered_live_and_filtered(whale):
    md = whale.metadata()
    received: queue.Queue = queue.Queue()
    stream = events_pb2_grpc.EventsStub(whale.channel()).Subscribe(
        events_pb2.SubscribeRequest(filters=[f"namespace=={whale.namespace},topic~=|^/images/|"]))

    def pump() -> None:
        try:
            for envelope in stream:
                received.put(envelope)
        except grpc.RpcError:
            pass
    stream.initial_metadata()  # sent once the subscription is in place
    threading.Thread(target=pump, daemon=True).start()
    images = images_pb2_grpc.ImagesStub(whale.channel())
    target = Descriptor(media_type="application/vnd.oci.image.manifest.v1+json", digest=digest_of(b"m"), size=1)
    containers_pb2_grpc.ContainersStub(whale.channel()).Create(cpb.CreateContainerRequest(container=cpb.Container(
        id="not-an-image-event", runtime=cpb.Container.Runtime(name="io.containerd.runc.v2"),
        spec=Any(type_url="x", value=b"{}"))), metadata=md)
    images.Create(ipb.CreateImageRequest(image=ipb.Image(name="seen", target=target)), metadata=md)
    images.Update(ipb.UpdateImageRequest(image=ipb.Image(name="seen", target=target, labels={"k": "v"})), metadata=md)
    images.Delete(ipb.DeleteImageRequest(name="seen"), metadata=md)
    got = [received.get(timeout=10) for _ in range(3)]
    stream.cancel()
    assert [e.topic for e in got] == ["/images/create", "/images/update", "/images/delete"]
    assert {e.namespace for e in got} == {whale.namespace}
    assert got[0].event.type_url == "containerd.services.images.v1.ImageCreate"
    assert received.empty()


def test_deleting_a_lease_collects_what_only_it_kept(whale):
    md = whale.metadata()
    leases = leases_pb2_grpc.LeasesStub(whale.channel())
    lease = leases.Create(lpb.CreateRequest(id="pull-1"), metadata=md).lease
    leased = [*md, ("containerd-lease", lease.id)]
    layer, config = os.urandom(1000), b'{"config":{}}'
    manifest = (b'{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"%s"},'
                b'"layers":[{"digest":"%s"}]}' % (digest_of(config).encode(), digest_of(layer).encode()))
    orphan = os.urandom(500)
    for ref, blob in (("l", layer), ("c", config), ("m", manifest), ("o", orphan)):
        write_content(whale.channel(), leased, f"gc-{ref}", blob)
    resources = {r.id for r in leases.ListResources(lpb.ListResourcesRequest(id=lease.id), metadata=md).resources}
    assert {digest_of(b) for b in (layer, config, manifest, orphan)} <= resources
    images_pb2_grpc.ImagesStub(whale.channel()).Create(ipb.CreateImageRequest(image=ipb.Image(
        name="kept:1", target=Descriptor(media_type="application/vnd.oci.image.manifest.v1+json",
                                         digest=digest_of(manifest), size=len(manifest)))), metadata=md)
    leases.Delete(lpb.DeleteRequest(id=lease.id, sync=True), metadata=md)
    content = content_stub(whale)
    for blob in (layer, config, manifest):
        assert content.Info(content_pb.InfoRequest(digest=digest_of(blob)), metadata=md).info.size == len(blob)
    with pytest.raises(grpc.RpcError) as gone:
        content.Info(content_pb.InfoRequest(digest=digest_of(orphan)), metadata=md)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    blob_path = whale.root / "io.containerd.content.v1.content/blobs/sha256" / digest_of(orphan).split(":")[1]
    assert not blob_path.exists()


def test_metadata_survives_kill_9():
    with WhaleContainerd() as ctd:
        md = ctd.metadata()
        write_content(ctd.channel(), md, "durable", b"durable bytes", labels={"containerd.io/gc.root": "x"})
        containers_pb2_grpc.ContainersStub(ctd.channel()).Create(cpb.CreateContainerRequest(container=cpb.Container(
            id="durable", labels={"k": "v"}, runtime=cpb.Container.Runtime(name="io.containerd.runc.v2"),
            spec=Any(type_url="x", value=b"{}"))), metadata=md)
        ctd.kill(signal.SIGKILL)
        ctd.start()
        got = containers_pb2_grpc.ContainersStub(ctd.channel()).Get(cpb.GetContainerRequest(id="durable"), metadata=md)
        assert dict(got.container.labels) == {"k": "v"}
        info = content_pb2_grpc.ContentStub(ctd.channel()).Info(
            content_pb.InfoRequest(digest=digest_of(b"durable bytes")), metadata=md).info
        assert info.labels["containerd.io/gc.root"] == "x"
        assert cleanup.mounts_under(str(ctd.dir)) == []


def test_flags_alone_place_everything_and_sigterm_stops_cleanly(tmp_path):
    require_root()
    work = Path(tempfile.mkdtemp(prefix="wb-flags-", dir="/tmp"))
    address = str(work / "c.sock")
    proc = subprocess.Popen([venv_bin("whale-containerd"), "--root", str(work / "root"), "--state",
                             str(work / "state"), "--address", address, "--log-level", "info"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        ctr = [require_binary("ctr"), "--address", address]
        wait_for(lambda: os.path.exists(address) and subprocess.run([*ctr, "version"], capture_output=True)
                 .returncode == 0, message="whale-containerd to answer")
        assert (work / "root/io.containerd.metadata.v1.bolt/meta.db").exists()
        assert os.path.exists(address + ".ttrpc") and (work / "state/io.containerd.runtime.v2.task").is_dir()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert not os.path.exists(address)
        assert 'level=info msg="containerd successfully booted"' in proc.stdout.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def _tree(root: Path) -> dict[str, tuple[str, bytes]]:
    """path -> (kind, content or link target) of everything under `root`."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path).encode())
        elif path.is_dir():
            found[rel] = ("dir", b"")
        else:
            found[rel] = ("file", path.read_bytes())
    return found


def test_diff_of_a_snapshot_applies_back_to_the_same_tree(whale, tmp_path):
    md = whale.metadata()
    snapshots = snapshots_pb2_grpc.SnapshotsStub(whale.channel())
    base = layer_tar(tar_entry("etc", "dir", mode=0o755), tar_entry("etc/keep", data=b"keep"),
                     tar_entry("etc/gone", data=b"gone"), tar_entry("var", "dir", mode=0o755),
                     tar_entry("var/old", data=b"old"), tar_entry("lnk", "symlink", linkname="etc/keep"))
    apply_layer(whale.channel(), md, "diff-base-extract", "", base, commit_as="diff-base")
    work = snapshots.Prepare(spb.PrepareSnapshotRequest(snapshotter="overlayfs", key="diff-work", parent="diff-base"),
                             metadata=md).mounts
    merged = tmp_path / "work"
    merged.mkdir()
    _mount_overlay(work, merged)
    try:
        (merged / "etc/gone").unlink()
        (merged / "etc/new").write_bytes(b"new")
        shutil.rmtree(merged / "var")
        (merged / "var").mkdir()
        (merged / "var/fresh").write_bytes(b"fresh")
        (merged / "opt/deep").mkdir(parents=True)
        os.link(merged / "etc/new", merged / "opt/deep/hard")
        expected = _tree(merged)
    finally:
        subprocess.run(["umount", str(merged)], check=True)
    parent_view = snapshots.View(spb.ViewSnapshotRequest(snapshotter="overlayfs", key="diff-parent-view",
                                                         parent="diff-base"), metadata=md).mounts
    made = diff_pb2_grpc.DiffStub(whale.channel()).Diff(diff_pb2.DiffRequest(left=parent_view, right=work),
                                                         metadata=md).diff
    assert made.media_type == "application/vnd.oci.image.layer.v1.tar+gzip"
    info = content_stub(whale).Info(content_pb.InfoRequest(digest=made.digest), metadata=md).info
    assert info.size == made.size and info.labels["containerd.io/uncompressed"].startswith("sha256:")
    again = snapshots.Prepare(spb.PrepareSnapshotRequest(snapshotter="overlayfs", key="diff-again", parent="diff-base"),
                              metadata=md).mounts
    applied = diff_pb2_grpc.DiffStub(whale.channel()).Apply(diff_pb2.ApplyRequest(diff=made, mounts=again),
                                                            metadata=md).applied
    assert applied.digest == info.labels["containerd.io/uncompressed"]
    replayed = tmp_path / "again"
    replayed.mkdir()
    _mount_overlay(again, replayed)
    try:
        assert _tree(replayed) == expected
        assert (replayed / "opt/deep/hard").stat().st_ino == (replayed / "etc/new").stat().st_ino
    finally:
        subprocess.run(["umount", str(replayed)], check=True)
    with pytest.raises(grpc.RpcError) as unrelated:
        diff_pb2_grpc.DiffStub(whale.channel()).Diff(diff_pb2.DiffRequest(left=again, right=work), metadata=md)
    assert unrelated.value.code() == grpc.StatusCode.UNIMPLEMENTED
