"""`docker import` (moby's image_import.go): a root filesystem tar, maybe compressed, becomes a
one-layer image whose config the `changes` (Dockerfile instructions) shape."""

from __future__ import annotations

import asyncio
import bz2
import datetime
import gzip
import hashlib
import json
import lzma
import os
import posixpath
import shlex
from pathlib import Path
from typing import IO

from corelib import errdefs
from corelib.daemon.images.image import Image, ImageStore
from corelib.daemon.images.image_exporter import file_chunks
from corelib.daemon.images.image_snapshot import unpack
from corelib.daemon.images.image_tag import (
    keep_dangling,
    name_image,
    normalise_tag,
    to_pb,
    write_json_blob,
    write_manifest,
)
from corelib.daemon.images.store import Containerd
from corelib.images import reference
from corelib.images.archive import go_arch
from corelib.images.registry import MEDIA_DOCKER_CONFIG, MEDIA_DOCKER_LAYER, Descriptor

DOCKER_VERSION = "20.10.24"
VALID_CHANGE_COMMANDS = ("cmd", "entrypoint", "healthcheck", "env", "expose", "label", "onbuild", "user", "volume",
                         "workdir")
_OPENERS = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


def decompressed(path: Path) -> IO[bytes]:
    """The upload, decompressed as dockerd's DecompressStream does (gzip, bzip2, xz or none)."""
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        raise errdefs.InvalidArgument("unsupported compression format zstd")
    for magic, opener in _OPENERS:
        if head.startswith(magic):
            return opener(path, "rb")
    return open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it


def write_layer(src: Path, dest: Path) -> tuple[str, int]:
    """Decompress `src` into `dest`; returns the layer's digest (its diff id) and size."""
    h, size = hashlib.sha256(), 0
    with decompressed(src) as f, open(dest, "wb") as out:
        try:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
        except (OSError, EOFError, lzma.LZMAError) as e:
            raise errdefs.InvalidArgument(f"invalid compressed stream: {e}") from None
    return "sha256:" + h.hexdigest(), size


def apply_changes(changes: list[str]) -> dict:
    """dockerfile.BuildFromConfig on an empty container config, for the commit-able instructions."""
    config: dict = {}
    for line in (c.strip() for change in changes for c in change.splitlines()):
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        cmd, rest = word.lower(), rest.strip()
        if cmd not in VALID_CHANGE_COMMANDS:
            raise errdefs.InvalidArgument(f"{cmd} is not a valid change command")
        _apply(config, cmd, rest)
    return config


def _apply(config: dict, cmd: str, rest: str) -> None:
    if cmd in ("cmd", "entrypoint"):
        config[cmd.capitalize() if cmd == "cmd" else "Entrypoint"] = _command(rest)
    elif cmd == "env":
        config["Env"] = _merge_env(config.get("Env") or [], _pairs(rest, "ENV"))
    elif cmd == "label":
        config["Labels"] = {**(config.get("Labels") or {}), **dict(_pairs(rest, "LABEL"))}
    elif cmd == "expose":
        ports = {p if "/" in p else f"{p}/tcp": {} for p in shlex.split(rest)}
        config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}), **ports}
    elif cmd == "volume":
        volumes = _json_or_words(rest)
        config["Volumes"] = {**(config.get("Volumes") or {}), **{v: {} for v in volumes}}
    elif cmd == "workdir":
        config["WorkingDir"] = posixpath.normpath(posixpath.join(config.get("WorkingDir") or "/", rest))
    elif cmd == "user":
        config["User"] = rest
    elif cmd == "onbuild":
        config["OnBuild"] = [*(config.get("OnBuild") or []), rest]
    elif cmd == "healthcheck":
        config["Healthcheck"] = {"Test": ["NONE"]} if rest.upper() == "NONE" else \
            {"Test": ["CMD-SHELL", rest.partition(" ")[2]] if rest.upper().startswith("CMD ") else ["NONE"]}


def _command(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            words = json.loads(rest)
        except ValueError:
            words = None
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            return words
    return ["/bin/sh", "-c", rest]


def _json_or_words(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            return [str(w) for w in json.loads(rest)]
        except ValueError:
            pass
    return rest.split()


def _pairs(rest: str, instruction: str) -> list[tuple[str, str]]:
    words = shlex.split(rest)
    if words and "=" not in words[0]:
        key, _, value = rest.partition(" ")
        if not value.strip():
            raise errdefs.InvalidArgument(f"{instruction} must have two arguments")
        return [(key, " ".join(shlex.split(value)))]
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise errdefs.InvalidArgument(f"Syntax error - can't find = in \"{word}\". Must be of the form: name=value")
        pairs.append((key, value))
    return pairs


def _merge_env(env: list[str], pairs: list[tuple[str, str]]) -> list[str]:
    current = dict(e.partition("=")[::2] for e in env)
    current.update(pairs)
    return [f"{k}={v}" for k, v in current.items()]


def image_config(diff_id: str, changes: list[str], message: str) -> bytes:
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    doc = {
        "architecture": go_arch(), "comment": message, "config": apply_changes(changes),
        "container_config": {}, "created": created, "docker_version": DOCKER_VERSION,
        "history": [{"created": created, "comment": message}], "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


async def import_image(cs: Containerd, store: ImageStore, upload: Path, workdir: Path, repo: str, tag: str,
                       changes: list[str], message: str) -> str:
    """Returns the new image's ID."""
    name = ""
    if repo:
        if reference.parse_normalized_named(repo).digest:
            raise errdefs.InvalidArgument("cannot import digest reference")
        name = normalise_tag(repo, tag)
    layer_path = workdir / (upload.name + ".layer")
    try:
        diff_id, size = await asyncio.to_thread(write_layer, upload, layer_path)
        config_blob = image_config(diff_id, changes or [], message or "Imported from -")
        async with cs.with_lease() as leased:
            with open(layer_path, "rb") as f:
                await leased.write_blob(file_chunks(f), expected=diff_id, size=size, ref=f"layer-{diff_id}")
            config = await write_json_blob(leased, config_blob, MEDIA_DOCKER_CONFIG)
            target = await write_manifest(leased, config, [Descriptor(MEDIA_DOCKER_LAYER, diff_id, size)])
            resolved = await store.resolve(to_pb(target))
            await unpack(leased, Image(resolved.config_digest, resolved))
            if name:
                await name_image(leased, store, name, target)
            else:
                await keep_dangling(leased, target)
        return resolved.config_digest
    finally:
        if layer_path.exists():
            os.unlink(layer_path)
