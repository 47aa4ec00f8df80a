"""Container records (containerd's metadata/containers.go): validated, timestamped, per namespace."""

from __future__ import annotations

from corelib.api.containerd.services.containers.v1.containers_pb2 import Container
from corelib.containerd import filters, identifiers
from corelib.containerd.metadata import DB, now_ns, timestamp
from corelib.errdefs import AlreadyExists, InvalidArgument, NotFound

# Fields a request without a field mask may replace (the rest are immutable).
_REPLACEABLE = ("labels", "spec", "extensions", "image", "snapshotkey")


class ContainerStore:
    def __init__(self, db: DB):
        self.db = db

    def get(self, ns: str, cid: str) -> Container:
        row = self.db.view().execute(
            "SELECT record FROM containers WHERE namespace = ? AND id = ?", (ns, cid)).fetchone()
        if row is None:
            raise NotFound(f'container "{cid}" in namespace "{ns}": not found')
        return Container.FromString(row[0])

    def list(self, ns: str, filter_strings: list[str] | tuple[str, ...] = ()) -> list[Container]:
        match = filters.parse_all(list(filter_strings))
        rows = self.db.view().execute("SELECT record FROM containers WHERE namespace = ? ORDER BY id", (ns,))
        found = (Container.FromString(r[0]) for r in rows)
        return [c for c in found if match.match(adapt_container(c))]

    def create(self, ns: str, container: Container) -> Container:
        try:
            validate_container(container)
        except InvalidArgument as e:
            raise InvalidArgument(f"create container failed validation: {e}") from None
        record = Container()
        record.CopyFrom(container)
        now = timestamp(now_ns())
        record.created_at.CopyFrom(now)
        record.updated_at.CopyFrom(now)
        with self.db.update() as tx:
            self.db.ensure_namespace(ns, "containers")
            if tx.execute("SELECT 1 FROM containers WHERE namespace = ? AND id = ?", (ns, container.id)).fetchone():
                raise AlreadyExists(f'container "{container.id}": already exists')
            tx.execute("INSERT INTO containers (namespace, id, record) VALUES (?, ?, ?)",
                       (ns, container.id, record.SerializeToString()))
        return record

    def update(self, ns: str, container: Container, fieldpaths: list[str]) -> Container:
        if not container.id:
            raise InvalidArgument("must specify a container id: invalid argument")
        with self.db.update() as tx:
            if not self.db.has_bucket(ns, "containers"):
                raise NotFound(f'cannot update container "{container.id}" in namespace "{ns}": not found')
            row = tx.execute("SELECT record FROM containers WHERE namespace = ? AND id = ?",
                             (ns, container.id)).fetchone()
            if row is None:
                raise NotFound(f'container "{container.id}": not found')
            updated = Container.FromString(row[0])
            if not fieldpaths:
                fieldpaths = list(_REPLACEABLE)
                if updated.snapshotter != container.snapshotter:
                    raise InvalidArgument("container.Snapshotter field is immutable: invalid argument")
                if updated.runtime.name != container.runtime.name:
                    raise InvalidArgument("container.Runtime.Name field is immutable: invalid argument")
            for path in fieldpaths:
                _apply_path(updated, container, path)
            try:
                validate_container(updated)
            except InvalidArgument as e:
                raise InvalidArgument(f"update failed validation: {e}") from None
            updated.updated_at.CopyFrom(timestamp(now_ns()))
            tx.execute("UPDATE containers SET record = ? WHERE namespace = ? AND id = ?",
                       (updated.SerializeToString(), ns, container.id))
        return updated

    def delete(self, ns: str, cid: str) -> None:
        with self.db.update() as tx:
            if not self.db.has_bucket(ns, "containers"):
                raise NotFound(f'cannot delete container "{cid}" in namespace "{ns}": not found')
            cur = tx.execute("DELETE FROM containers WHERE namespace = ? AND id = ?", (ns, cid))
            if cur.rowcount == 0:
                raise NotFound(f"container {cid}: not found")


def _apply_path(updated: Container, wanted: Container, path: str) -> None:
    if path.startswith("labels."):
        key = path[len("labels."):]
        if wanted.labels.get(key):
            updated.labels[key] = wanted.labels[key]
        else:
            updated.labels.pop(key, None)
    elif path.startswith("extensions."):
        key = path[len("extensions."):]
        if key in wanted.extensions:
            updated.extensions[key].CopyFrom(wanted.extensions[key])
        else:
            updated.extensions.pop(key, None)
    elif path == "labels":
        updated.labels.clear()
        updated.labels.update({k: v for k, v in wanted.labels.items() if v})
    elif path == "spec":
        updated.spec.CopyFrom(wanted.spec)
    elif path == "extensions":
        updated.extensions.clear()
        for key, value in wanted.extensions.items():
            updated.extensions[key].CopyFrom(value)
    elif path == "image":
        updated.image = wanted.image
    elif path == "snapshotkey":
        updated.snapshot_key = wanted.snapshot_key
    else:
        raise InvalidArgument(f'cannot update "{path}" field on "{wanted.id}": invalid argument')


def validate_container(container: Container) -> None:
    try:
        identifiers.validate(container.id)
    except InvalidArgument as e:
        raise InvalidArgument(f"container.ID: {e}") from None
    if any(not key for key in container.extensions):
        raise InvalidArgument("container.Extension keys must not be zero-length: invalid argument")
    identifiers.validate_labels(dict(container.labels), "containers.Labels")
    if not container.runtime.name:
        raise InvalidArgument("container.Runtime.Name must be set: invalid argument")
    if not container.HasField("spec"):
        raise InvalidArgument("container.Spec must be set: invalid argument")
    if container.snapshot_key and not container.snapshotter:
        raise InvalidArgument("container.Snapshotter must be set if container.SnapshotKey is set: invalid argument")


def adapt_container(c: Container) -> filters.Adaptor:
    def field(path: list[str]) -> str | None:
        head = path[0] if path else ""
        if head == "id":
            return filters.present(c.id)
        if head == "runtime" and path[1:] == ["name"]:
            return filters.present(c.runtime.name)
        if head == "image":
            return filters.present(c.image)
        if head == "labels":
            return filters.check_map(path[1:], c.labels)
        return None
    return field
