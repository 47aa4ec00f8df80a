"""Pulls from a real registry v2 (Debian's docker-registry on 127.0.0.1, images pushed by skopeo)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from corelib import errdefs
from corelib.images.archive import go_arch, layer_tar
from tests.integration.daemon_images.helpers import Service
from tests.integration.daemon_images.test_daemon_images_store import assert_nothing_left
from tests.support.real_containerd import RealContainerd
from tests.support.registry import Registry, free_port


def statuses(svc: Service) -> list[str]:
    return [m["status"] for m in svc.progress]


def test_pull_says_what_docker_says_and_records_the_digest(real_containerd: RealContainerd, svc: Service,
                                                           registry: Registry) -> None:
    ref = f"{registry.host}/library/busybox"
    svc.run(svc.images.pull(ref, "latest", None, svc.record))
    lid = svc.progress[1]["id"]
    assert svc.progress[0] == {"status": "Pulling from library/busybox", "id": "latest"}
    assert svc.progress[1] == {"status": "Pulling fs layer", "progressDetail": {}, "id": lid}
    assert [m["status"] for m in svc.progress if m.get("id") == lid][-4:] == \
        ["Verifying Checksum", "Download complete", "Extracting", "Pull complete"]
    downloading = [m for m in svc.progress if m["status"] == "Downloading"]
    assert downloading and downloading[-1]["progressDetail"]["current"] == downloading[-1]["progressDetail"]["total"]
    digest = statuses(svc)[-2].removeprefix("Digest: ")
    assert statuses(svc)[-1] == f"Status: Downloaded newer image for {ref}:latest"
    image = svc.run(svc.images.inspect(f"{ref}:latest"))
    assert image["RepoTags"] == [f"{ref}:latest"] and image["RepoDigests"] == [f"{ref}@{digest}"]
    svc.progress.clear()
    svc.run(svc.images.pull(ref, "", None, svc.record))
    assert statuses(svc) == ["Pulling from library/busybox", f"Digest: {digest}",
                             f"Status: Image is up to date for {ref}:latest"]
    svc.progress.clear()
    svc.run(svc.images.pull(f"{registry.host}/team/busybox", "test", {"username": "", "password": ""}, svc.record))
    assert statuses(svc) == ["Pulling from team/busybox", f"Digest: {digest}",  # as captured from dockerd
                             f"Status: Downloaded newer image for {registry.host}/team/busybox:test"]
    svc.progress.clear()
    svc.run(svc.images.pull(f"{registry.host}/team/app", "v1", None, svc.record))
    assert statuses(svc)[1] == "Already exists"  # the same layer, under another image
    svc.run(svc.images.pull(f"{ref}@{digest}", "", None, None))
    assert svc.run(svc.images.inspect(f"{ref}@{digest}"))["Id"] == image["Id"]
    mounts = svc.run(svc.images.prepare_rootfs(f"{ref}:latest", "pulled"))
    assert mounts[0].type == "overlay"
    svc.run(svc.images.remove_rootfs("pulled"))
    deleted = svc.run(svc.images.delete(image["Id"], force=True))
    assert {"Untagged": f"{ref}@{digest}"} in deleted and deleted[-1] == {"Deleted": image["Id"]}
    svc.run(svc.images.delete(f"{registry.host}/team/app:v1"))
    assert_nothing_left(real_containerd, svc)


def test_pull_errors_come_before_any_progress(real_containerd: RealContainerd, svc: Service,
                                              registry: Registry) -> None:
    host = registry.host
    with pytest.raises(errdefs.NotFound, match=f"^manifest for {host}/busybox:nope not found: "
                                               "manifest unknown: manifest unknown$"):
        svc.run(svc.images.pull(f"{host}/busybox", "nope", None, svc.record))
    with pytest.raises(errdefs.NotFound, match=f"^manifest for {host}/nothing/here:latest not found: "):
        svc.run(svc.images.pull(f"{host}/nothing/here", "", None, svc.record))
    with pytest.raises(errdefs.InvalidArgument, match="^invalid reference format: repository name must be lowercase$"):
        svc.run(svc.images.pull(f"{host}/BusyBox", "", None, svc.record))
    with pytest.raises(errdefs.InvalidArgument, match="^invalid tag format$"):
        svc.run(svc.images.pull(f"{host}/busybox", "!", None, svc.record))
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(errdefs.WhaleError, match=f'^Get "http://{dead}/v2/busybox/manifests/latest": '
                                                 f"dial tcp {dead}: connect: connection refused$"):
        svc.run(svc.images.pull(f"{dead}/busybox", "", None, svc.record))
    assert svc.progress == []
    assert_nothing_left(real_containerd, svc)


def oci_layout_with_two_platforms(rootfs: Path, out: Path) -> None:
    """An OCI image layout whose index holds linux/<host arch> and a foreign platform."""
    blobs = out / "blobs/sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes, media_type: str, **extra: object) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data), **extra}

    layer = layer_tar(rootfs)
    layer_desc = blob(layer, "application/vnd.oci.image.layer.v1.tar")
    manifests = []
    for arch, cmd in ((go_arch(), "native"), ("s390x", "foreign")):
        config = json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["echo", cmd]},
                             "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]}}).encode()
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": blob(config, "application/vnd.oci.image.config.v1+json"),
                               "layers": [layer_desc]}).encode()
        manifests.append(blob(manifest, "application/vnd.oci.image.manifest.v1+json",
                              platform={"architecture": arch, "os": "linux"}))
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    (out / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        blob(json.dumps(index).encode(), "application/vnd.oci.image.index.v1+json",
             annotations={"org.opencontainers.image.ref.name": "multi"})]}))
    (out / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


def test_pull_a_manifest_list_picks_this_platform(svc: Service, registry: Registry, busybox_rootfs: Path,
                                                  tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    oci_layout_with_two_platforms(busybox_rootfs, layout)
    subprocess.run([registry.skopeo, "copy", "--quiet", "--insecure-policy", "--all", "--dest-tls-verify=false",
                    f"oci:{layout}:multi", f"docker://{registry.host}/multi:latest"], check=True, timeout=120)
    svc.run(svc.images.pull(f"{registry.host}/multi", "latest", None, svc.record))
    image = svc.run(svc.images.inspect(f"{registry.host}/multi"))
    assert image["Architecture"] == go_arch() and image["Config"]["Cmd"] == ["echo", "native"]
    index_digest = statuses(svc)[-2].removeprefix("Digest: ")
    assert image["RepoDigests"] == [f"{registry.host}/multi@{index_digest}"]
