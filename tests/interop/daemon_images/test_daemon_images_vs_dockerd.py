"""Our image service beside the real dockerd 20.10: the same archive gives the same image, each
loads what the other saves, and a pull from the same registry says the same things."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.integration.daemon_images.helpers import Service, chunks_of, read_all
from tests.support.real_dockerd import RealDockerd
from tests.support.registry import Registry

pytestmark = pytest.mark.interop
COMPARED = ("Id", "RepoTags", "Parent", "Comment", "Created", "Config", "Architecture", "Os", "RootFS")


def docker_inspect(dockerd: RealDockerd, ref: str) -> dict:
    return json.loads(dockerd.docker("image", "inspect", ref).stdout)[0]


def test_load_and_inspect_match_dockerd(dockerd: RealDockerd, svc: Service, labelled_archive: Path) -> None:
    dockerd.docker("load", "-i", str(labelled_archive))
    theirs = docker_inspect(dockerd, "app:v1")
    svc.run(svc.images.load(chunks_of(labelled_archive.read_bytes()), None))
    ours = svc.run(svc.images.inspect("app:v1"))
    assert {k: ours[k] for k in COMPARED} == {k: theirs[k] for k in COMPARED}
    assert list(ours) == list(theirs)
    [listed] = svc.run(svc.images.list_images())
    with httpx.Client(transport=httpx.HTTPTransport(uds=dockerd.socket)) as client:
        their_list = client.get("http://docker/v1.41/images/json").json()
    [their_summary] = [s for s in their_list if s["Id"] == theirs["Id"]]
    assert listed.keys() == their_summary.keys()
    assert {k: listed[k] for k in ("Created", "Id", "Labels", "ParentId", "RepoTags")} == \
        {k: their_summary[k] for k in ("Created", "Id", "Labels", "ParentId", "RepoTags")}


def test_each_loads_what_the_other_saves(dockerd: RealDockerd, svc: Service, busybox_archive: Path,
                                         tmp_path: Path) -> None:
    svc.run(svc.images.load(chunks_of(busybox_archive.read_bytes()), None))
    ours = tmp_path / "ours.tar"
    ours.write_bytes(svc.run(read_all(svc.run(svc.images.save(["busybox:local"])))))
    assert dockerd.docker("load", "-i", str(ours)).stdout.strip() == "Loaded image: busybox:local"
    image_id = svc.run(svc.images.inspect("busybox:local"))["Id"]
    assert docker_inspect(dockerd, "busybox:local")["Id"] == image_id
    dockerd.docker("tag", "busybox:local", "roundtrip:1")
    theirs = tmp_path / "theirs.tar"
    dockerd.docker("save", "-o", str(theirs), "roundtrip:1")
    assert svc.run(svc.images.load(chunks_of(theirs.read_bytes()), None)) == ["roundtrip:1"]
    assert svc.run(svc.images.inspect("roundtrip:1"))["Id"] == image_id


def pull_statuses(messages: list[dict]) -> list[str]:
    """The progress stream without its repeated Downloading/Extracting ticks, nor "Verifying Checksum":
    dockerd's transfer watchers keep only a layer's latest progress, so when "Download complete" follows
    at once (a small layer from a local registry) its "Verifying Checksum" is sometimes never sent."""
    out: list[str] = []
    for m in messages:
        if m["status"] == "Verifying Checksum":
            continue
        status = m["status"].split(": ")[0] if m["status"].startswith(("Digest", "Status")) else m["status"]
        if not out or out[-1] != status:
            out.append(status)
    return out


def test_pull_progress_matches_dockerd(dockerd: RealDockerd, svc: Service, registry: Registry) -> None:
    ids = dockerd.docker("images", "-aq").stdout.split()
    if ids:  # a fresh pull on both sides
        dockerd.docker("rmi", "-f", *set(ids))
    with httpx.Client(transport=httpx.HTTPTransport(uds=dockerd.socket), timeout=120) as client:
        response = client.post("http://docker/v1.41/images/create",
                               params={"fromImage": f"{registry.host}/team/app", "tag": "v1"},
                               headers={"X-Registry-Auth": "e30="})
        assert response.status_code == 200
        theirs = [json.loads(line) for line in response.text.splitlines() if line.strip()]
        missing = client.post("http://docker/v1.41/images/create",
                              params={"fromImage": f"{registry.host}/team/app", "tag": "nope"})
    svc.run(svc.images.pull(f"{registry.host}/team/app", "v1", None, svc.record))
    assert pull_statuses(svc.progress) == pull_statuses(theirs)
    assert svc.progress[0] == theirs[0] and svc.progress[-2:] == theirs[-2:]
    assert {m.get("id") for m in svc.progress} == {m.get("id") for m in theirs}
    with pytest.raises(Exception) as e:
        svc.run(svc.images.pull(f"{registry.host}/team/app", "nope", None, None))
    assert missing.status_code == 404 and str(e.value) == missing.json()["message"]
