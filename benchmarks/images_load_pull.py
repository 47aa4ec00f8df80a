"""`docker load` and `docker pull` of the busybox image: our ImageService (on the real containerd
1.6) beside the real dockerd 20.10, in one run, same archive, same local registry.

    sudo PYTHONPATH=. .venv/bin/python benchmarks/images_load_pull.py [rounds]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from corelib.images.archive import write_docker_archive
from corelib.images.busybox import build_busybox_rootfs
from tests.integration.daemon_images.helpers import Registry, Service, chunks_of
from tests.support.real_containerd import RealContainerd
from tests.support.real_dockerd import RealDockerd


def timed(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-bench-img-", dir="/tmp"))
    archive = work / "busybox.tar"
    write_docker_archive(archive, build_busybox_rootfs(work / "rootfs"), ["busybox:bench"])
    data = archive.read_bytes()
    with RealContainerd() as ctd, RealDockerd() as dockerd, Registry() as registry:
        registry.push(archive, "library/busybox:bench")
        ref = f"{registry.host}/library/busybox"
        svc = Service(ctd.address, "bench")
        docker = httpx.Client(transport=httpx.HTTPTransport(uds=dockerd.socket), base_url="http://docker/v1.41",
                              timeout=120)

        def ours_load() -> None:
            svc.run(svc.images.load(chunks_of(data, 1 << 20), None))

        def theirs_load() -> None:
            docker.post("/images/load", params={"quiet": "1"}, content=data).raise_for_status()

        def ours_pull() -> None:
            svc.run(svc.images.pull(ref, "bench", None, None))

        def theirs_pull() -> None:
            r = docker.post("/images/create", params={"fromImage": ref, "tag": "bench"})
            assert r.status_code == 200 and "error" not in r.text, r.text

        def ours_clean(name: str) -> None:
            svc.run(svc.images.delete(name, force=True))

        def theirs_clean(name: str) -> None:
            docker.delete(f"/images/{name}", params={"force": "1"}).raise_for_status()

        results = {}
        for op, (ours, theirs, name) in {"load": (ours_load, theirs_load, "busybox:bench"),
                                         "pull": (ours_pull, theirs_pull, f"{ref}:bench")}.items():
            times: dict[str, list[float]] = {"ours": [], "dockerd": []}
            for _ in range(rounds):
                times["ours"].append(timed(ours))
                ours_clean(name)
                times["dockerd"].append(timed(theirs))
                theirs_clean(name)
            results[op] = {k: statistics.median(v) * 1000 for k, v in times.items()}
        svc.close()
        docker.close()
    print(json.dumps({"rounds": rounds, "median_ms": results}, indent=1))
    for op, r in results.items():
        print(f"{op}: ours {r['ours']:.0f} ms, dockerd {r['dockerd']:.0f} ms, ratio {r['ours'] / r['dockerd']:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
