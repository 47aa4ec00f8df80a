"""A stack of our own, in a private directory: a daemon (whaled, or the real dockerd) on its own
containerd (whale-containerd, or the real one), with the busybox image ready. `%load_ext nbext` starts
one for the kernel's lifetime when no daemon answers; `make lab` starts one for JupyterLab's; the
last notebook starts one per combination of real and Whalebone layers to compare them.

The daemons are told to die with the process that started them (PR_SET_PDEATHSIG), so a kernel that
is killed leaves no stack behind; `stop()` also removes the containers, mounts and files."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from corelib.client.api import APIClient
from corelib.client.errors import APIError
from corelib.client.transport.dial import DaemonUnreachable

DAEMONS = ("whaled", "dockerd")
CONTAINERDS = ("whale-containerd", "containerd")
# The real dockerd, as our tests run it: no iptables, no bridge, its own config file.
DOCKERD_FLAGS = ["--iptables=false", "--ip6tables=false", "--ip-masq=false", "--bridge=none",
                 "--userland-proxy=false"]
PR_SET_PDEATHSIG = 1
MNT_DETACH = 2
BUSYBOX = "busybox:latest"


class StackUnavailable(RuntimeError):
    """No stack can run here; the message says why and what to do."""


def find_binary(name: str) -> str | None:
    import sys

    beside_python = Path(sys.executable).parent / name  # our console scripts, in the venv
    if beside_python.exists():
        return str(beside_python)
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}")
                                       if os.access(p, os.X_OK)), None)


def check_host() -> None:
    """Containers need root here (namespaces, mounts, cgroups); say so plainly, with what to do."""
    if os.geteuid() == 0:
        return
    raise StackUnavailable(
        "nbext cannot start a container stack: it needs root (namespaces, mounts and cgroups are real), "
        "and running rootless, in a user namespace, is not supported yet.\n"
        "What to do: run JupyterLab as root (`sudo make lab`), or point WHALE_HOST at a daemon that runs "
        "(e.g. WHALE_HOST=unix:///run/whalebone/whaled.sock, or a Docker daemon's socket).\n"
        "Without a daemon, the DataFrame and analysis parts of the notebooks still work on saved spans.")


class EmbeddedStack:
    def __init__(self, daemon: str = "whaled", containerd: str = "whale-containerd"):
        if daemon not in DAEMONS or containerd not in CONTAINERDS:
            raise ValueError(f"unknown stack {daemon}/{containerd}: daemons {DAEMONS}, containerds {CONTAINERDS}")
        self.daemon, self.containerd = daemon, containerd
        self.dir: Path | None = None
        self.procs: list[subprocess.Popen] = []

    @property
    def name(self) -> str:
        return f"{self.daemon} + {self.containerd}"

    @property
    def host(self) -> str:
        return f"unix://{self.dir}/daemon.sock"

    @property
    def containerd_address(self) -> str:
        return f"{self.dir}/containerd.sock"

    def sources(self) -> list:
        """The event sources only a stack of our own can offer: its containerd's events."""
        from nbext.containerd_events import ContainerdEvents

        return [ContainerdEvents(self.containerd_address)]

    def available(self) -> str | None:
        """Why this stack cannot run here, or None."""
        missing = [b for b in (self.daemon, self.containerd) if find_binary(b) is None]
        return f"not installed: {', '.join(missing)}" if missing else None

    def start(self, timeout: float = 60.0) -> EmbeddedStack:
        check_host()
        reason = self.available()
        if reason:
            raise StackUnavailable(f"cannot start {self.name}: {reason}")
        self.dir = Path(tempfile.mkdtemp(prefix="wb-nb-", dir="/tmp"))  # short: socket paths < 108 bytes
        try:
            self._start_containerd(timeout)
            self._start_daemon(timeout)
            ensure_busybox(self.host)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        with open(self.dir / log_name, "ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                    preexec_fn=die_with_parent, cwd=self.dir)
        self.procs.append(proc)
        return proc

    def _start_containerd(self, timeout: float) -> None:
        config = self.dir / "containerd.toml"
        config.write_text("version = 2\n")
        proc = self._spawn([find_binary(self.containerd), "--config", str(config), "--address",
                            self.containerd_address, "--root", str(self.dir / "containerd-root"),
                            "--state", str(self.dir / "containerd-state")], "containerd.log")
        self._wait(proc, "containerd.log", lambda: _serves(self.containerd_address), timeout)

    def _start_daemon(self, timeout: float) -> None:
        argv = [find_binary(self.daemon), "-H", self.host, "--data-root", str(self.dir / "data"),
                "--exec-root", str(self.dir / "exec"), "--pidfile", str(self.dir / "daemon.pid"),
                "--containerd", self.containerd_address]
        if self.daemon == "dockerd":
            (self.dir / "daemon.json").write_text("{}")
            argv += ["--config-file", str(self.dir / "daemon.json"), *DOCKERD_FLAGS]
        proc = self._spawn(argv, "daemon.log")
        self._wait(proc, "daemon.log", lambda: _pings(self.host), timeout)

    def _wait(self, proc: subprocess.Popen, log_name: str, ready: object, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StackUnavailable(f"{Path(proc.args[0]).name} exited with status {proc.returncode}:\n"
                                       f"{self.log(log_name)}")
            if ready():
                return
            time.sleep(0.05)
        raise StackUnavailable(f"{Path(proc.args[0]).name} did not come up in {timeout:.0f}s:\n{self.log(log_name)}")

    def log(self, name: str = "daemon.log") -> str:
        try:
            return (self.dir / name).read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.dir is None:
            return
        if self.procs and self.procs[-1].poll() is None:
            with contextlib.suppress(Exception):
                remove_all_containers(self.host)
        for proc in reversed(self.procs):  # the daemon, then containerd
            _terminate(proc)
        _kill_marked(str(self.dir))  # shims and containers outliving their daemons
        _unmount_under(str(self.dir))
        shutil.rmtree(self.dir, ignore_errors=True)
        self.procs.clear()
        self.dir = None

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_busybox(host: str) -> None:
    """busybox:latest from the host's static busybox, when the daemon has none (no network needed)."""
    client = APIClient(host)
    try:
        with contextlib.suppress(APIError):
            client.inspect_image(BUSYBOX)
            return
        from corelib.images.archive import write_docker_archive
        from corelib.images.busybox import build_busybox_rootfs

        with tempfile.TemporaryDirectory(prefix="wb-nb-bb-") as scratch:
            archive = Path(scratch) / "busybox.tar"
            write_docker_archive(archive, build_busybox_rootfs(Path(scratch) / "rootfs"), [BUSYBOX])
            with open(archive, "rb") as f:
                client.load_image(iter(lambda: f.read(1 << 20), b""), quiet=True).read()
    finally:
        client.close()


def remove_all_containers(host: str) -> None:
    client = APIClient(host, timeout=5)
    try:
        for container in client.containers(all=True):
            with contextlib.suppress(APIError):
                client.remove_container(container["Id"], force=True)
    finally:
        client.close()


def _pings(host: str) -> bool:
    client = APIClient(host, timeout=2)
    try:
        client.ping()
        return True
    except (DaemonUnreachable, OSError, APIError):
        return False
    finally:
        client.close()


def _serves(address: str) -> bool:
    """containerd answers gRPC's health check with SERVING (what dockerd waits for too)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    if not os.path.exists(address):
        return False
    with grpc.insecure_channel(f"unix://{address}") as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError:
            return False
    return answer.status == health_pb2.HealthCheckResponse.SERVING


def die_with_parent() -> None:
    """In the child, before exec: a session of its own (the terminal's Ctrl-C is its parent's to
    handle), and SIGTERM when the parent dies, however it dies."""
    os.setsid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _terminate(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _kill_marked(marker: str) -> None:
    """SIGKILL every process whose command line names our directory."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker.encode() in Path(entry.path, "cmdline").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)


def _unmount_under(prefix: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(3):
        points = sorted({line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                         if line.split()[4].startswith(prefix)}, key=len, reverse=True)
        if not points:
            return
        for point in points:
            libc.umount2(point.encode(), MNT_DETACH)
