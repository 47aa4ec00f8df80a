"""A task's bundle (containerd's runtime/v2/bundle.go): `<state>/<ns>/<id>/` with config.json, rootfs/
and a `work` link to `<root>/<ns>/<id>/`; the shim keeps its `address`, `log` fifo and pid files there."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from corelib.containerd import identifiers
from corelib.containerd.mount import unmount_all
from corelib.errdefs import InvalidArgument

CONFIG = "config.json"


@dataclass
class Bundle:
    id: str
    namespace: str
    path: Path

    @property
    def address_file(self) -> Path:
        return self.path / "address"

    def delete(self) -> None:
        """Unmount the rootfs and remove the bundle and its work directory (each renamed away first,
        so a crash in the middle leaves no half-deleted bundle that looks live)."""
        try:
            work = Path(os.readlink(self.path / "work"))
        except OSError:
            work = None
        rootfs = self.path / "rootfs"
        unmount_all(str(rootfs))
        with contextlib.suppress(FileNotFoundError):
            rootfs.rmdir()
        _atomic_delete(self.path)
        if work is not None:
            _atomic_delete(work)


def new_bundle(root: Path, state: Path, namespace: str, task_id: str, spec: bytes) -> Bundle:
    try:
        identifiers.validate(task_id)
    except InvalidArgument as e:
        raise InvalidArgument(f"invalid task id {task_id}: {e}") from None
    bundle = Bundle(task_id, namespace, state / namespace / task_id)
    work = root / namespace / task_id
    bundle.path.parent.mkdir(parents=True, exist_ok=True, mode=0o711)
    bundle.path.mkdir(mode=0o700)
    try:
        _prepare_permissions(bundle.path, spec)
        (bundle.path / "rootfs").mkdir(mode=0o711)
        work.parent.mkdir(parents=True, exist_ok=True, mode=0o711)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(mode=0o711)
        os.symlink(work, bundle.path / "work")
        (bundle.path / CONFIG).write_bytes(spec)
    except BaseException:
        shutil.rmtree(bundle.path, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        raise
    return bundle


def load_bundle(state: Path, namespace: str, task_id: str) -> Bundle:
    return Bundle(task_id, namespace, state / namespace / task_id)


def _prepare_permissions(path: Path, spec: bytes) -> None:
    """With user namespaces, the container's root group must reach the bundle (as containerd does)."""
    try:
        mappings = (json.loads(spec).get("linux") or {}).get("gidMappings") or []
    except (ValueError, AttributeError):
        return
    gid = next((m.get("hostID", 0) for m in mappings if m.get("containerID") == 0), 0)
    if gid:
        os.chown(path, -1, gid)
        os.chmod(path, 0o710)


def _atomic_delete(path: Path) -> None:
    doomed = path.with_name("." + path.name)
    try:
        os.rename(path, doomed)
    except FileNotFoundError:
        return
    shutil.rmtree(doomed, ignore_errors=True)
