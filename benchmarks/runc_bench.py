"""whale-runc against runc, side by side: `create` + `start` + `delete` of /bin/true on the same
busybox bundle, timed from this process (which, like a shim, is the child subreaper that reaps the
container's init). whale-runc runs from a normal install (`pip install .` into a temporary venv,
not the editable one), so start-up costs what a user's install costs. The venv's interpreter is
the system's python3 (what `make test` uses on a clean Debian 12), unless --python says otherwise.

    sudo python3 benchmarks/runc_bench.py [--runs 30] [--python PY] [--whale PATH] [--runc PATH]

Prints per-step medians for both and the ratio whale-runc / runc (target: <= 1.5)."""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from corelib.images.busybox import build_busybox_rootfs  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36


def install_whale_runc(workdir: Path, python: str) -> str:
    venv = workdir / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--no-deps", str(REPO)], check=True)
    return str(venv / "bin/whale-runc")


def make_bundle(workdir: Path) -> Path:
    bundle = workdir / "bundle"
    build_busybox_rootfs(bundle / "rootfs")
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/bin/true"]
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def one_cycle(binary: str, root: str, bundle: Path, container_id: str) -> dict[str, float]:
    pid_file = bundle / f"{container_id}.pid"
    base = [binary, "--root", root]
    t0 = time.perf_counter()
    subprocess.run([*base, "create", "--bundle", str(bundle), "--pid-file", str(pid_file), container_id], check=True)
    t1 = time.perf_counter()
    subprocess.run([*base, "start", container_id], check=True)
    t2 = time.perf_counter()
    os.waitpid(int(pid_file.read_text()), 0)  # reaped as a shim would; not timed
    t3 = time.perf_counter()
    subprocess.run([*base, "delete", container_id], check=True)
    t4 = time.perf_counter()
    pid_file.unlink()
    return {"create": t1 - t0, "start": t2 - t1, "delete": t4 - t3, "total": (t2 - t0) + (t4 - t3)}


def measure(binary: str, bundle: Path, runs: int, tag: str) -> dict[str, float]:
    root = tempfile.mkdtemp(prefix=f"wb-bench-{tag}-", dir="/tmp")
    try:
        samples = [one_cycle(binary, root, bundle, f"bench-{tag}-{os.getpid()}-{i}") for i in range(runs + 2)][2:]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {k: statistics.median(s[k] for s in samples) * 1000 for k in samples[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--whale", help="a whale-runc to time (default: a fresh non-editable install)")
    parser.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    system_python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    parser.add_argument("--python", default=system_python, help="the interpreter of whale-runc's venv")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: containers need namespaces and cgroups")
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    workdir = Path(tempfile.mkdtemp(prefix="wb-runc-bench-", dir="/tmp"))
    try:
        whale = args.whale or install_whale_runc(workdir, args.python)
        bundle = make_bundle(workdir)
        results = {}
        # interleave the two, so a busy machine slows both alike
        for _ in range(2):
            for name, binary in (("runc", args.runc), ("whale-runc", whale)):
                results.setdefault(name, []).append(measure(binary, bundle, args.runs // 2, name.replace("-", "")))
        python = subprocess.run([args.python, "--version"], capture_output=True, text=True).stdout.strip()
        print(f"create + start + delete of /bin/true, median of {args.runs} runs each (ms); "
              f"whale-runc on {args.whale or python}; load average {os.getloadavg()[0]:.2f}")
        print(f"{'':12}{'create':>9}{'start':>9}{'delete':>9}{'total':>9}")
        summary = {}
        for name, halves in results.items():
            summary[name] = {k: statistics.mean(h[k] for h in halves) for k in halves[0]}
            row = summary[name]
            print(f"{name:12}{row['create']:9.1f}{row['start']:9.1f}{row['delete']:9.1f}{row['total']:9.1f}")
        ratio = summary["whale-runc"]["total"] / summary["runc"]["total"]
        print(f"ratio whale-runc / runc: {ratio:.2f} (target <= 1.5)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
