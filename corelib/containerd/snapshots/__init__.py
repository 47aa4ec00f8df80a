"""Snapshotters: the kinds of snapshot and the mount description every snapshotter returns."""

from __future__ import annotations

from dataclasses import dataclass, field

VIEW, ACTIVE, COMMITTED = 1, 2, 3  # containerd.services.snapshots.v1.Kind values
KIND_NAMES = {VIEW: "view", ACTIVE: "active", COMMITTED: "committed"}


@dataclass
class Mount:
    type: str
    source: str
    options: list[str] = field(default_factory=list)
    target: str = ""


@dataclass
class Info:
    name: str
    parent: str
    kind: int
    created_at: int
    updated_at: int
    labels: dict[str, str] = field(default_factory=dict)
