"""The CLI config file, in docker's `config.json` format (proxies, auths, detachKeys, psFormat...).

Where whale reads it: the directory given by `--config`, else `$WHALE_CONFIG`, else `~/.whale` when it
has a config.json, else docker's own (`$DOCKER_CONFIG`, else `~/.docker`), so proxies and registry
credentials set up for docker serve whale as well. A file that cannot be read is warned about and
ignored, as docker does."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

CONFIG_FILE_NAME = "config.json"
PROXY_KEYS = {"HTTP_PROXY": "httpProxy", "HTTPS_PROXY": "httpsProxy", "NO_PROXY": "noProxy",
              "FTP_PROXY": "ftpProxy", "ALL_PROXY": "allProxy"}
INDEX_SERVER = "https://index.docker.io/v1/"


def config_dir(explicit: str | None = None) -> str:
    """The directory of config.json (os.path: importing pathlib would cost every command milliseconds)."""
    if explicit:
        return explicit
    if os.environ.get("WHALE_CONFIG"):
        return os.environ["WHALE_CONFIG"]
    home = os.path.expanduser("~")
    if os.path.exists(os.path.join(home, ".whale", CONFIG_FILE_NAME)):
        return os.path.join(home, ".whale")
    if os.environ.get("DOCKER_CONFIG"):
        return os.environ["DOCKER_CONFIG"]
    return os.path.join(home, ".docker")


class ConfigFile:
    def __init__(self, data: dict | None = None, filename: str = ""):
        data = data or {}
        self.filename = filename
        self.auths: dict[str, dict] = data.get("auths") or {}
        self.proxies: dict[str, dict] = data.get("proxies") or {}
        self.detach_keys: str = data.get("detachKeys", "")
        self.ps_format: str = data.get("psFormat", "")
        self.images_format: str = data.get("imagesFormat", "")

    def parse_proxy_config(self, host: str, env: dict[str, str | None]) -> dict[str, str | None]:
        """docker's ParseProxyConfig: the proxies of `host` (else "default") added to the container's
        environment, upper and lower case, unless the user set that variable already."""
        config = self.proxies.get(host) if host in self.proxies else self.proxies.get("default") or {}
        merged = dict(env)
        for key, field in PROXY_KEYS.items():
            value = config.get(field) or ""
            if not value:
                continue
            merged.setdefault(key, value)
            merged.setdefault(key.lower(), value)
        return merged

    def encoded_auth(self, registry: str) -> str:
        """The X-Registry-Auth header for `registry` (a hostname, or docker.io): base64url JSON."""
        key = INDEX_SERVER if registry in ("docker.io", "index.docker.io") else registry
        entry = self.auths.get(key) or self.auths.get(f"https://{key}") or self.auths.get(f"http://{key}") or {}
        import base64

        auth: dict[str, str] = {}
        if entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            auth = {"username": user, "password": password}
        for src, dst in (("username", "username"), ("password", "password"), ("identitytoken", "identitytoken"),
                         ("registrytoken", "registrytoken")):
            if entry.get(src):
                auth[dst] = entry[src]
        if auth:
            auth["serveraddress"] = key
        return base64.urlsafe_b64encode(json.dumps(auth, separators=(",", ":")).encode()).decode()


def load_config(directory: str | None = None, warn: Callable[[str], None] | None = None) -> ConfigFile:
    path = os.path.join(config_dir(directory), CONFIG_FILE_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.loads(f.read())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return ConfigFile(filename=path)
    except (OSError, ValueError) as e:
        if warn is not None:
            warn(f"WARNING: Error loading config file: {path}: {e}")
        return ConfigFile(filename=path)
    return ConfigFile(data, path)
