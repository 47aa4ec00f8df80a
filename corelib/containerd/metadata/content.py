"""Namespaced content (containerd's metadata/content.go): which blobs a namespace sees, their labels,
and its ingests; the bytes live once in the on-disk store, shared between namespaces."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from corelib.containerd import filters, identifiers
from corelib.containerd.metadata import DB, apply_label_paths, dump_labels, load_labels, now_ns
from corelib.containerd.metadata.leases import LeaseStore
from corelib.errdefs import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from corelib.images import content as local
from corelib.images import digest as digests


@dataclass
class Info:
    digest: str
    size: int
    created_at: int
    updated_at: int
    labels: dict[str, str] = field(default_factory=dict)


class ContentStore:
    def __init__(self, db: DB, store: local.ContentStore, leases: LeaseStore):
        self.db = db
        self.store = store
        self.leases = leases

    def info(self, ns: str, digest: str) -> Info:
        digests.validate(digest)
        row = self.db.view().execute(
            "SELECT size, labels, created_at, updated_at FROM content WHERE namespace = ? AND digest = ?",
            (ns, digest)).fetchone()
        if row is None:
            raise NotFound(f"content digest {digest}: not found")
        return Info(digest, row[0], row[2], row[3], load_labels(row[1]))

    def list(self, ns: str, filter_strings: list[str] | tuple[str, ...] = ()) -> list[Info]:
        match = filters.parse_all(list(filter_strings))
        rows = self.db.view().execute(
            "SELECT digest, size, labels, created_at, updated_at FROM content WHERE namespace = ? ORDER BY digest",
            (ns,))
        infos = [Info(r[0], r[1], r[3], r[4], load_labels(r[2])) for r in rows]
        return [i for i in infos if match.match(adapt_info(i))]

    def update(self, ns: str, digest: str, labels: dict[str, str], fieldpaths: list[str]) -> Info:
        with self.db.update() as tx:
            current = self.info(ns, digest)
            for path in fieldpaths:
                if path != "labels" and not path.startswith("labels."):
                    raise InvalidArgument(
                        f'cannot update "{path}" field on content info "{digest}": invalid argument')
            updated = apply_label_paths(current.labels, labels, fieldpaths or ["labels"])
            identifiers.validate_labels(updated, "info.Labels")
            now = now_ns()
            tx.execute("UPDATE content SET labels = ?, updated_at = ? WHERE namespace = ? AND digest = ?",
                       (dump_labels(updated), now, ns, digest))
        return Info(digest, current.size, current.created_at, now, updated)

    def delete(self, ns: str, digest: str) -> None:
        digests.validate(digest)
        with self.db.update() as tx:
            if tx.execute("DELETE FROM content WHERE namespace = ? AND digest = ?", (ns, digest)).rowcount == 0:
                raise NotFound(f"content digest {digest}: not found")
        self.remove_unreferenced_blob(digest)

    def remove_unreferenced_blob(self, digest: str) -> None:
        if self.db.view().execute("SELECT 1 FROM content WHERE digest = ? LIMIT 1", (digest,)).fetchone() is None:
            with contextlib.suppress(NotFound):
                self.store.delete(digest)

    def read(self, ns: str, digest: str, offset: int = 0, size: int = -1):  # noqa: ANN201 - Iterator[bytes]
        self.info(ns, digest)
        return self.store.read(digest, offset, size)

    def read_all(self, ns: str, digest: str) -> bytes:
        return b"".join(self.read(ns, digest))

    # Ingests

    def writer(self, ns: str, ref: str, total: int = 0, expected: str = "", lease: str = "") -> NamespacedWriter:
        if not ref:
            raise InvalidArgument("ref must not be empty: invalid argument")
        with self.db.update() as tx:
            if expected:
                digests.validate(expected)
                if tx.execute("SELECT 1 FROM content WHERE namespace = ? AND digest = ?",
                              (ns, expected)).fetchone():
                    self.leases.hold(ns, lease, "content", expected)
                    raise AlreadyExists(f"content {expected}: already exists")
            self.db.ensure_namespace(ns)
            row = tx.execute("SELECT backend_ref FROM ingests WHERE namespace = ? AND ref = ?", (ns, ref)).fetchone()
            backend_ref = row[0] if row else f"{ns}-{self.db.next_sequence('ingest')}-{ref}"
            tx.execute("INSERT OR REPLACE INTO ingests (namespace, ref, backend_ref, expected) VALUES (?, ?, ?, ?)",
                       (ns, ref, backend_ref, expected))
            self.leases.hold(ns, lease, "ingests", ref)
        shared = None
        if expected and self.store.exists(expected):
            size = self.store.info(expected).size
            if total in (0, size):
                shared = local.Info(expected, size, 0, 0)
        backend = None if shared else self.store.writer(backend_ref, total, "")
        return NamespacedWriter(self, ns, ref, lease, backend, shared, total)

    def status(self, ns: str, ref: str) -> local.Status:
        row = self.db.view().execute(
            "SELECT backend_ref, expected FROM ingests WHERE namespace = ? AND ref = ?", (ns, ref)).fetchone()
        if row is None:
            raise NotFound(f"reference {ref}: not found")
        try:
            status = self.store.status(row[0])
        except NotFound:
            raise NotFound(f"reference {ref}: not found") from None
        status.ref, status.expected = ref, row[1]
        return status

    def list_statuses(self, ns: str, filter_strings: list[str] | tuple[str, ...] = ()) -> list[local.Status]:
        match = filters.parse_all(list(filter_strings))
        refs = [r[0] for r in self.db.view().execute("SELECT ref FROM ingests WHERE namespace = ?", (ns,))]
        found = []
        for ref in refs:
            try:
                status = self.status(ns, ref)
            except NotFound:
                continue
            if match.match(lambda path, s=status: s.ref if path == ["ref"] else None):
                found.append(status)
        return found

    def abort(self, ns: str, ref: str) -> None:
        with self.db.update() as tx:
            row = tx.execute("SELECT backend_ref FROM ingests WHERE namespace = ? AND ref = ?", (ns, ref)).fetchone()
            if row is None:
                raise NotFound(f"reference {ref}: not found")
            tx.execute("DELETE FROM ingests WHERE namespace = ? AND ref = ?", (ns, ref))
        with contextlib.suppress(NotFound):
            self.store.abort(row[0])

    def _committed(self, ns: str, ref: str, lease: str, digest: str, size: int, labels: dict[str, str]) -> None:
        identifiers.validate_labels(labels, "info.Labels")
        with self.db.update() as tx:
            tx.execute("DELETE FROM ingests WHERE namespace = ? AND ref = ?", (ns, ref))
            self.leases.hold(ns, lease, "content", digest)
            if tx.execute("SELECT 1 FROM content WHERE namespace = ? AND digest = ?", (ns, digest)).fetchone():
                raise AlreadyExists(f"content {digest}: already exists")
            now = now_ns()
            tx.execute("INSERT INTO content (namespace, digest, size, labels, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (ns, digest, size, dump_labels(labels), now, now))


class NamespacedWriter:
    """A writer seen from a namespace. `shared`: the blob is already on disk (written by another
    namespace), so nothing is written and commit only makes it visible here."""

    def __init__(self, content: ContentStore, ns: str, ref: str, lease: str,
                 backend: local.Writer | None, shared: local.Info | None, total: int):
        self.content, self.ns, self.ref, self.lease = content, ns, ref, lease
        self.backend, self.shared = backend, shared
        self.total = total

    @property
    def offset(self) -> int:
        return self.backend.offset if self.backend else self.shared.size

    def status(self) -> local.Status:
        if self.backend:
            status = self.backend.status()
            status.ref = self.ref
            return status
        return local.Status(self.ref, self.shared.size, self.shared.size, self.shared.digest, 0, 0)

    def digest(self) -> str:
        return self.backend.digest() if self.backend else self.shared.digest

    def _materialize(self) -> local.Writer:
        """A shared writer that is written to after all becomes a real ingest."""
        if self.backend is None:
            row = self.content.db.view().execute(
                "SELECT backend_ref FROM ingests WHERE namespace = ? AND ref = ?", (self.ns, self.ref)).fetchone()
            self.backend = self.content.store.writer(row[0], self.total, "")
            self.shared = None
        return self.backend

    def write(self, data: bytes) -> int:
        return self._materialize().write(data) if data else 0

    def truncate(self, size: int) -> None:
        self._materialize().truncate(size)

    def commit(self, size: int, expected: str, labels: dict[str, str]) -> str:
        if self.backend is None:
            if size and size != self.shared.size:
                raise FailedPrecondition(
                    f'"{self.ref}" failed size validation: {self.shared.size} != {size}: failed precondition')
            if expected and expected != self.shared.digest:
                raise FailedPrecondition(f'"{self.ref}" unexpected digest: failed precondition')
            digest, size = self.shared.digest, self.shared.size
        else:
            if size and size != self.backend.offset:
                raise FailedPrecondition(
                    f'"{self.ref}" failed size validation: {self.backend.offset} != {size}: failed precondition')
            size = self.backend.offset
            try:
                digest = self.backend.commit(size, expected)
            except AlreadyExists:
                digest = self.backend.digest()
            except FailedPrecondition:
                self.content.db.view().execute(
                    "DELETE FROM ingests WHERE namespace = ? AND ref = ?", (self.ns, self.ref))
                raise
        self.content._committed(self.ns, self.ref, self.lease, digest, size, labels)
        return digest

    def close(self) -> None:
        if self.backend:
            self.backend.close()



def adapt_info(info: Info) -> filters.Adaptor:
    def field(path: list[str]) -> str | None:
        head = path[0] if path else ""
        if head == "digest":
            return info.digest
        if head == "size":
            return None
        if head == "labels":
            return filters.check_map(path[1:], info.labels)
        return None
    return field
