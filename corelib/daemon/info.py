"""`docker version`, `docker info` and `docker system df` (moby's daemon/info.go, disk_usage.go)."""

from __future__ import annotations

import asyncio
import base64
import os
import platform
import secrets
import socket
from datetime import UTC, datetime
from pathlib import Path

from corelib import errdefs
from corelib.daemon.container.state import format_time
from corelib.daemon.create import cgroup_version
from corelib.daemon.list import container_summary, size_rw
from corelib.daemon.network import BRIDGE_WARNING
from corelib.daemon.server.server import API_VERSION, MIN_API_VERSION

try:
    from importlib.metadata import version as _dist_version

    WHALEBONE_VERSION = _dist_version("whalebone")
except Exception:  # noqa: BLE001 - running from a source tree
    WHALEBONE_VERSION = "0.1.0"

#: The engine version we answer with: the Engine API of Docker 20.10, built by whalebone.
SERVER_VERSION = f"20.10.24+whalebone.{WHALEBONE_VERSION}"
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


def _os_release() -> tuple[str, str]:
    values = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            values[key] = value.strip('"')
    except OSError:
        pass
    return values.get("PRETTY_NAME", "Linux"), values.get("VERSION_ID", "")


def _mem_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def engine_id(root: Path) -> str:
    """A stable ID for this daemon, kept in `<data-root>/engine-id`."""
    path = root / "engine-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raw = base64.b32encode(secrets.token_bytes(30)).decode()[:48]
        value = ":".join(raw[i:i + 4] for i in range(0, 48, 4))
        path.write_text(value + "\n")
        return value


async def _binary_version(path: str) -> tuple[str, str]:
    """(version, commit) from `runc --version`-style output."""
    try:
        proc = await asyncio.create_subprocess_exec(path, "--version", stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(proc.communicate(), 10)
    except (TimeoutError, OSError):
        return "", ""
    version = commit = ""
    for line in out.decode(errors="replace").splitlines():
        if " version " in line and not version:
            version = line.rsplit(" ", 1)[-1]
        elif line.startswith("commit:"):
            commit = line.split(":", 1)[1].strip()
    return version, commit


class InfoMixin:
    _versions: dict | None = None

    async def component_versions(self) -> dict:
        if self._versions is None:
            try:
                containerd = await self.containerd.version()
            except errdefs.WhaleError:
                containerd = ("", "")
            runtime = self.config.runtimes[self.config.default_runtime]
            self._versions = {"containerd": containerd, "runtime": await _binary_version(runtime.path)}
        return self._versions

    async def SystemVersion(self) -> dict:
        versions = await self.component_versions()
        arch = GO_ARCH.get(platform.machine(), platform.machine())
        kernel = os.uname().release
        built = "2026-01-01T00:00:00.000000000+00:00"
        ctd_version, ctd_commit = versions["containerd"]
        runc_version, runc_commit = versions["runtime"]
        engine = {"ApiVersion": API_VERSION, "Arch": arch, "BuildTime": built, "Experimental": "false",
                  "GitCommit": "whalebone", "GoVersion": f"python{platform.python_version()}",
                  "KernelVersion": kernel, "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
        components = [{"Name": "Engine", "Version": SERVER_VERSION, "Details": engine},
                      {"Name": "containerd", "Version": ctd_version, "Details": {"GitCommit": ctd_commit}},
                      {"Name": self.config.default_runtime, "Version": runc_version,
                       "Details": {"GitCommit": runc_commit}}]
        if self.config.init_path:
            components.append({"Name": "docker-init", "Version": "", "Details": {"GitCommit": ""}})
        return {"Platform": {"Name": "Whalebone Engine"}, "Components": components, "Version": SERVER_VERSION,
                "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION, "GitCommit": "whalebone",
                "GoVersion": engine["GoVersion"], "Os": "linux", "Arch": arch, "KernelVersion": kernel,
                "BuildTime": built}

    async def SystemInfo(self) -> dict:
        versions = await self.component_versions()
        states = [c.State.status() for c in self.containers.values()]
        running = sum(s in ("running", "restarting") for s in states)
        paused = states.count("paused")
        try:
            images = len(await self.images.list_images(False, {}))
        except errdefs.WhaleError:
            images = 0
        os_name, os_version = _os_release()
        runtimes = {name: {"path": r.path} for name, r in self.config.runtimes.items()}
        return {
            "ID": engine_id(self.root), "Containers": len(states), "ContainersRunning": running,
            "ContainersPaused": paused, "ContainersStopped": len(states) - running - paused, "Images": images,
            "Driver": "overlayfs", "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
            "Plugins": {"Volume": ["local"], "Network": ["host", "null"], "Authorization": None,
                        "Log": ["json-file", "local", "none"]},
            "MemoryLimit": True, "SwapLimit": True, "KernelMemory": False, "KernelMemoryTCP": False,
            "CpuCfsPeriod": True, "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True, "PidsLimit": True,
            "IPv4Forwarding": False, "BridgeNfIptables": False, "BridgeNfIp6tables": False,
            "Debug": self.config.log_level == "debug", "NFd": len(os.listdir("/proc/self/fd")),
            "OomKillDisable": True, "NGoroutines": len(asyncio.all_tasks()),
            "SystemTime": format_time(datetime.now(UTC)), "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs", "CgroupVersion": cgroup_version(), "NEventsListener": self.events.listeners,
            "KernelVersion": os.uname().release, "OperatingSystem": os_name, "OSVersion": os_version,
            "OSType": "linux", "Architecture": platform.machine(), "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [],
                               "AllowNondistributableArtifactsHostnames": [],
                               "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                               "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": True,
                                                              "Official": True}},
                               "Mirrors": []},
            "NCPU": os.cpu_count() or 1, "MemTotal": _mem_total(), "GenericResources": None,
            "DockerRootDir": str(self.root), "HttpProxy": os.environ.get("HTTP_PROXY", ""),
            "HttpsProxy": os.environ.get("HTTPS_PROXY", ""), "NoProxy": os.environ.get("NO_PROXY", ""),
            "Name": socket.gethostname(), "Labels": [], "ExperimentalBuild": False, "ServerVersion": SERVER_VERSION,
            "Runtimes": runtimes, "DefaultRuntime": self.config.default_runtime,
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                      "Error": "", "RemoteManagers": None},
            "LiveRestoreEnabled": self.config.live_restore, "Isolation": "",
            "InitBinary": "docker-init" if self.config.init_path else "",
            "ContainerdCommit": {"ID": versions["containerd"][1], "Expected": versions["containerd"][1]},
            "RuncCommit": {"ID": versions["runtime"][1], "Expected": versions["runtime"][1]},
            "InitCommit": {"ID": "", "Expected": ""},
            "SecurityOptions": ["name=seccomp,profile=default", *(["name=rootless"] if self.config.rootless else [])],
            "Warnings": ["WARNING: " + BRIDGE_WARNING],
        }

    async def SystemDiskUsage(self) -> dict:
        try:
            images = await self.images.list_images(False, {})
        except errdefs.WhaleError:
            images = []
        containers = []
        for container in self.containers.values():
            entry = container_summary(container)
            entry["SizeRw"] = size_rw(container)
            entry["SizeRootFs"] = entry["SizeRw"] + await self._image_size(container)
            containers.append(entry)
        users = self.image_users()
        for image in images:
            image["Containers"] = len(users.get(image.get("Id", ""), []))
        return {"LayersSize": sum(int(i.get("Size", 0)) for i in images), "Images": images,
                "Containers": containers, "Volumes": [], "BuildCache": []}
