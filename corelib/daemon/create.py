"""Creating a container (moby's daemon/create.go), the seed's path:
postContainersCreate > containerCreate > create > newContainer > Register."""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime

from corelib import errdefs
from corelib.daemon.container.container import Container
from corelib.daemon.container.state import format_time
from corelib.daemon.images.image import container_config
from corelib.daemon.mounts import container_mount_points
from corelib.daemon.names import generate_id, validate_name
from corelib.daemon.network import host_hostname, network_mode, network_settings, validate_network_mode
from corelib.daemon.tracing import tracer
from corelib.oci import caps as oci_caps
from corelib.oci.defaults import MASKED_PATHS, READONLY_PATHS

RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure", "")
LOG_DRIVERS = ("json-file", "local", "none")
MIN_MEMORY = 6 * 1024 * 1024


def cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def get_entrypoint_and_args(entrypoint: list[str] | None, cmd: list[str] | None) -> tuple[str, list[str]]:
    if entrypoint:
        return entrypoint[0], [*entrypoint[1:], *(cmd or [])]
    return cmd[0], list(cmd[1:])  # type: ignore[index]


def merge_image_config(config: dict, image: dict) -> None:
    """moby's merge(): what the container leaves unset comes from the image."""
    if not config.get("User"):
        config["User"] = image.get("User") or ""
    if image.get("ExposedPorts"):
        config["ExposedPorts"] = {**image["ExposedPorts"], **(config.get("ExposedPorts") or {})}
    if image.get("Env"):
        own = {e.split("=", 1)[0] for e in config.get("Env") or []}
        config["Env"] = list(config.get("Env") or []) + [e for e in image["Env"] if e.split("=", 1)[0] not in own]
    if image.get("Labels"):
        config["Labels"] = {**image["Labels"], **(config.get("Labels") or {})}
    if not config.get("Entrypoint"):
        if not config.get("Cmd"):
            config["Cmd"] = image.get("Cmd")
        if config.get("Entrypoint") is None:
            config["Entrypoint"] = image.get("Entrypoint")
    if not config.get("WorkingDir"):
        config["WorkingDir"] = image.get("WorkingDir") or ""
    if image.get("Volumes"):
        config["Volumes"] = {**image["Volumes"], **(config.get("Volumes") or {})}
    if not config.get("StopSignal") and image.get("StopSignal"):
        config["StopSignal"] = image["StopSignal"]
    if image.get("Healthcheck") and not config.get("Healthcheck"):
        config["Healthcheck"] = image["Healthcheck"]


def verify_container_settings(config: dict, host: dict, runtimes: dict) -> list[str]:
    """moby's verifyContainerSettings: errors are InvalidArgument, in Docker's words."""
    workdir = config.get("WorkingDir") or ""
    if workdir and not workdir.startswith("/"):
        raise errdefs.InvalidArgument(f"the working directory '{workdir}' is invalid, it needs to be an absolute path")
    policy = host.get("RestartPolicy") or {}
    name, retries = policy.get("Name", ""), policy.get("MaximumRetryCount", 0)
    if name not in RESTART_POLICIES:
        raise errdefs.InvalidArgument(f"invalid restart policy '{name}'")
    if name in ("always", "unless-stopped", "no") and retries:
        raise errdefs.InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'")
    if name == "on-failure" and retries < 0:
        raise errdefs.InvalidArgument("maximum retry count cannot be negative")
    if host.get("AutoRemove") and name not in ("", "no"):
        raise errdefs.InvalidArgument("can't create 'AutoRemove' container with restart policy")
    for key in ("CapAdd", "CapDrop"):
        try:
            oci_caps.normalize(host.get(key))
        except errdefs.InvalidArgument as e:
            raise errdefs.InvalidArgument(f"invalid {key}: {e}") from None
    _verify_resources(host)
    runtime = host.get("Runtime") or ""
    if runtime and runtime not in runtimes:
        raise errdefs.InvalidArgument(f"Unknown runtime specified {runtime}")
    log_type = (host.get("LogConfig") or {}).get("Type") or ""
    if log_type and log_type not in LOG_DRIVERS:
        raise errdefs.InvalidArgument(f"logger: no log driver named '{log_type}' is registered")
    for option in host.get("SecurityOpt") or []:
        parse_security_opt(option)
    return validate_network_mode(network_mode(host))


