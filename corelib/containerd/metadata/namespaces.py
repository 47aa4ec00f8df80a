"""Namespaces: created on first use by any object, or explicitly; labels; deletable only when empty."""

from __future__ import annotations

from corelib.containerd import identifiers
from corelib.containerd.metadata import DB, apply_label_paths, dump_labels, load_labels
from corelib.errdefs import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound


class NamespaceStore:
    def __init__(self, db: DB):
        self.db = db

    def create(self, name: str, labels: dict[str, str]) -> None:
        identifiers.validate(name)
        identifiers.validate_labels(labels, "namespace.Labels")
        with self.db.update() as tx:
            if tx.execute("SELECT 1 FROM namespaces WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f'namespace "{name}": already exists')
            tx.execute("INSERT INTO namespaces (name, labels) VALUES (?, ?)", (name, dump_labels(labels)))

    def labels(self, name: str) -> dict[str, str]:
        """Labels of a namespace; an unknown namespace simply has none (as containerd answers)."""
        row = self.db.view().execute("SELECT labels FROM namespaces WHERE name = ?", (name,)).fetchone()
        return load_labels(row[0]) if row else {}

    def exists(self, name: str) -> bool:
        return self.db.view().execute("SELECT 1 FROM namespaces WHERE name = ?", (name,)).fetchone() is not None

    def list(self) -> list[str]:
        return [r[0] for r in self.db.view().execute("SELECT name FROM namespaces ORDER BY name")]

    def update(self, name: str, labels: dict[str, str], fieldpaths: list[str]) -> dict[str, str]:
        identifiers.validate_labels(labels, "namespace.Labels")
        with self.db.update() as tx:
            row = tx.execute("SELECT labels FROM namespaces WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(f'namespace "{name}": not found')
            for path in fieldpaths:
                if path != "labels" and not path.startswith("labels."):
                    raise InvalidArgument(f'cannot update "{path}" field on namespace "{name}": invalid argument')
            updated = apply_label_paths(load_labels(row[0]), labels, fieldpaths or ["labels"])
            tx.execute("UPDATE namespaces SET labels = ? WHERE name = ?", (dump_labels(updated), name))
            return updated

    def delete(self, name: str) -> None:
        with self.db.update() as tx:
            if not tx.execute("SELECT 1 FROM namespaces WHERE name = ?", (name,)).fetchone():
                raise NotFound(f'namespace "{name}": not found')
            used = self._objects_in(name)
            if used:
                raise FailedPrecondition(
                    f'namespace "{name}" must be empty, but it still has {", ".join(used)}: failed precondition')
            for table in ("namespaces", "buckets", "leases", "lease_resources", "ingests"):
                column = "name" if table == "namespaces" else "namespace"
                tx.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))  # noqa: S608 - fixed names

    def _objects_in(self, name: str) -> list[str]:
        """What keeps a namespace from being deleted, in containerd's words and order (leases do not)."""
        conn = self.db.view()
        used = [label for table, label in (("images", "images"), ("content", "blobs"), ("containers", "containers"))
                if conn.execute(f"SELECT 1 FROM {table} WHERE namespace = ? LIMIT 1", (name,)).fetchone()]  # noqa: S608
        used += [f'snapshots on "{row[0]}" snapshotter' for row in conn.execute(
            "SELECT DISTINCT snapshotter FROM snapshots WHERE namespace = ? ORDER BY snapshotter", (name,))]
        return used

