"""Resident memory of a shim per running container: N containers under the real containerd 1.6 with
our containerd-shim-whale-v2 and N with the real containerd-shim-runc-v2, side by side in one
containerd, both over the real runc (so only the shims differ). RSS counts every page a shim has
mapped; PSS shares the pages several shims map (the interpreter, the Go binary) among them; USS is
what each shim alone holds. Measured once the containers run, and again after an exec and a ps
in each (threads and buffers a working shim has made).

    sudo PYTHONPATH=. .venv/bin/python benchmarks/shim_memory.py [N]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from corelib.images.archive import write_docker_archive
from corelib.images.busybox import build_busybox_rootfs
from tests.support import cleanup
from tests.support.real_containerd import RealContainerd

IMAGE = "docker.io/library/busybox:latest"
SHIMS = {"containerd-shim-whale-v2": "io.containerd.whale.v2", "containerd-shim-runc-v2": "io.containerd.runc.v2"}
FIELDS = ("Rss", "Pss", "Private_Clean", "Private_Dirty")


def memory(pid: int) -> dict[str, int]:
    """kB from /proc/PID/smaps_rollup; USS = private clean + dirty."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        values[key] = int(value.split()[0])
    return {"RSS": values["Rss"], "PSS": values["Pss"], "USS": values["Private_Clean"] + values["Private_Dirty"]}


def shim_pids(ctd: RealContainerd) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {name: [] for name in SHIMS}
    for pid in cleanup.pids_with_marker(ctd.address):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if any(b"corelib.shim.main" in arg for arg in argv):
            found["containerd-shim-whale-v2"].append(pid)
        elif argv[0].endswith(b"containerd-shim-runc-v2"):
            found["containerd-shim-runc-v2"].append(pid)
    return found


def report(title: str, ctd: RealContainerd, n: int) -> None:
    pids = shim_pids(ctd)
    print(f"\n{title}")
    print(f"  {'shim':26s} {'count':>5s} {'RSS kB':>9s} {'PSS kB':>9s} {'USS kB':>9s}   (mean per shim)")
    means = {}
    for name, found in pids.items():
        assert len(found) == n, f"{name}: {len(found)} shims for {n} containers"
        samples = [memory(pid) for pid in found]
        means[name] = {k: statistics.mean(s[k] for s in samples) for k in ("RSS", "PSS", "USS")}
        print(f"  {name:26s} {len(found):5d} " + " ".join(f"{means[name][k]:9.0f}" for k in ("RSS", "PSS", "USS")))
    ours, real = means["containerd-shim-whale-v2"], means["containerd-shim-runc-v2"]
    print(f"  {'ratio ours/real':26s} {'':5s} " + " ".join(f"{ours[k] / real[k]:8.2f}x" for k in ("RSS", "PSS", "USS")))


def main(n: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-bench-shim-", dir="/tmp"))
    try:
        archive = work / "busybox.tar"
        write_docker_archive(archive, build_busybox_rootfs(work / "rootfs"), [IMAGE])
        os.environ["WHALE_SHIM_RUNTIME"] = "/usr/sbin/runc"  # the same runc under both shims
        venv_bin = os.path.dirname(sys.executable)
        with RealContainerd(extra_path=[venv_bin], namespace=f"wbbench{os.getpid()}") as ctd:
            ctd.ctr("images", "import", str(archive))
            for i in range(n):
                for name, runtime in SHIMS.items():
                    ctd.ctr("run", "-d", "--runtime", runtime, IMAGE, f"{name[16:20]}{i}", "sleep", "100000")
            time.sleep(2)  # let both settle (Go's first GC, our imports and threads)
            print(f"{n} containers per shim, busybox `sleep`, containerd 1.6.20, runc 1.1.5, "
                  f"python {sys.version.split()[0]}")
            report("running:", ctd, n)
            for i in range(n):
                for name in SHIMS:
                    ctd.ctr("task", "exec", "--exec-id", "probe", f"{name[16:20]}{i}", "true")
                    ctd.ctr("task", "ps", f"{name[16:20]}{i}")
            time.sleep(2)
            report("after one exec and one ps each:", ctd, n)
        with contextlib.suppress(OSError):  # the runtime's (now empty) state directory of the namespace
            os.rmdir(f"/run/containerd/runc/wbbench{os.getpid()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
