"""Garbage collection (containerd's gc + metadata/gc.go), mark and sweep per namespace.

Roots: images (their target, and what manifests and indexes reach), containers (their snapshot),
leases (everything they hold), and anything labelled `containerd.io/gc.root`. References follow the
`containerd.io/gc.ref.content*` and `containerd.io/gc.ref.snapshot.<snapshotter>*` labels and snapshot
parents. Content and snapshots nothing reaches are removed; a blob goes from disk when no namespace
keeps it.
"""

from __future__ import annotations

import json
import logging

from corelib.api.containerd.services.containers.v1.containers_pb2 import Container
from corelib.api.containerd.services.images.v1.images_pb2 import Image
from corelib.containerd.metadata import DB, load_labels
from corelib.containerd.metadata.content import ContentStore
from corelib.containerd.metadata.snapshots import SnapshotStore
from corelib.errdefs import FailedPrecondition, NotFound

log = logging.getLogger("whale-containerd.gc")

GC_ROOT = "containerd.io/gc.root"
REF_CONTENT = "containerd.io/gc.ref.content"
REF_SNAPSHOT = "containerd.io/gc.ref.snapshot."
MAX_MANIFEST = 4 << 20  # containerd's limit for a manifest or index it will read
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json")
_MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                   "application/vnd.docker.distribution.manifest.v2+json")


class GarbageCollector:
    def __init__(self, db: DB, content: ContentStore, snapshotters: dict[str, SnapshotStore]):
        self.db = db
        self.content = content
        self.snapshotters = snapshotters

    def collect(self) -> int:
        """Run one collection; return how many objects were removed."""
        removed = 0
        namespaces = [r[0] for r in self.db.view().execute("SELECT name FROM namespaces")]
        for ns in namespaces:
            removed += self._collect_namespace(ns)
        if removed:
            log.debug("garbage collected %d objects", removed)
        return removed

    def _collect_namespace(self, ns: str) -> int:
        conn = self.db.view()
        content_labels = {r[0]: load_labels(r[1]) for r in conn.execute(
            "SELECT digest, labels FROM content WHERE namespace = ?", (ns,))}
        snapshots = {(r[0], r[1]): (r[2], load_labels(r[3])) for r in conn.execute(
            "SELECT snapshotter, key, parent, labels FROM snapshots WHERE namespace = ?", (ns,))}
        live_content: set[str] = set()
        live_snapshots: set[tuple[str, str]] = set()
        pending_content = [d for d, labels in content_labels.items() if GC_ROOT in labels]
        pending_snapshots = [k for k, (_, labels) in snapshots.items() if GC_ROOT in labels]
        for (record,) in conn.execute("SELECT record FROM images WHERE namespace = ?", (ns,)):
            pending_content.append(Image.FromString(record).target.digest)
        for (record,) in conn.execute("SELECT record FROM containers WHERE namespace = ?", (ns,)):
            container = Container.FromString(record)
            if container.snapshot_key:
                pending_snapshots.append((container.snapshotter, container.snapshot_key))
        for rtype, rid in conn.execute("SELECT type, id FROM lease_resources WHERE namespace = ?", (ns,)):
            if rtype == "content":
                pending_content.append(rid)
            elif rtype.startswith("snapshots/"):
                pending_snapshots.append((rtype.split("/", 1)[1], rid))
        while pending_content or pending_snapshots:
            while pending_content:
                digest = pending_content.pop()
                if digest in live_content or digest not in content_labels:
                    continue
                live_content.add(digest)
                refs_c, refs_s = _label_refs(content_labels[digest])
                pending_content += refs_c + self._children(digest)
                pending_snapshots += refs_s
            while pending_snapshots:
                key = pending_snapshots.pop()
                if key in live_snapshots or key not in snapshots:
                    continue
                live_snapshots.add(key)
                parent, labels = snapshots[key]
                refs_c, refs_s = _label_refs(labels)
                pending_content += refs_c
                pending_snapshots += refs_s + ([(key[0], parent)] if parent else [])
        return self._sweep(ns, set(content_labels) - live_content, set(snapshots) - live_snapshots, snapshots)

    def _children(self, digest: str) -> list[str]:
        """What an index or manifest blob points at (labels may be missing on imported content)."""
        try:
            if self.content.store.info(digest).size > MAX_MANIFEST:
                return []
            with open(self.content.store.blob_path(digest), "rb") as f:
                if f.read(1) != b"{":
                    return []  # a layer, not a manifest or index
                doc = json.loads(b"{" + f.read())
        except (NotFound, ValueError, OSError):
            return []
        if not isinstance(doc, dict):
            return []
        media_type = doc.get("mediaType", "")
        children = []
        if media_type in _INDEX_TYPES or "manifests" in doc:
            children += [m.get("digest", "") for m in doc.get("manifests", []) if isinstance(m, dict)]
        if media_type in _MANIFEST_TYPES or "layers" in doc:
            config = doc.get("config")
            if isinstance(config, dict):
                children.append(config.get("digest", ""))
            children += [layer.get("digest", "") for layer in doc.get("layers", []) if isinstance(layer, dict)]
        return [c for c in children if c]

    def _sweep(self, ns: str, dead_content: set[str], dead_snapshots: set[tuple[str, str]],
               snapshots: dict[tuple[str, str], tuple[str, dict[str, str]]]) -> int:
        removed = 0
        for digest in dead_content:
            with self.db.update() as tx:
                tx.execute("DELETE FROM content WHERE namespace = ? AND digest = ?", (ns, digest))
            self.content.remove_unreferenced_blob(digest)
            removed += 1
        remaining = set(dead_snapshots)
        while remaining:
            parents = {(k[0], snapshots[k][0]) for k in remaining}
            leaves = [k for k in remaining if k not in parents]
            if not leaves:
                break
            for snapshotter, key in leaves:
                remaining.discard((snapshotter, key))
                store = self.snapshotters.get(snapshotter)
                if store is None:
                    continue
                try:
                    store.remove(ns, key)
                    removed += 1
                except (NotFound, FailedPrecondition):
                    pass
        return removed


def _label_refs(labels: dict[str, str]) -> tuple[list[str], list[tuple[str, str]]]:
    content, snapshots = [], []
    for key, value in labels.items():
        if key.startswith(REF_CONTENT):
            content.append(value)
        elif key.startswith(REF_SNAPSHOT):
            snapshotter = key[len(REF_SNAPSHOT):].split("/", 1)[0]
            snapshots.append((snapshotter, value))
    return content, snapshots
