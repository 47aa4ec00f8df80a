"""whaled's configuration: dockerd's flags and the places they name."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from corelib.runc.userns import running_in_user_ns

RUNC_SHIM = "io.containerd.runc.v2"
WHALE_SHIM = "io.containerd.whale.v2"


def default_places() -> tuple[str, str, str]:
    """(data root, exec root, API socket): /var/lib/whalebone, /run/whalebone as root; XDG dirs rootless
    (not root, or root of a user namespace, as dockerd under rootlesskit)."""
    if os.geteuid() == 0 and not running_in_user_ns():
        return "/var/lib/whalebone", "/run/whalebone", "unix:///run/whalebone/whaled.sock"
    data = os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share"))
    run = os.environ.get("XDG_RUNTIME_DIR", f"/tmp/whalebone-{os.getuid()}")
    return f"{data}/whalebone", f"{run}/whalebone", f"unix://{run}/whalebone/whaled.sock"


def find_binary(name: str) -> str:
    """A binary of ours (next to this Python) or of the system; `name` itself when neither has it."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name) or name


@dataclass
class Runtime:
    path: str
    shim: str


@dataclass
class Config:
    hosts: list[str] = field(default_factory=list)
    data_root: str = ""
    exec_root: str = ""
    containerd: str = ""  # an existing containerd's socket; empty: start and supervise whale-containerd
    containerd_namespace: str = "moby"
    pidfile: str = ""
    default_runtime: str = ""
    runtimes: dict[str, Runtime] = field(default_factory=dict)
    cgroup_parent: str = "/docker"
    live_restore: bool = False
    log_level: str = "info"
    default_shm_size: int = 64 << 20
    shutdown_timeout: int = 15
    init_path: str = ""
    metrics_addr: str = ""  # host:port of the Prometheus endpoint; empty: none
    otlp_endpoint: str = ""  # an OpenTelemetry collector's OTLP/HTTP address; empty: no export
    tracing: bool = True
    rootless: bool = False  # in a user namespace: specs adapted (corelib.daemon.rootless)

    def __post_init__(self) -> None:
        data, run, sock = default_places()
        self.data_root = self.data_root or data
        self.exec_root = self.exec_root or run
        self.hosts = self.hosts or [sock]
        self.pidfile = self.pidfile or os.path.join(self.exec_root, "whaled.pid")
        shim = RUNC_SHIM if self.containerd else WHALE_SHIM
        builtin = {"runc": Runtime(shutil.which("runc") or "runc", shim),
                   "whale-runc": Runtime(find_binary("whale-runc"), shim)}
        self.runtimes = {**builtin, **self.runtimes}
        if not self.default_runtime:
            self.default_runtime = "runc" if self.containerd else "whale-runc"
        self.init_path = self.init_path or shutil.which("docker-init") or shutil.which("tini-static") or ""
        self.rootless = self.rootless or running_in_user_ns()

    @property
    def containerd_address(self) -> str:
        return self.containerd or os.path.join(self.exec_root, "containerd", "containerd.sock")

    @property
    def managed_containerd(self) -> bool:
        return not self.containerd
