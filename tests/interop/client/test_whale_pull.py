"""A missing image pulled from a local registry (Debian's docker-registry on 127.0.0.1, the image
pushed with skopeo), by `whale run` and `whale pull`, beside the real docker CLI."""

from __future__ import annotations

import pytest

from corelib.images.archive import write_docker_archive
from tests.support.registry import Registry


@pytest.fixture(scope="module")
def registry(busybox_rootfs, tmp_path_factory):
    archive = tmp_path_factory.mktemp("pull-archive") / "busybox.tar"
    write_docker_archive(archive, busybox_rootfs, ["busybox:latest"])
    reg = Registry()
    try:
        reg.start()
        for name in ("busybox:latest", "busybox:one", "busybox:two", "other/busybox:latest"):
            reg.push(archive, name)
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="module")
def pull_clients(clients):
    """The module's daemon (dockerd, whaled); a registry on 127.0.0.0/8 is insecure by default."""
    return clients


def test_run_pulls_a_missing_image(pull_clients, registry):
    docker = pull_clients.docker("run", "--rm", "--network", "none", f"{registry.host}/busybox:two", "echo", "pulled")
    assert pull_clients.docker("rmi", f"{registry.host}/busybox:two").rc == 0  # so whale pulls the layer too
    image = f"{registry.host}/busybox:one"
    whale = pull_clients.whale("run", "--rm", "--network", "none", image, "echo", "pulled")
    assert (whale.rc, whale.out) == (0, "pulled\n"), whale
    lines = whale.err.splitlines()
    assert lines[0] == f"Unable to find image '{image}' locally"
    assert lines[1] == "one: Pulling from busybox"
    assert lines[-2].startswith("Digest: sha256:")
    assert lines[-1] == f"Status: Downloaded newer image for {image}"
    assert docker.err.replace(":two", ":one").replace("two:", "one:") == whale.err


def test_pull_output_as_docker(pull_clients, registry):
    whale = pull_clients.whale("pull", f"{registry.host}/other/busybox")
    assert whale.rc == 0, whale
    assert whale.out.splitlines()[0] == "Using default tag: latest"
    assert whale.out.splitlines()[-1] == f"{registry.host}/other/busybox:latest"
    assert pull_clients.docker("rmi", f"{registry.host}/other/busybox").rc == 0
    docker = pull_clients.docker("pull", f"{registry.host}/other/busybox")
    assert whale.as_docker() == docker.as_docker()
    quiet = pull_clients.whale("pull", "-q", f"{registry.host}/busybox:latest")
    assert (quiet.rc, quiet.out) == (0, f"{registry.host}/busybox:latest\n")


def test_pull_errors_as_docker(pull_clients, registry):
    for args in (["pull", f"{registry.host}/busybox:nope"], ["run", "--rm", f"{registry.host}/nosuch:latest"],
                 ["create", "--pull", "never", f"{registry.host}/busybox:nope"],
                 ["run", "--pull", "sometimes", "busybox"]):
        whale, docker = pull_clients.both(*args)
        assert whale.as_docker() == docker.as_docker(), args
        assert whale.rc != 0
