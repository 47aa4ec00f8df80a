"""The pure parts of the daemon's image service: chain ids, import changes, progress bars, filters,
and the Engine API shapes built from an image config."""

from __future__ import annotations

import hashlib

import pytest

from corelib import errdefs
from corelib.daemon.images import image, image_delete, image_import, image_pull


def test_chain_id_is_containerds_identity() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert image.chain_id([a]) == a
    assert image.chain_id([a, b]) == "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()


def test_changes_like_docker_import() -> None:
    config = image_import.apply_changes(["CMD echo hi", 'ENTRYPOINT ["/bin/app"]', "ENV A B C", "ENV D=1",
                                         "LABEL a=1 b=\"two words\"", "EXPOSE 53/udp 80", "VOLUME /data",
                                         "WORKDIR /a", "WORKDIR ../b", "USER 1000:1000", "ONBUILD RUN x"])
    assert config == {"Cmd": ["/bin/sh", "-c", "echo hi"], "Entrypoint": ["/bin/app"], "Env": ["A=B C", "D=1"],
                      "Labels": {"a": "1", "b": "two words"}, "ExposedPorts": {"53/udp": {}, "80/tcp": {}},
                      "Volumes": {"/data": {}}, "WorkingDir": "/b", "User": "1000:1000", "OnBuild": ["RUN x"]}
    with pytest.raises(errdefs.InvalidArgument, match="^copy is not a valid change command$"):
        image_import.apply_changes(["COPY a b"])
    with pytest.raises(errdefs.InvalidArgument, match="^ENV must have two arguments$"):
        image_import.apply_changes(["ENV lonely"])


def test_progress_bar_like_jsonmessage() -> None:
    assert image_pull.progress_bar(0, 2_000_000) == "[>" + " " * 50 + "] " + "      0B/2MB"
    assert image_pull.progress_bar(1_000_000, 2_000_000).startswith("[" + "=" * 25 + ">")
    assert image_pull.progress_bar(2_060_000, 2_060_000) == "[" + "=" * 50 + ">] " + "  2.06MB/2.06MB"


def test_pull_reference_joins_image_and_tag() -> None:
    assert image_pull.pull_reference("busybox").string() == "docker.io/library/busybox:latest"
    assert image_pull.pull_reference("localhost:5000/busybox", "test").string() == "localhost:5000/busybox:test"
    digest = "sha256:" + "c" * 64
    assert image_pull.pull_reference("busybox", digest).string() == f"docker.io/library/busybox@{digest}"


def test_filters_in_both_json_forms() -> None:
    assert image_delete.normalise_filters({"dangling": {"true": True}, "label": ["a=1"]}) == \
        {"dangling": ["true"], "label": ["a=1"]}
    assert image_delete.is_true(["1"], "dangling") is True and image_delete.is_true([], "dangling") is None
    with pytest.raises(errdefs.InvalidArgument, match="^Invalid filter 'dangling=maybe'$"):
        image_delete.is_true(["maybe"], "dangling")
    assert image_delete.label_matches({"a": "1", "b": "2"}, ["a=1", "b"])
    assert not image_delete.label_matches({"a": "1"}, ["a=2"])


def test_engine_api_shapes() -> None:
    config = {"architecture": "amd64", "os": "linux", "created": "2026-11-29T20:17:59.761449908Z",
              "config": {"Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}}, "Labels": {"x": "y"}},
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "d" * 64]}}
    img = image.Image("sha256:" + "e" * 64, image.Resolved("sha256:m", {"layers": []}, "sha256:" + "e" * 64, config))
    summary = image.summary(img, 42, [])
    assert summary["Created"] == 1795983479 and summary["Labels"] == {"x": "y"} and summary["RepoTags"] is None
    shown = image.inspect(img, 42, [], "overlayfs")
    assert shown["Config"]["ExposedPorts"] == {"80/tcp": {}} and "StopSignal" not in shown["Config"]
    assert list(shown)[:4] == ["Id", "RepoTags", "RepoDigests", "Parent"]
    assert shown["RootFS"]["Layers"] == ["sha256:" + "d" * 64] and shown["Metadata"]["LastTagTime"] == image.ZERO_TIME
