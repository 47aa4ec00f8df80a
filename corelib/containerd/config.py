"""Configuration: containerd's TOML (version 2) keys we honour, overridden by the command line."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = "/var/lib/whalebone/containerd"
DEFAULT_STATE = "/run/whalebone/containerd"
DEFAULT_ADDRESS = "/run/whalebone/containerd/containerd.sock"


@dataclass
class Config:
    root: str = DEFAULT_ROOT
    state: str = DEFAULT_STATE
    address: str = DEFAULT_ADDRESS
    ttrpc_address: str = ""
    log_level: str = "info"
    grpc_uid: int = 0
    grpc_gid: int = 0

    @property
    def ttrpc(self) -> str:
        return self.ttrpc_address or self.address + ".ttrpc"


class ConfigError(ValueError):
    pass


def load(path: str | None) -> Config:
    """Read a containerd config file (`root`, `state`, `[grpc] address/uid/gid`, `[ttrpc] address`,
    `[debug] level`); keys we do not use are accepted and ignored, as containerd ignores unknown plugins."""
    config = Config()
    if not path:
        return config
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"failed to load TOML: {path}: open {path}: no such file or directory") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"failed to load TOML from {path}: {e}") from None
    grpc = data.get("grpc", {})
    config.root = data.get("root", config.root)
    config.state = data.get("state", config.state)
    config.address = grpc.get("address", config.address)
    config.grpc_uid = int(grpc.get("uid", 0))
    config.grpc_gid = int(grpc.get("gid", 0))
    config.ttrpc_address = data.get("ttrpc", {}).get("address", "")
    config.log_level = data.get("debug", {}).get("level", "") or config.log_level
    return config