def _verify_resources(host: dict) -> None:
    memory, swap = host.get("Memory", 0), host.get("MemorySwap", 0)
    if memory and memory < MIN_MEMORY:
        raise errdefs.InvalidArgument("Minimum memory limit allowed is 6MB")
    if memory > 0 and swap > 0 and swap < memory:
        raise errdefs.InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if swap > 0 and not memory:
        raise errdefs.InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
    swappiness = host.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise errdefs.InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    if host.get("NanoCpus") and (host.get("CpuPeriod") or host.get("CpuQuota")):
        raise errdefs.InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    cpus = os.cpu_count() or 1
    if host.get("NanoCpus", 0) < 0 or host.get("NanoCpus", 0) > cpus * 1_000_000_000:
        raise errdefs.InvalidArgument(f"Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs "
                                      "available")
    if host.get("ShmSize", 0) < 0:
        raise errdefs.InvalidArgument("SHM size can not be less than 0")
    score = host.get("OomScoreAdj", 0)
    if not -1000 <= score <= 1000:
        raise errdefs.InvalidArgument(f"Invalid value {score}, range for oom score adj is [-1000, 1000]")
    for key in ("IpcMode", "PidMode", "UTSMode"):
        mode = host.get(key) or ""
        valid = ("", "host", "private", "shareable", "none") if key == "IpcMode" else ("", "host")
        if mode not in valid and not mode.startswith("container:"):
            raise errdefs.InvalidArgument(f"invalid {key.replace('Mode', '').upper()} mode: {mode}")
    if (host.get("CgroupnsMode") or "") not in ("", "host", "private"):
        raise errdefs.InvalidArgument(f"invalid cgroup namespace mode: {host['CgroupnsMode']}")


def parse_security_opt(option: str) -> tuple[str, str]:
    """One `--security-opt`: (key, value), Docker's errors for what it does not know."""
    if option in ("no-new-privileges", "disable"):
        return option, "true"
    if "=" in option:
        key, value = option.split("=", 1)
    elif ":" in option:
        key, value = option.split(":", 1)
    else:
        raise errdefs.InvalidArgument(f'invalid --security-opt 1: "{option}"')
    if key not in ("label", "apparmor", "seccomp", "no-new-privileges"):
        raise errdefs.InvalidArgument(f'invalid --security-opt 2: "{option}"')
    if key == "no-new-privileges" and value.lower() not in ("1", "t", "true", "0", "f", "false"):
        raise errdefs.InvalidArgument(f'invalid --security-opt 2: "{option}"')
    return key, value


def adapt_container_settings(host: dict, default_runtime: str, default_shm: int) -> None:
    """moby's adaptContainerSettings: the defaults inspect shows afterwards."""
    if host.get("Memory", 0) > 0 and not host.get("MemorySwap"):
        host["MemorySwap"] = host["Memory"] * 2
    if not host.get("ShmSize"):
        host["ShmSize"] = default_shm
    if not host.get("IpcMode"):
        host["IpcMode"] = "private"
    if not host.get("CgroupnsMode"):
        host["CgroupnsMode"] = "private" if cgroup_version() == "2" else "host"
    if host.get("MemorySwappiness") == -1:
        host["MemorySwappiness"] = None
    if host.get("PidsLimit") is not None and host["PidsLimit"] <= 0:
        host["PidsLimit"] = None
    if host.get("OomKillDisable") is None:
        host["OomKillDisable"] = False
    if not host.get("Runtime"):
        host["Runtime"] = default_runtime
    host.setdefault("LogConfig", {"Type": "", "Config": {}})
    if not host["LogConfig"].get("Type"):
        host["LogConfig"]["Type"] = "json-file"
    if host["LogConfig"].get("Config") is None:
        host["LogConfig"]["Config"] = {}
    if not host.get("NetworkMode"):
        host["NetworkMode"] = "default"
    if not host.get("Privileged"):
        if host.get("MaskedPaths") is None:
            host["MaskedPaths"] = list(MASKED_PATHS)
        if host.get("ReadonlyPaths") is None:
            host["ReadonlyPaths"] = list(READONLY_PATHS)


