"""Image archives in `docker save` form (manifest.json + config + layer tars), which the real
`docker load`, `ctr images import` and ours all read.

The layer is made reproducibly (sorted entries, root-owned, fixed mtime), so the same root
filesystem always gives the same image ID.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EPOCH = "1970-01-01T00:00:00Z"


def go_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


def layer_tar(rootfs: str | os.PathLike[str], mtime: int = 0) -> bytes:
    """An uncompressed layer tar of the directory `rootfs`, byte-for-byte reproducible."""
    root = Path(rootfs)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(_walk(root)):
            info = tar.gettarinfo(str(root / path), arcname=path)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = mtime
            info.pax_headers = {}
            if info.isreg():
                with open(root / path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


def _walk(root: Path) -> list[str]:
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            entries.append(name if rel == "." else f"{rel}/{name}")
    return entries


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class ImageConfig:
    cmd: list[str] = field(default_factory=lambda: ["sh"])
    env: list[str] = field(default_factory=lambda: [DEFAULT_PATH])
    entrypoint: list[str] | None = None
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    created: str = EPOCH

    def to_json(self, diff_ids: list[str]) -> bytes:
        config: dict[str, object] = {"Env": self.env, "Cmd": self.cmd}
        if self.entrypoint:
            config["Entrypoint"] = self.entrypoint
        if self.working_dir:
            config["WorkingDir"] = self.working_dir
        if self.labels:
            config["Labels"] = self.labels
        doc = {
            "architecture": go_arch(),
            "os": "linux",
            "created": self.created,
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": self.created, "created_by": "whalebone: rootfs from the host's busybox"}],
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def write_docker_archive(out: str | os.PathLike[str], rootfs: str | os.PathLike[str], repo_tags: list[str],
                         config: ImageConfig | None = None) -> str:
    """Write a one-layer `docker save` archive of `rootfs` to `out`; return the image ID (config digest)."""
    layer = layer_tar(rootfs)
    layer_digest = sha256(layer)
    config_blob = (config or ImageConfig()).to_json([layer_digest])
    image_id = sha256(config_blob)
    layer_path = f"blobs/sha256/{layer_digest.split(':')[1]}"
    config_path = f"blobs/sha256/{image_id.split(':')[1]}"
    manifest = [{"Config": config_path, "RepoTags": repo_tags, "Layers": [layer_path]}]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((config_path, config_blob), (layer_path, layer),
                           ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return image_id
