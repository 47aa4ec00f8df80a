"""Debian's docker-registry on a free port of 127.0.0.1, with its own storage (and optional htpasswd
auth); images go in with skopeo. Tests pull from it instead of the network."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess

import httpx

from tests.support.env import require_binary
from tests.support.service import ServiceProcess

REGISTRY_CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
{auth}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry(ServiceProcess):
    """`push(archive, name)` copies a docker-save archive in with skopeo."""

    name = "docker-registry"

    def __init__(self, auth: str = ""):
        self.binary = require_binary("docker-registry")
        self.skopeo = require_binary("skopeo")
        super().__init__("wb-reg-", "registry.log")
        self.auth = auth
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Registry:
        for _ in range(5):  # a port taken between choosing and binding: choose again
            self.port = free_port()
            config = self.dir / "config.yml"
            config.write_text(REGISTRY_CONFIG.format(root=self.dir / "data", port=self.port, auth=self.auth))
            self.spawn([self.binary, "serve", str(config)])
            with contextlib.suppress(RuntimeError):
                self.wait_ready(self._answers, timeout)
                return self
        raise RuntimeError(f"docker-registry did not come up:\n{self.log()}")

    def _answers(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"http://{self.host}/v2/", timeout=2).status_code in (200, 401)
        return False

    def push(self, archive: str | os.PathLike[str], name: str, creds: str = "") -> None:
        argv = [self.skopeo, "copy", "--quiet", "--insecure-policy", "--dest-tls-verify=false",
                *(["--dest-creds", creds] if creds else []), f"docker-archive:{archive}",
                f"docker://{self.host}/{name}"]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise AssertionError(f"{' '.join(argv)}: {result.stderr}")

    def stop(self) -> None:
        self.terminate(timeout=10)
        self.sweep()