class CreateMixin:
    async def ContainerCreate(self, name: str, config: dict, host_config: dict, networking_config: dict) -> dict:
        return await self.containerCreate(name, config, host_config, networking_config)

    async def containerCreate(self, name: str, config: dict | None, host_config: dict,
                              networking_config: dict) -> dict:
        with tracer.span("containerCreate"):
            return await self._container_create(name, config, host_config, networking_config)

    async def _container_create(self, name: str, config: dict | None, host_config: dict,
                                networking_config: dict) -> dict:
        if config is None:
            raise errdefs.InvalidArgument("Config cannot be empty in order to create a container")
        warnings = verify_container_settings(config, host_config, self.config.runtimes)
        endpoints = (networking_config or {}).get("EndpointsConfig") or {}
        if len(endpoints) > 1:
            raise errdefs.InvalidArgument("Container cannot be connected to network endpoints: "
                                          + ", ".join(sorted(endpoints)))
        adapt_container_settings(host_config, self.config.default_runtime, self.config.default_shm_size)
        container = await self.create(name, config, host_config)
        return {"Id": container.ID, "Warnings": warnings}

    async def create(self, name: str, config: dict, host_config: dict) -> Container:
        with tracer.span("create"):
            return await self._create(name, config, host_config)

    async def _create(self, name: str, config: dict, host_config: dict) -> Container:
        if not config.get("Image"):
            raise errdefs.InvalidArgument("No command specified") if not (config.get("Cmd") or
                                                                         config.get("Entrypoint")) \
                else errdefs.InvalidArgument("No image was specified")
        image = await self.images.get_image(config["Image"])
        merge_image_config(config, container_config(image.config.get("config")))
        if not config.get("Cmd") and not config.get("Entrypoint"):
            raise errdefs.InvalidArgument("No command specified")
        container = self.newContainer(name, config, host_config, image.id)
        try:
            container.root.mkdir(mode=0o710, parents=True)
            self.setHostConfig(container, host_config)
            self._set_security_options(container)
            mounts = await self.images.prepare_rootfs(image, container.ID)
            container.RootfsMounts = [{"type": m.type, "source": m.source, "options": list(m.options)}
                                      for m in mounts]
            self.Register(container)
        except BaseException:
            await self.cleanupContainer(container, force=True, remove_volumes=True, registered=False)
            raise
        self.LogContainerEvent(container, "create")
        return container

    def newContainer(self, name: str, config: dict, host_config: dict, image_id: str) -> Container:
        with tracer.span("newContainer") as span:
            container = self._new_container(name, config, host_config, image_id)
            if span is not None:
                span.attributes["container_id"] = container.ID  # from here on the trace is this container's
            return container

    def _new_container(self, name: str, config: dict, host_config: dict, image_id: str) -> Container:
        container_id, full_name = self.generateIDAndName(name)
        if network_mode(host_config) == "host":
            if not config.get("Hostname"):
                config["Hostname"] = host_hostname()
        elif not config.get("Hostname"):
            config["Hostname"] = container_id[:12]
        path, args = get_entrypoint_and_args(config.get("Entrypoint"), config.get("Cmd"))
        base = self.newBaseContainer(container_id)
        base.Created = format_time(datetime.now(UTC))
        base.Path, base.Args = path, args
        base.Config = config
        base.Image = image_id
        base.Name = full_name
        base.NetworkSettings = network_settings(network_mode(host_config))
        return base

    def newBaseContainer(self, container_id: str) -> Container:
        root = self.container_root(container_id)
        return Container(ID=container_id, root=root, LogPath=str(root / f"{container_id}-json.log"))

    def generateIDAndName(self, name: str) -> tuple[str, str]:
        container_id = generate_id()
        if not name:
            return container_id, self.names.generate(container_id)
        full_name = validate_name(name)
        self.names.reserve(full_name, container_id)
        return container_id, full_name

    def setHostConfig(self, container: Container, host_config: dict) -> None:
        points = container_mount_points(host_config, container.Config, container.root / "volumes")
        for point in points:
            # -v creates a missing host directory as Docker's does (--mount sources were checked to exist)
            if point.Type in ("bind", "volume") and not os.path.exists(point.Source):
                os.makedirs(point.Source, exist_ok=True)
        container.MountPoints = {p.Destination: p.to_record() for p in points}
        container.HostConfig = copy.deepcopy(host_config)
        if (container.HostConfig.get("LogConfig") or {}).get("Type") != "none":
            open(container.LogPath, "ab").close()

    @tracer.traced()
    def Register(self, container: Container) -> None:
        """Make the container known: in memory, and on disk (its record survives a restart)."""
        container.to_disk()
        container.stream.new_input_pipe(bool(container.Config.get("OpenStdin")))
        self.containers[container.ID] = container

    def _set_security_options(self, container: Container) -> None:
        for option in container.HostConfig.get("SecurityOpt") or []:
            key, value = parse_security_opt(option)
            if key == "no-new-privileges":
                container.NoNewPrivileges = value.lower() in ("1", "t", "true")
            elif key == "seccomp":
                container.SeccompProfile = value
            elif key == "apparmor":
                container.AppArmorProfile = value

