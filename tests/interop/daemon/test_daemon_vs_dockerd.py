"""whaled beside the real dockerd 20.10: the same requests get the same status codes and the same
messages (container IDs aside), since clients match on them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.integration.daemon.harness import DOCKER_CLI_28, UnixHTTPConnection

pytestmark = pytest.mark.interop
ID = re.compile(r"[0-9a-f]{64}")


class Peer:
    """One daemon (whaled or dockerd) with a running and a stopped container named alike."""

    def __init__(self, socket_path: str, docker):  # noqa: ANN001 - the harness' docker()
        self.socket_path = socket_path
        self.docker = docker

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str | None = "application/json") -> tuple[int, str]:
        conn = UnixHTTPConnection(self.socket_path, 60)
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        if not raw.strip():
            return response.status, ""
        try:
            message = json.loads(raw).get("message", "")
        except (ValueError, AttributeError):
            message = raw.decode().strip()
        return response.status, ID.sub("<ID>", message)


@pytest.fixture(scope="module")
def peers(whaled, dockerd) -> Iterator[tuple[Peer, Peer]]:  # noqa: ANN001
    pair = (Peer(whaled.socket, whaled.docker), Peer(dockerd.socket, dockerd.docker))
    for peer in pair:
        peer.docker("run", "-d", "--name", "cmp-running", "--network", "none", "busybox", "sleep", "1000")
        peer.docker("create", "--name", "cmp-stopped", "--network", "none", "busybox", "true")
    yield pair
    for peer in pair:
        peer.docker("rm", "-f", "cmp-running", "cmp-stopped", check=False)


CREATE = "/v1.41/containers/create"
CASES = {
    "malformed json": ("POST", CREATE, b"{bad", "application/json"),
    "empty body": ("POST", CREATE, b"", "application/json"),
    "truncated json": ("POST", CREATE, b'{"Image": "busybox"', "application/json"),
    "wrong type": ("POST", CREATE, b'{"Image":"busybox","Cmd":5}', "application/json"),
    "wrong nested type": ("POST", CREATE, b'{"Image":"busybox","HostConfig":{"Memory":"x"}}', "application/json"),
    "not json": ("POST", CREATE, b'{"Image":"busybox"}', "text/plain"),
    "no command": ("POST", CREATE, b'{"Image":""}', "application/json"),
    "bad reference": ("POST", CREATE, b'{"Image":"BAD:::ref"}', "application/json"),
    "missing image": ("POST", CREATE, b'{"Image":"nosuchimage-xyz"}', "application/json"),
    "invalid name": ("POST", CREATE + "?name=x", b'{"Image":"busybox"}', "application/json"),
    "name conflict": ("POST", CREATE + "?name=cmp-running", b'{"Image":"busybox"}', "application/json"),
    "bad restart policy": ("POST", CREATE, b'{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}}',
                           "application/json"),
    "unknown capability": ("POST", CREATE, b'{"Image":"busybox","HostConfig":{"CapAdd":["FLY"]}}', "application/json"),
    "relative bind target": ("POST", CREATE, b'{"Image":"busybox","HostConfig":{"Binds":["/tmp:rel"]}}',
                             "application/json"),
    "bad bind mode": ("POST", CREATE, b'{"Image":"busybox","HostConfig":{"Binds":["/a:/b:bogus"]}}',
                      "application/json"),
    "duplicate mount point": ("POST", CREATE, b'{"Image":"busybox","HostConfig":{"Binds":["/a:/b","/c:/b"]}}',
                              "application/json"),
    "no such container": ("GET", "/v1.41/containers/nosuch/json", None, None),
    "start missing": ("POST", "/v1.41/containers/nosuch/start", None, None),
    "start running": ("POST", "/v1.41/containers/cmp-running/start", None, None),
    "stop stopped": ("POST", "/v1.41/containers/cmp-stopped/stop", None, None),
    "kill stopped": ("POST", "/v1.41/containers/cmp-stopped/kill", None, None),
    "bad signal": ("POST", "/v1.41/containers/cmp-running/kill?signal=BOGUS", None, None),
    "pause stopped": ("POST", "/v1.41/containers/cmp-stopped/pause", None, None),
    "unpause running": ("POST", "/v1.41/containers/cmp-running/unpause", None, None),
    "top stopped": ("GET", "/v1.41/containers/cmp-stopped/top", None, None),
    "resize stopped": ("POST", "/v1.41/containers/cmp-stopped/resize?h=10&w=10", None, None),
    "remove running": ("DELETE", "/v1.41/containers/cmp-running", None, None),
    "rename to itself": ("POST", "/v1.41/containers/cmp-running/rename?name=cmp-running", None, None),
    "rename to nothing": ("POST", "/v1.41/containers/cmp-running/rename?name=", None, None),
    "rename taken": ("POST", "/v1.41/containers/cmp-stopped/rename?name=cmp-running", None, None),
    "wait missing": ("POST", "/v1.41/containers/nosuch/wait", None, None),
    "exec stopped": ("POST", "/v1.41/containers/cmp-stopped/exec", b'{"Cmd":["true"]}', "application/json"),
    "exec no command": ("POST", "/v1.41/containers/cmp-running/exec", b'{"Cmd":[]}', "application/json"),
    "exec missing": ("GET", "/v1.41/exec/nosuch/json", None, None),
    "logs missing": ("GET", "/v1.41/containers/nosuch/logs?stdout=1", None, None),
    "bad ps filter": ("GET", '/v1.41/containers/json?filters={"bogus":["x"]}', None, None),
    "bad ps status": ("GET", '/v1.41/containers/json?filters={"status":["x"]}', None, None),
    "bad events since": ("GET", "/v1.41/events?since=abc&until=1", None, None),
    "too new": ("GET", "/v1.50/version", None, None),
    "too old": ("GET", "/v1.11/version", None, None),
    "unknown path": ("GET", "/v1.41/nope", None, None),
    "image missing": ("GET", "/v1.41/images/nosuchthing/json", None, None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_answer_as_dockerd(peers, case):
    method, path, body, content_type = CASES[case]
    ours, theirs = (peer.request(method, path, body, content_type) for peer in peers)
    assert ours == theirs


def test_a_failed_start_reads_the_same(peers):
    ours, theirs = (peer.docker("run", "--rm", "--network", "none", "busybox", "/nonexistent", check=False,
                                cli=DOCKER_CLI_28) for peer in peers)
    assert ours.returncode == theirs.returncode == 127
    assert ours.stderr.splitlines()[0] == theirs.stderr.splitlines()[0]
