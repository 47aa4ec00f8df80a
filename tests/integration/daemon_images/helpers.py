"""What the image tests share: an ImageService on a real containerd, driven from synchronous
tests through one event loop, and a local registry v2 (Debian's docker-registry) fed by skopeo."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc

from corelib.daemon.images import ImageService

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


