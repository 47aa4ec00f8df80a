"""A stack of our own, in a private directory: a daemon (whaled, or the real dockerd) on its own
containerd (whale-containerd, or the real one), with the busybox image ready. `%load_ext nbext` starts
one for the kernel's lifetime when no daemon answers; `make lab` starts one for JupyterLab's; the
last notebook starts one per combination of real and Whalebone layers to compare them.

The daemons are told to die with the process that started them (PR_SET_PDEATHSIG), so a kernel that
is killed leaves no stack behind; `stop()` also removes the containers, mounts and files.

Not as root, whaled + whale-containerd run rootless, as dockerd does under rootlesskit: whaled (which
starts and supervises its whale-containerd) in a user namespace of its own with private mount and PID
namespaces (nbext.rootlesskit); where user namespaces are forbidden, StackUnavailable says why and
what to do (nbext.rootless)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
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
    beside_python = Path(sys.executable).parent / name  # our console scripts, in the venv
    if beside_python.exists():
        return str(beside_python)
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}")
                                       if os.access(p, os.X_OK)), None)


def whale_runtime() -> dict:
    """daemon.json's runtime for our shim and whale-runc under it: a daemon given an existing containerd
    defaults to containerd's runc shim, as dockerd does."""
    options = {"BinaryName": find_binary("whale-runc") or "whale-runc"}
    return {"runtimes": {"whale": {"runtimeType": "io.containerd.whale.v2", "options": options}},
            "default-runtime": "whale"}


def rootless() -> bool:
    return os.geteuid() != 0


def check_rootless(state_dir: str) -> None:
    """Not root: the stack runs in a user namespace; when none can be made here, say why and what to do."""
    from nbext.rootless import probe, unavailable_message, userns_blockers

    error = probe(state_dir)
    if error is not None:
        raise StackUnavailable(unavailable_message(error, userns_blockers()))


class EmbeddedStack:
    def __init__(self, daemon: str = "whaled", containerd: str = "whale-containerd"):
        if daemon not in DAEMONS or containerd not in CONTAINERDS:
            raise ValueError(f"unknown stack {daemon}/{containerd}: daemons {DAEMONS}, containerds {CONTAINERDS}")
        self.daemon, self.containerd = daemon, containerd
        self.dir: Path | None = None
        self.procs: list[subprocess.Popen] = []
        self.rootless = rootless()

    @property
    def name(self) -> str:
        return f"{self.daemon} + {self.containerd}"

    @property
    def host(self) -> str:
        return f"unix://{self.dir}/daemon.sock"

    @property
    def containerd_address(self) -> str:
        if self.rootless:  # whaled's own whale-containerd (its libcontainerd supervisor's place)
            return f"{self.dir}/exec/containerd/containerd.sock"
        return f"{self.dir}/containerd.sock"

    def sources(self) -> list:
        """The event sources only a stack of our own can offer: its containerd's events."""
        from nbext.containerd_events import ContainerdEvents

        return [ContainerdEvents(self.containerd_address)]

    def available(self) -> str | None:
        """Why this stack cannot run here, or None."""
        if self.rootless and (self.daemon, self.containerd) != DAEMONS[:1] + CONTAINERDS[:1]:
            return ("not root: only whaled + whale-containerd run rootless here; run as root (`sudo make lab`) "
                    "for the real dockerd or containerd")
        missing = [b for b in (self.daemon, self.containerd) if find_binary(b) is None]
        return f"not installed: {', '.join(missing)}" if missing else None

    def start(self, timeout: float = 60.0) -> EmbeddedStack:
        reason = self.available()
        if reason:
            raise StackUnavailable(f"cannot start {self.name}: {reason}")
        self.dir = Path(tempfile.mkdtemp(prefix="wb-nb-", dir="/tmp"))  # short: socket paths < 108 bytes
        try:
            if self.rootless:
                check_rootless(str(self.dir))
                self._start_rootless(timeout)
            else:
                self._start_containerd(timeout)
                self._start_daemon(timeout)
            ensure_busybox(self.host)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, argv: list[str], log_name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        with open(self.dir / log_name, "ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                    preexec_fn=die_with_parent, cwd=self.dir, env=env)
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
        elif self.containerd == "whale-containerd":  # ours all the way down: our shim, and whale-runc under it
            (self.dir / "daemon.json").write_text(json.dumps(whale_runtime()))
            argv += ["--config-file", str(self.dir / "daemon.json")]
        proc = self._spawn(argv, "daemon.log")
        self._wait(proc, "daemon.log", lambda: _pings(self.host), timeout)

    def _start_rootless(self, timeout: float) -> None:
        """whaled, starting its own whale-containerd, under nbext.rootlesskit (as dockerd-rootless.sh
        runs dockerd under rootlesskit with /run copied up)."""
        from nbext.rootless import launcher_env

        argv = [sys.executable, "-m", "nbext.rootlesskit", "--state-dir", str(self.dir), "--copy-up", "/run", "--",
                find_binary(self.daemon), "-H", self.host, "--data-root", str(self.dir / "data"),
                "--exec-root", str(self.dir / "exec"), "--pidfile", str(self.dir / "daemon.pid")]
        proc = self._spawn(argv, "daemon.log", env=launcher_env())
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
        remove_tree(self.dir)
        self.procs.clear()
        self.dir = None

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def remove_tree(path: Path) -> None:
    """rmtree that also removes what it may not enter at first: not root, the owner must make an
    overlay's mode-000 work directory readable before emptying it."""
    def allow_and_retry(_function: object, failed: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, 0o700)
                shutil.rmtree(failed, onerror=allow_and_retry)
            else:
                os.unlink(failed)

    shutil.rmtree(path, onerror=allow_and_retry)


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


# Resolved here, in the parent: the child of a threaded process (a kernel) must not dlopen between fork
# and exec, where another thread may have held the loader's lock at the fork (the child then hangs, and
# Popen with it, waiting for an exec that never comes).
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent() -> None:
    """In the child, before exec: a session of its own (the terminal's Ctrl-C is its parent's to
    handle), and SIGTERM when the parent dies, however it dies. Nothing here may take a lock another
    thread could have held at the fork: two system calls, through a function resolved beforehand."""
    os.setsid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


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
