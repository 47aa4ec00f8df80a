"""docker-py 7 against whaled on the real containerd: its high-level and low-level clients."""

from __future__ import annotations

import datetime
import io
import tarfile

import docker
import pytest

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def client(whaled) -> docker.DockerClient:  # noqa: ANN001
    c = whaled.client()
    yield c
    c.close()


def test_version_negotiation(client, whaled):
    assert client.version()["ApiVersion"] == "1.41"
    low = docker.APIClient(base_url=whaled.host, version="auto")
    assert low.api_version == "1.41" and low.ping() is True
    old = docker.APIClient(base_url=whaled.host, version="1.30")
    assert old.containers(all=True) is not None  # an older API version is routed too
    with pytest.raises(docker.errors.APIError) as raised:
        docker.APIClient(base_url=whaled.host, version="1.50").containers()
    assert raised.value.status_code == 400 and "is too new" in raised.value.explanation


def test_run_remove_and_detach(client):
    assert client.containers.run("busybox", ["sh", "-c", "echo hello; echo err >&2"], remove=True) == b"hello\n"
    container = client.containers.run("busybox", ["sh", "-c", "echo a; echo b >&2; exit 3"], detach=True)
    assert container.wait() == {"Error": None, "StatusCode": 3}
    assert container.logs(stdout=True, stderr=False) == b"a\n" and container.logs(stdout=False) == b"b\n"
    container.reload()
    assert container.status == "exited" and container.attrs["State"]["ExitCode"] == 3
    container.remove()
    with pytest.raises(docker.errors.ContainerError) as raised:
        client.containers.run("busybox", ["sh", "-c", "exit 7"], remove=True)
    assert raised.value.exit_status == 7
    with pytest.raises(docker.errors.APIError) as raised:
        client.containers.run("busybox", ["/nonexistent"], remove=True)
    assert raised.value.status_code == 400 and "no such file or directory" in raised.value.explanation


def test_logs_stream_follow_and_timestamps(client):
    container = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo l$i; sleep 0.2; done"],
                                      detach=True)
    assert b"".join(container.logs(stream=True, follow=True)) == b"l1\nl2\nl3\n"
    stamped = container.logs(timestamps=True).decode().splitlines()
    assert stamped[0].endswith(" l1") and datetime.datetime.fromisoformat(stamped[0].split(" ")[0][:26])
    assert container.logs(tail=1) == b"l3\n"
    container.remove()


def test_attach_socket_with_stdin(client):
    api = client.api
    created = api.create_container("busybox", ["sh", "-c", "read line; echo got:$line"], stdin_open=True)
    sock = api.attach_socket(created["Id"], params={"stdin": 1, "stdout": 1, "stream": 1})
    raw = sock._sock
    api.start(created["Id"])
    raw.sendall(b"typed\n")
    data = b""
    while b"got:typed" not in data:
        chunk = raw.recv(4096)
        assert chunk, data
        data += chunk
    assert data == b"\x01\x00\x00\x00\x00\x00\x00\x0agot:typed\n"
    sock.close()
    assert api.wait(created["Id"])["StatusCode"] == 0
    api.remove_container(created["Id"])


def test_attach_stream_before_start(client):
    container = client.containers.create("busybox", ["sh", "-c", "echo one; echo two >&2"])
    stream = container.attach(stdout=True, stderr=True, stream=True, logs=True)
    container.start()
    assert sorted(b"".join(stream).splitlines()) == [b"one", b"two"]
    container.remove()


def test_exec_run(client):
    container = client.containers.run("busybox", ["sleep", "1000"], detach=True)
    try:
        assert container.exec_run("sh -c 'echo out; echo err >&2; exit 4'", demux=True) == (4, (b"out\n", b"err\n"))
        assert container.exec_run("pwd", workdir="/tmp").output == b"/tmp\n"
        assert container.exec_run("id -u", user="nobody").output == b"65534\n"
        streamed = container.exec_run("sh -c 'echo a; echo b'", stream=True)
        assert b"".join(streamed.output) == b"a\nb\n"
        exec_id = client.api.exec_create(container.id, "true")["Id"]
        client.api.exec_start(exec_id)
        assert client.api.exec_inspect(exec_id)["ExitCode"] == 0
    finally:
        container.remove(force=True)


def test_events_with_filters(client):
    since = datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(seconds=1)
    container = client.containers.run("busybox", "true", name="pyevents", detach=True)
    container.wait()
    container.remove()
    until = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=1)
    events = list(client.events(since=since, until=until, decode=True,
                                filters={"container": ["pyevents"], "event": ["start", "die"]}))
    assert [e["Action"] for e in events] == ["start", "die"]
    assert events[1]["Actor"]["Attributes"]["exitCode"] == "0" and events[1]["from"] == "busybox"


def test_container_list_top_pause_rename_prune(client):
    container = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="pylist",
                                      labels={"suite": "py"})
    try:
        assert [c.name for c in client.containers.list(filters={"label": "suite=py"})] == ["pylist"]
        assert container.top()["Processes"][0][-1] == "sleep 1000"
        container.pause()
        assert client.containers.get("pylist").status == "paused"
        container.unpause()
        container.rename("pylist2")
        assert client.containers.get("pylist2").id == container.id
        container.stop(timeout=1)
        assert client.containers.prune(filters={"label": "suite=py"})["ContainersDeleted"] == [container.id]
        with pytest.raises(docker.errors.NotFound):
            client.containers.get("pylist2")
    finally:
        for leftover in client.containers.list(all=True, filters={"label": "suite=py"}):
            leftover.remove(force=True)


def test_images(client, registry):
    image = client.images.get("busybox")
    assert "busybox:latest" in image.tags
    pulled = client.images.pull(f"{registry.host}/pulled/busybox", tag="test")
    assert f"{registry.host}/pulled/busybox:test" in pulled.tags
    assert pulled.tag("pytag", "v1")
    assert "pytag:v1" in client.images.get("pytag:v1").tags
    saved = b"".join(client.images.get("pytag:v1").save(named="pytag:v1"))
    with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
        assert "manifest.json" in archive.getnames()
    client.images.remove("pytag:v1")
    client.images.remove(f"{registry.host}/pulled/busybox:test")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("pytag:v1")
    loaded = client.images.load(saved)
    assert "pytag:v1" in loaded[0].tags
    client.images.remove("pytag:v1")
