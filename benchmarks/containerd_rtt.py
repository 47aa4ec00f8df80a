"""The cost of one gRPC call, which `ctr run --rm` makes about 38 of: Version and Containers.List round
trips from one client to whale-containerd, to the real containerd 1.6, and to a bare grpcio asyncio
server that answers Version with no work at all (the floor any Python server on grpcio starts from;
registered as whale-containerd registers its services, through grpcio's generic handlers),
interleaved, median of N calls each.

    sudo PYTHONPATH=. .venv/bin/python benchmarks/containerd_rtt.py [calls]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf import empty_pb2

from corelib.api.containerd.services.containers.v1 import containers_pb2, containers_pb2_grpc
from corelib.api.containerd.services.version.v1 import version_pb2, version_pb2_grpc
from corelib.containerd.server import GenericHandlersOnly
from tests.integration.containerd.harness import WhaleContainerd, real_containerd

ROUNDS = 10


class BareVersion(version_pb2_grpc.VersionServicer):
    async def Version(self, request, context):  # noqa: N802
        return version_pb2.VersionResponse(version="bare")


def serve_bare(address: str) -> None:
    """The bare server, in a process of its own (run as `containerd_rtt.py --bare ADDRESS`)."""
    async def serve() -> None:
        server = grpc.aio.server()
        version_pb2_grpc.add_VersionServicer_to_server(BareVersion(), GenericHandlersOnly(server))
        server.add_insecure_port(f"unix:{address}")
        await server.start()
        await server.wait_for_termination()

    asyncio.run(serve())


def timed(call: object, calls: int) -> list[float]:
    values = []
    for _ in range(calls):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        values.append((time.perf_counter() - start) * 1e6)
    return values


def measure(addresses: dict[str, str], calls: int) -> dict[str, dict[str, list[float]]]:
    stubs = {}
    for name, address in addresses.items():
        channel = grpc.insecure_channel(f"unix:{address}")
        stubs[name] = (version_pb2_grpc.VersionStub(channel), containers_pb2_grpc.ContainersStub(channel))
    metadata = [("containerd-namespace", "rtt")]
    results: dict[str, dict[str, list[float]]] = {name: {"Version": [], "Containers.List": []} for name in addresses}
    for _ in range(ROUNDS):  # interleaved: a busy moment falls on every side alike
        for name, (version, containers) in stubs.items():
            results[name]["Version"] += timed(lambda v=version: v.Version(empty_pb2.Empty()), calls // ROUNDS)
            if name != "bare grpcio aio server":
                request = containers_pb2.ListContainersRequest()
                results[name]["Containers.List"] += timed(
                    lambda c=containers, r=request: c.List(r, metadata=metadata), calls // ROUNDS)
    return results


def main(calls: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-bench-rtt-", dir="/tmp"))
    bare = str(work / "bare.sock")
    server = subprocess.Popen([sys.executable, __file__, "--bare", bare])
    try:
        while not os.path.exists(bare):
            time.sleep(0.05)
        with WhaleContainerd() as ours, real_containerd() as real:
            addresses = {"whale-containerd": ours.address, "containerd 1.6.20": real.address,
                         "bare grpcio aio server": bare}
            for name, address in addresses.items():  # warm up: connections, first calls
                measure({name: address}, ROUNDS * 10)
            results = measure(addresses, calls)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"one gRPC call from a Python (grpcio) client, {calls} calls each, interleaved, "
          f"load average {os.getloadavg()[0]:.2f}")
    for name, methods in results.items():
        row = "   ".join(f"{method} median {statistics.median(v):5.0f} us" for method, v in methods.items() if v)
        print(f"  {name:24s} {row}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare"]:
        serve_bare(sys.argv[2])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
