"""ImageService against a real containerd 1.6: its content store, overlayfs snapshotter, diff
service and garbage collector are the reference behaviour."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from corelib import errdefs
from corelib.images.archive import layer_tar
from tests.integration.daemon_images.helpers import Service, chunks_of, read_all
from tests.support.cleanup import mounts_under
from tests.support.real_containerd import RealContainerd


def ctr_lines(ctd: RealContainerd, svc: Service, *args: str) -> list[str]:
    """The first column of a `ctr ... ls` table (snapshots ls has no -q)."""
    lines = ctd.ctr(*args, namespace=svc.namespace).stdout.splitlines()[1:]
    return [line.split()[0] for line in lines if line.strip()]


def assert_nothing_left(ctd: RealContainerd, svc: Service) -> None:
    """No image, blob, snapshot, lease or ingest of this namespace survives."""
    assert ctr_lines(ctd, svc, "images", "ls") == []
    assert ctr_lines(ctd, svc, "content", "ls") == []
    assert ctr_lines(ctd, svc, "snapshots", "ls") == []
    assert ctr_lines(ctd, svc, "leases", "ls") == []
    assert ctr_lines(ctd, svc, "content", "active") == []
    assert list((svc.root / "tmp").glob("*")) == []


def load(svc: Service, archive: Path) -> list[str]:
    return svc.run(svc.images.load(chunks_of(archive.read_bytes()), svc.record))


def test_ensure_busybox_creates_it_once(real_containerd: RealContainerd, svc: Service) -> None:
    svc.run(svc.images.ensure_busybox())
    first = svc.run(svc.images.inspect("busybox"))
    svc.run(svc.images.ensure_busybox())
    assert svc.run(svc.images.inspect("busybox:latest"))["Id"] == first["Id"]
    assert ctr_lines(real_containerd, svc, "images", "ls") == ["docker.io/library/busybox:latest"]
    assert first["RootFS"]["Layers"][0] in ctr_lines(real_containerd, svc, "snapshots", "ls")
    assert first["Config"]["Cmd"] == ["sh"]


def test_load_gives_docker_shapes(real_containerd: RealContainerd, svc: Service, busybox_archive: Path) -> None:
    assert load(svc, busybox_archive) == ["busybox:local"]
    assert svc.progress == [{"stream": "Loaded image: busybox:local\n"}]
    [summary] = svc.run(svc.images.list_images())
    assert list(summary) == ["Containers", "Created", "Id", "Labels", "ParentId", "RepoDigests", "RepoTags",
                             "SharedSize", "Size", "VirtualSize"]
    assert summary["RepoTags"] == ["busybox:local"] and summary["RepoDigests"] is None
    assert summary["Size"] > 1_000_000 and summary["Created"] == 0
    image = svc.run(svc.images.inspect("busybox:local"))
    assert image["Id"] == summary["Id"]
    assert image["Architecture"] and image["Os"] == "linux" and image["Created"] == "1970-01-01T00:00:00Z"
    assert image["Config"]["Env"][0].startswith("PATH=") and image["Config"]["Entrypoint"] is None
    assert list(image["Config"])[:3] == ["Hostname", "Domainname", "User"]
    with tarfile.open(busybox_archive) as tar:
        layer = tar.extractfile(json.load(tar.extractfile("manifest.json"))[0]["Layers"][0]).read()
    assert image["RootFS"] == {"Type": "layers", "Layers": ["sha256:" + hashlib.sha256(layer).hexdigest()]}
    config = svc.run(svc.images.get_image_config(summary["Id"][7:19]))
    assert config["Cmd"] == ["sh"] and config["WorkingDir"] is None


def test_lookup_like_dockerd(svc: Service, busybox_archive: Path) -> None:
    load(svc, busybox_archive)
    image_id = svc.run(svc.images.inspect("busybox:local"))["Id"]
    for ref in (image_id, image_id[7:], image_id[7:19], image_id[:14]):
        assert svc.run(svc.images.inspect(ref))["Id"] == image_id
    with pytest.raises(errdefs.NotFound, match="^No such image: busybox:latest$"):
        svc.run(svc.images.inspect("busybox"))
    with pytest.raises(errdefs.NotFound, match="^No such image: sha256:0{64}$"):
        svc.run(svc.images.inspect("sha256:" + "0" * 64))
    with pytest.raises(errdefs.InvalidArgument, match="^invalid reference format: repository name must be lowercase$"):
        svc.run(svc.images.inspect("BusyBox"))


def test_rootfs_is_a_real_overlay_and_goes_away(real_containerd: RealContainerd, svc: Service,
                                                busybox_archive: Path, tmp_path: Path) -> None:
    load(svc, busybox_archive)
    mounts = svc.run(svc.images.prepare_rootfs("busybox:local", "ctr1"))
    assert mounts == svc.run(svc.images.prepare_rootfs("busybox:local", "ctr1"))  # idempotent
    [mount] = mounts
    assert mount.type == "overlay" and any(o.startswith("lowerdir=") for o in mount.options)
    target = tmp_path / "rootfs"
    target.mkdir()
    subprocess.run(["mount", "-t", mount.type, "-o", ",".join(mount.options), mount.source, str(target)], check=True)
    try:
        assert (target / "bin/busybox").is_file()
        (target / "written").write_text("by the container")
    finally:
        subprocess.run(["umount", str(target)], check=True)
    assert mounts_under(str(target)) == []
    assert "ctr1" in ctr_lines(real_containerd, svc, "snapshots", "ls")
    assert ctr_lines(real_containerd, svc, "leases", "ls") == ["ctr1"]
    svc.run(svc.images.remove_rootfs("ctr1"))
    svc.run(svc.images.remove_rootfs("ctr1"))  # already gone: no error
    assert "ctr1" not in ctr_lines(real_containerd, svc, "snapshots", "ls")
    assert ctr_lines(real_containerd, svc, "leases", "ls") == []


def test_tag_moves_names_and_leaves_the_old_image_dangling(svc: Service, busybox_archive: Path,
                                                           labelled_archive: Path) -> None:
    load(svc, busybox_archive)
    load(svc, labelled_archive)
    old = svc.run(svc.images.inspect("busybox:local"))["Id"]
    svc.run(svc.images.tag("app:v1", "busybox", "local"))
    assert svc.run(svc.images.inspect("busybox:local"))["Id"] != old
    dangling = svc.run(svc.images.list_images(filters={"dangling": ["true"]}))
    assert [(i["Id"], i["RepoTags"]) for i in dangling] == [(old, None)]
    assert [i["RepoTags"] for i in svc.run(svc.images.list_images(filters={"reference": {"app": True}}))] == \
        [["app:v1", "busybox:local"]]
    assert svc.run(svc.images.list_images(filters={"label": ["role=test"]}))[0]["Labels"] == {"role": "test"}
    with pytest.raises(errdefs.InvalidArgument, match="^Invalid filter 'color'$"):
        svc.run(svc.images.list_images(filters={"color": ["red"]}))
    with pytest.raises(errdefs.InvalidArgument, match="^refusing to create a tag with a digest reference$"):
        svc.run(svc.images.tag("app:v1", "app@sha256:" + "a" * 64))
    with pytest.raises(errdefs.InvalidArgument, match="^invalid tag format$"):
        svc.run(svc.images.tag("app:v1", "app", "-x"))


def test_delete_untags_then_deletes_and_leaves_nothing(real_containerd: RealContainerd, svc: Service,
                                                      busybox_archive: Path) -> None:
    load(svc, busybox_archive)
    svc.run(svc.images.tag("busybox:local", "other"))
    image_id = svc.run(svc.images.inspect("other"))["Id"]
    with pytest.raises(errdefs.Conflict, match=f"^conflict: unable to delete {image_id[7:19]} \\(must be forced\\) "
                                               "- image is referenced in multiple repositories$"):
        svc.run(svc.images.delete(image_id[7:19]))
    assert svc.run(svc.images.delete("other")) == [{"Untagged": "other:latest"}]
    svc.images.set_image_users(lambda: {image_id: ["c0ffee" * 10 + "abcd"]})
    with pytest.raises(errdefs.Conflict, match='^conflict: unable to remove repository reference "busybox:local" '
                                               f"\\(must force\\) - container c0ffeec0ffee is using its referenced "
                                               f"image {image_id[7:19]}$"):
        svc.run(svc.images.delete("busybox:local"))
    svc.images.set_image_users(dict)
    assert svc.run(svc.images.delete("busybox:local")) == [{"Untagged": "busybox:local"}, {"Deleted": image_id}]
    with pytest.raises(errdefs.NotFound, match="^No such image: busybox:local$"):
        svc.run(svc.images.delete("busybox:local"))
    assert_nothing_left(real_containerd, svc)


def test_save_then_load_elsewhere_and_real_ctr_reads_it(real_containerd: RealContainerd, svc: Service,
                                                        busybox_archive: Path, labelled_archive: Path,
                                                        tmp_path: Path) -> None:
    load(svc, busybox_archive)
    load(svc, labelled_archive)
    data = svc.run(read_all(svc.run(svc.images.save(["busybox:local", "app"]))))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert {tuple(m["RepoTags"]) for m in manifest} == {("busybox:local",), ("app:v1",)}
        assert "index.json" in tar.getnames() and "oci-layout" in tar.getnames()
    with pytest.raises(errdefs.NotFound, match="^No such image: nope:latest$"):
        svc.run(svc.images.save(["busybox:local", "nope"]))
    other = Service(real_containerd.address, svc.namespace + "b")
    try:
        assert sorted(other.run(other.images.load(chunks_of(data), None))) == ["app:v1", "busybox:local"]
        assert other.run(other.images.inspect("app:v1"))["Config"]["Labels"] == {"role": "test"}
    finally:
        other.close()
    (tmp_path / "saved.tar").write_bytes(data)
    real_containerd.ctr("images", "import", str(tmp_path / "saved.tar"), namespace=svc.namespace + "c")
    assert "docker.io/library/app:v1" in real_containerd.ctr("images", "ls", "-q", namespace=svc.namespace + "c").stdout


def test_import_a_rootfs_with_changes(real_containerd: RealContainerd, svc: Service, busybox_rootfs: Path) -> None:
    tar_gz = gzip.compress(layer_tar(busybox_rootfs))
    changes = ['CMD ["echo", "hi"]', "ENV A=1 B=two", "WORKDIR /srv", "WORKDIR app", "LABEL k=v",
               "EXPOSE 80", "USER nobody", "ENTRYPOINT exec sh"]
    image_id = svc.run(svc.images.import_image(chunks_of(tar_gz), "imported:1", "", changes, ""))
    image = svc.run(svc.images.inspect("imported:1"))
    assert image["Id"] == image_id and image["Comment"] == "Imported from -"
    config = image["Config"]
    assert config["Cmd"] == ["echo", "hi"] and config["Env"] == ["A=1", "B=two"]
    assert config["WorkingDir"] == "/srv/app" and config["Labels"] == {"k": "v"} and config["User"] == "nobody"
    assert config["ExposedPorts"] == {"80/tcp": {}} and config["Entrypoint"] == ["/bin/sh", "-c", "exec sh"]
    untagged = svc.run(svc.images.import_image(chunks_of(tar_gz), "", "", [], "msg"))
    assert svc.run(svc.images.inspect(untagged))["Comment"] == "msg"
    assert svc.run(svc.images.list_images(filters={"dangling": ["true"]}))[0]["Id"] == untagged


def test_bad_input_fails_cleanly(real_containerd: RealContainerd, svc: Service, busybox_rootfs: Path) -> None:
    with pytest.raises(errdefs.InvalidArgument, match="^archive/tar: invalid tar header$"):
        svc.run(svc.images.load(chunks_of(b"not a tar archive" * 100), None))
    with pytest.raises(errdefs.InvalidArgument, match="^invalid archive"):
        svc.run(svc.images.load(chunks_of(layer_tar(busybox_rootfs)), None))
    with pytest.raises(errdefs.InvalidArgument, match="^run is not a valid change command$"):
        svc.run(svc.images.import_image(chunks_of(layer_tar(busybox_rootfs)), "x", "", ["RUN true"], ""))
    with pytest.raises(errdefs.InvalidArgument, match="^invalid reference format"):
        svc.run(svc.images.import_image(chunks_of(b""), "Bad:Name", "", [], ""))
    with pytest.raises(errdefs.WhaleError):
        svc.run(svc.images.import_image(chunks_of(b"\x1f\x8b" + b"garbage" * 50), "x", "", [], ""))
    assert_nothing_left(real_containerd, svc)


def test_prune_removes_dangling_only_by_default(real_containerd: RealContainerd, svc: Service,
                                                busybox_archive: Path, labelled_archive: Path) -> None:
    load(svc, busybox_archive)
    load(svc, labelled_archive)
    old = svc.run(svc.images.inspect("busybox:local"))["Id"]
    svc.run(svc.images.tag("app:v1", "busybox:local"))
    report = svc.run(svc.images.prune({}))
    assert report["ImagesDeleted"] == [{"Deleted": old}] and report["SpaceReclaimed"] > 0
    assert svc.run(svc.images.prune({}))["ImagesDeleted"] is None
    kept = svc.run(svc.images.inspect("app:v1"))["Id"]
    svc.images.set_image_users(lambda: {kept: ["c1"]})
    assert svc.run(svc.images.prune({"dangling": ["false"]}))["ImagesDeleted"] is None
    svc.images.set_image_users(dict)
    assert svc.run(svc.images.prune({"dangling": {"false": True}}))["ImagesDeleted"][-1] == {"Deleted": kept}
    assert_nothing_left(real_containerd, svc)
