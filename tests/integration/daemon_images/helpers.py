"""What the image tests share: an ImageService on a real containerd, driven from synchronous
tests through one event loop, and a local registry v2 (Debian's docker-registry) fed by skopeo."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc
import httpx

from corelib.daemon.images import ImageService
from tests.support import cleanup
from tests.support.env import require_binary

T = TypeVar("T")


class Service:
    """An ImageService in its own containerd namespace; `run(coro)` runs a call to completion."""

    def __init__(self, address: str, namespace: str):
        self.address, self.namespace = address, namespace
        self.root = Path(tempfile.mkdtemp(prefix="wb-imgsvc-", dir="/tmp"))
        self.loop = asyncio.new_event_loop()
        self.channel = self.loop.run_until_complete(self._connect())
        self.images = ImageService(self.channel, namespace, self.root)
        self.progress: list[dict] = []

    async def _connect(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(f"unix://{self.address}")

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def record(self, message: dict) -> None:
        self.progress.append(message)

    def close(self) -> None:
        self.loop.run_until_complete(self.channel.close())
        self.loop.close()
        shutil.rmtree(self.root, ignore_errors=True)


async def chunks_of(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


async def read_all(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class Registry:
    """docker-registry on 127.0.0.1 with its own storage; `push(archive, name)` uses skopeo."""

    def __init__(self, auth: str = ""):
        self.binary = require_binary("docker-registry")
        self.skopeo = require_binary("skopeo")
        self.dir = Path(tempfile.mkdtemp(prefix="wb-reg-", dir="/tmp"))
        self.auth = auth
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Registry:
        for _ in range(5):  # a port taken between choosing and binding: choose again
            self.port = free_port()
            config = self.dir / "config.yml"
            config.write_text(REGISTRY_CONFIG.format(root=self.dir / "data", port=self.port, auth=self.auth))
            log = open(self.dir / "registry.log", "ab")  # noqa: SIM115 - the child keeps it
            self.proc = subprocess.Popen([self.binary, "serve", str(config)], stdout=log, stderr=log,
                                         start_new_session=True)
            log.close()
            if self._wait(timeout):
                return self
        raise RuntimeError(f"docker-registry did not come up:\n{self.log()}")

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{self.host}/v2/", timeout=2).status_code in (200, 401):
                    return True
            time.sleep(0.05)
        return False

    def push(self, archive: str | os.PathLike[str], name: str, creds: str = "") -> None:
        argv = [self.skopeo, "copy", "--quiet", "--insecure-policy", "--dest-tls-verify=false",
                *(["--dest-creds", creds] if creds else []), f"docker-archive:{archive}",
                f"docker://{self.host}/{name}"]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise AssertionError(f"{' '.join(argv)}: {result.stderr}")

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "registry.log").read_text(errors="replace")[-4000:]
        return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        cleanup.kill_and_wait(cleanup.pids_with_marker(str(self.dir)))
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Registry:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
