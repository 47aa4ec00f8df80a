"""One container as the daemon keeps it (moby's container.Container): its configuration, its state,
and where its files are. On disk, in the container's directory under `<data-root>/containers/`:
`config.v2.json` (everything but the host config) and `hostconfig.json`, each replaced atomically,
so a crash at any moment leaves either the old or the new record, never half of one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from corelib.daemon.container.restartmanager import RestartManager
from corelib.daemon.container.state import State
from corelib.daemon.container.stream import StreamConfig
from corelib.daemon.logger.jsonfile import Notifier

CONFIG_FILE = "config.v2.json"
HOSTCONFIG_FILE = "hostconfig.json"

_PERSISTED = ("ID", "Created", "Path", "Args", "Config", "Image", "ImageRef", "NetworkSettings", "LogPath", "Name",
              "Driver", "Platform", "RestartCount", "HasBeenStartedBefore", "HasBeenManuallyStopped", "MountPoints",
              "AppArmorProfile", "HostnamePath", "HostsPath", "ResolvConfPath", "SeccompProfile", "NoNewPrivileges",
              "RootfsMounts", "Runtime")


def atomic_write(path: Path, data: bytes, mode: int = 0o600, sync: bool = True) -> None:
    """Write `path` as a whole: a temporary file beside it (fsync'ed unless `sync` is off, for files
    that are made again anyway), renamed over it, as moby's AtomicWriteFile does."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass
class Container:
    ID: str
    root: Path
    Created: str = ""
    Path: str = ""
    Args: list[str] = field(default_factory=list)
    Config: dict = field(default_factory=dict)
    HostConfig: dict = field(default_factory=dict)
    State: State = field(default_factory=State)
    Image: str = ""
    ImageRef: str = ""
    NetworkSettings: dict = field(default_factory=dict)
    LogPath: str = ""
    Name: str = ""
    Driver: str = "overlayfs"
    Platform: str = "linux"
    RestartCount: int = 0
    HasBeenStartedBefore: bool = False
    HasBeenManuallyStopped: bool = False
    MountPoints: dict = field(default_factory=dict)
    AppArmorProfile: str = ""
    HostnamePath: str = ""
    HostsPath: str = ""
    ResolvConfPath: str = ""
    SeccompProfile: str = ""
    NoNewPrivileges: bool = False
    RootfsMounts: list[dict] = field(default_factory=list)
    Runtime: str = ""
    # Not persisted: what lives only while the daemon runs.
    stream: StreamConfig = field(default_factory=StreamConfig, repr=False)
    exec_ids: list[str] = field(default_factory=list, repr=False)
    restart_manager: RestartManager = field(default_factory=RestartManager, repr=False)
    start_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    log_notifier: Notifier = field(default_factory=Notifier, repr=False)
    exit_pending: bool = field(default=False, repr=False)
    restart_task: asyncio.Task | None = field(default=None, repr=False)
    saved_host_config: bytes = field(default=b"", repr=False)
    in_containerd: bool = field(default=False, repr=False)

    @property
    def short_id(self) -> str:
        return self.ID[:12]

    @property
    def rootfs(self) -> Path:
        """Where conditionalMountOnStart mounts the container's root filesystem."""
        return self.root / "rootfs"

    def is_running(self) -> bool:
        return self.State.Running

    def is_paused(self) -> bool:
        return self.State.Paused

    # -- persistence ---------------------------------------------------------------------------

    def to_disk(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        record = {name: getattr(self, name) for name in _PERSISTED}
        record["State"] = {**self.State.to_json(), "RemovalInProgress": self.State.RemovalInProgress}
        atomic_write(self.root / CONFIG_FILE, json.dumps(record).encode())
        host_config = json.dumps(self.HostConfig).encode()
        if host_config != self.saved_host_config:  # it seldom changes: written only when it does
            atomic_write(self.root / HOSTCONFIG_FILE, host_config)
            self.saved_host_config = host_config

    @classmethod
    def from_disk(cls, root: Path) -> Container:
        record = json.loads((root / CONFIG_FILE).read_text())
        host_config = json.loads((root / HOSTCONFIG_FILE).read_text())
        container = cls(ID=record["ID"], root=root, HostConfig=host_config,
                        State=State.from_json(record.get("State", {})), in_containerd=True)
        for name in _PERSISTED:
            if name in record:
                setattr(container, name, record[name])
        return container

    # -- views ---------------------------------------------------------------------------------

    def command(self) -> str:
        """The COMMAND column of `docker ps`."""
        return " ".join([self.Path, *self.Args]) if self.Args else self.Path
