"""Namespaced snapshots (containerd's metadata/snapshot.go): each namespace has its own snapshot
names and labels, mapped onto backend keys `<ns>/<seq>/<name>` of the (global) snapshotter."""

from __future__ import annotations

import contextlib

from corelib.containerd import filters, identifiers
from corelib.containerd.metadata import DB, apply_label_paths, dump_labels, load_labels, now_ns
from corelib.containerd.metadata.leases import LeaseStore
from corelib.containerd.snapshots import KIND_NAMES, Info, Mount
from corelib.containerd.snapshots.overlay import OverlaySnapshotter
from corelib.errdefs import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound


class SnapshotStore:
    """One snapshotter's namespaced view."""

    def __init__(self, db: DB, name: str, backend: OverlaySnapshotter, leases: LeaseStore):
        self.db = db
        self.name = name
        self.backend = backend
        self.leases = leases

    def _row(self, ns: str, key: str) -> tuple[str, str, str, int, int]:
        row = self.db.view().execute(
            "SELECT backend_key, parent, labels, created_at, updated_at FROM snapshots "
            "WHERE namespace = ? AND snapshotter = ? AND key = ?", (ns, self.name, key)).fetchone()
        if row is None:
            raise NotFound(f"snapshot {key} does not exist: not found")
        return row

    def _backend_key(self, ns: str, key: str) -> str:
        return f"{ns}/{self.db.next_sequence('snapshot')}/{key}"

    def stat(self, ns: str, key: str) -> Info:
        bkey, parent, labels, created, updated = self._row(ns, key)
        return Info(key, parent, self.backend.stat(bkey).kind, created, updated, load_labels(labels))

    def mounts(self, ns: str, key: str) -> list[Mount]:
        return self.backend.mounts(self._row(ns, key)[0])

    def prepare(self, ns: str, key: str, parent: str, labels: dict[str, str], lease: str = "") -> list[Mount]:
        return self._create(ns, key, parent, labels, lease, self.backend.prepare)

    def view(self, ns: str, key: str, parent: str, labels: dict[str, str], lease: str = "") -> list[Mount]:
        return self._create(ns, key, parent, labels, lease, self.backend.view)

    def _create(self, ns: str, key: str, parent: str, labels: dict[str, str], lease: str, make) -> list[Mount]:  # noqa: ANN001
        if not key:
            raise InvalidArgument("snapshot key must not be empty: invalid argument")
        identifiers.validate_labels(labels, "info.Labels")
        with self.db.update() as tx:
            if self._exists(ns, key):
                raise AlreadyExists(f'snapshot "{key}": already exists')
            parent_bkey = ""
            if parent:
                try:
                    parent_bkey = self._row(ns, parent)[0]
                except NotFound:
                    raise NotFound(f"parent snapshot {parent} does not exist: not found") from None
            self.db.ensure_namespace(ns)
            bkey = self._backend_key(ns, key)
            now = now_ns()
            mounts = make(bkey, parent_bkey, now)
            try:
                tx.execute("INSERT INTO snapshots (namespace, snapshotter, key, backend_key, parent, labels, "
                           "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (ns, self.name, key, bkey, parent, dump_labels(labels), now, now))
                self.leases.hold(ns, lease, f"snapshots/{self.name}", key)
            except BaseException:
                self.backend.remove(bkey)
                raise
        return mounts

    def _exists(self, ns: str, key: str) -> bool:
        return self.db.view().execute(
            "SELECT 1 FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?",
            (ns, self.name, key)).fetchone() is not None

    def commit(self, ns: str, name: str, key: str, labels: dict[str, str], lease: str = "") -> None:
        identifiers.validate_labels(labels, "info.Labels")
        with self.db.update() as tx:
            bkey, parent, _, _, _ = self._row(ns, key)
            if self._exists(ns, name):
                raise AlreadyExists(f'snapshot "{name}": already exists')
            new_bkey = self._backend_key(ns, name)
            now = now_ns()
            self.backend.commit(new_bkey, bkey, now)
            tx.execute("DELETE FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?",
                       (ns, self.name, key))
            tx.execute("INSERT INTO snapshots (namespace, snapshotter, key, backend_key, parent, labels, "
                       "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (ns, self.name, name, new_bkey, parent, dump_labels(labels), now, now))
            tx.execute("DELETE FROM lease_resources WHERE namespace = ? AND type = ? AND id = ?",
                       (ns, f"snapshots/{self.name}", key))
            self.leases.hold(ns, lease, f"snapshots/{self.name}", name)

    def remove(self, ns: str, key: str) -> None:
        with self.db.update() as tx:
            bkey = self._row(ns, key)[0]
            if tx.execute("SELECT 1 FROM snapshots WHERE namespace = ? AND snapshotter = ? AND parent = ? LIMIT 1",
                          (ns, self.name, key)).fetchone():
                raise FailedPrecondition("cannot remove snapshot with child: failed precondition")
            tx.execute("DELETE FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?",
                       (ns, self.name, key))
            tx.execute("DELETE FROM lease_resources WHERE namespace = ? AND type = ? AND id = ?",
                       (ns, f"snapshots/{self.name}", key))
        with contextlib.suppress(NotFound):
            self.backend.remove(bkey)

    def update(self, ns: str, key: str, labels: dict[str, str], fieldpaths: list[str]) -> Info:
        with self.db.update() as tx:
            info = self.stat(ns, key)
            for path in fieldpaths:
                if path != "labels" and not path.startswith("labels."):
                    raise InvalidArgument(f'cannot update "{path}" field on snapshot "{key}": invalid argument')
            info.labels = apply_label_paths(info.labels, labels, fieldpaths or ["labels"])
            identifiers.validate_labels(info.labels, "info.Labels")
            info.updated_at = now_ns()
            tx.execute("UPDATE snapshots SET labels = ?, updated_at = ? WHERE namespace = ? AND snapshotter = ? "
                       "AND key = ?", (dump_labels(info.labels), info.updated_at, ns, self.name, key))
        return info

    def list(self, ns: str, filter_strings: list[str] | tuple[str, ...] = ()) -> list[Info]:
        match = filters.parse_all(list(filter_strings))
        keys = [r[0] for r in self.db.view().execute(
            "SELECT key FROM snapshots WHERE namespace = ? AND snapshotter = ? ORDER BY key", (ns, self.name))]
        infos = []
        for key in keys:
            try:
                infos.append(self.stat(ns, key))
            except NotFound:
                continue
        return [i for i in infos if match.match(adapt_snapshot(i))]

    def usage(self, ns: str, key: str) -> tuple[int, int]:
        return self.backend.usage(self._row(ns, key)[0])

    def reconcile(self) -> None:
        """After a crash: drop records whose backend snapshot is gone, and backend snapshots no record names."""
        known = set(self.backend.keys())
        rows = self.db.view().execute(
            "SELECT namespace, key, backend_key FROM snapshots WHERE snapshotter = ?", (self.name,)).fetchall()
        with self.db.update() as tx:
            for ns, key, bkey in rows:
                if bkey not in known:
                    tx.execute("DELETE FROM snapshots WHERE namespace = ? AND snapshotter = ? AND key = ?",
                               (ns, self.name, key))
        referenced = {r[2] for r in rows if r[2] in known}
        for bkey in reversed(self.backend.keys()):  # children were created after their parents
            if bkey not in referenced:
                with contextlib.suppress(NotFound, FailedPrecondition):
                    self.backend.remove(bkey)



def adapt_snapshot(info: Info) -> filters.Adaptor:
    def field(path: list[str]) -> str | None:
        head = path[0] if path else ""
        if head == "kind":
            return KIND_NAMES.get(info.kind)
        if head == "name":
            return info.name
        if head == "parent":
            return info.parent
        if head == "labels":
            return filters.check_map(path[1:], info.labels)
        return None
    return field
