import json
import tarfile

from corelib.images.archive import ImageConfig, layer_tar, sha256, write_docker_archive


def test_layer_is_reproducible_and_root_owned(busybox_rootfs):
    first, second = layer_tar(busybox_rootfs), layer_tar(busybox_rootfs)
    assert first == second
    with tarfile.open(fileobj=__import__("io").BytesIO(first)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin/busybox"].isreg() and members["bin/busybox"].mode & 0o111
    assert members["bin/sh"].issym()
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 for m in members.values())


def test_docker_archive_layout(busybox_rootfs, tmp_path):
    out = tmp_path / "busybox.tar"
    image_id = write_docker_archive(out, busybox_rootfs, ["busybox:latest"], ImageConfig(cmd=["sh"]))
    with tarfile.open(out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        config_blob = tar.extractfile(manifest[0]["Config"]).read()
        layer = tar.extractfile(manifest[0]["Layers"][0]).read()
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    assert sha256(config_blob) == image_id
    config = json.loads(config_blob)
    assert config["rootfs"]["diff_ids"] == [sha256(layer)]
    assert config["config"]["Cmd"] == ["sh"] and config["os"] == "linux"
