"""Image records (containerd's metadata/images.go): a name pointing at a target descriptor."""

from __future__ import annotations

from corelib.api.containerd.services.images.v1.images_pb2 import Image
from corelib.containerd import filters, identifiers
from corelib.containerd.metadata import DB, now_ns, timestamp
from corelib.errdefs import AlreadyExists, InvalidArgument, NotFound
from corelib.images import digest as digests


class ImageStore:
    def __init__(self, db: DB):
        self.db = db

    def get(self, ns: str, name: str) -> Image:
        row = self.db.view().execute(
            "SELECT record FROM images WHERE namespace = ? AND name = ?", (ns, name)).fetchone()
        if row is None:
            raise NotFound(f'image "{name}": not found')
        return Image.FromString(row[0])

    def list(self, ns: str, filter_strings: list[str] | tuple[str, ...] = ()) -> list[Image]:
        match = filters.parse_all(list(filter_strings))
        rows = self.db.view().execute("SELECT record FROM images WHERE namespace = ? ORDER BY name", (ns,))
        return [i for i in (Image.FromString(r[0]) for r in rows) if match.match(adapt_image(i))]

    def create(self, ns: str, image: Image) -> Image:
        validate_image(image)
        record = Image()
        record.CopyFrom(image)
        now = timestamp(now_ns())
        record.created_at.CopyFrom(now)
        record.updated_at.CopyFrom(now)
        with self.db.update() as tx:
            self.db.ensure_namespace(ns)
            if tx.execute("SELECT 1 FROM images WHERE namespace = ? AND name = ?", (ns, image.name)).fetchone():
                raise AlreadyExists(f'image "{image.name}": already exists')
            tx.execute("INSERT INTO images (namespace, name, record) VALUES (?, ?, ?)",
                       (ns, image.name, record.SerializeToString()))
        return record

    def update(self, ns: str, image: Image, fieldpaths: list[str]) -> Image:
        if not image.name:
            raise InvalidArgument("image name is required for update: invalid argument")
        with self.db.update() as tx:
            row = tx.execute("SELECT record FROM images WHERE namespace = ? AND name = ?",
                             (ns, image.name)).fetchone()
            if row is None:
                raise NotFound(f'image "{image.name}": not found')
            current = Image.FromString(row[0])
            if fieldpaths:
                updated = current
                for path in fieldpaths:
                    _apply_path(updated, image, path)
            else:
                updated = Image()
                updated.CopyFrom(image)
            validate_image(updated)
            updated.created_at.CopyFrom(current.created_at)
            updated.updated_at.CopyFrom(timestamp(now_ns()))
            tx.execute("UPDATE images SET record = ? WHERE namespace = ? AND name = ?",
                       (updated.SerializeToString(), ns, image.name))
        return updated

    def delete(self, ns: str, name: str) -> None:
        with self.db.update() as tx:
            if tx.execute("DELETE FROM images WHERE namespace = ? AND name = ?", (ns, name)).rowcount == 0:
                raise NotFound(f'image "{name}": not found')


def _apply_path(updated: Image, wanted: Image, path: str) -> None:
    for prefix, target, source in (("labels.", updated.labels, wanted.labels),
                                   ("annotations.", updated.target.annotations, wanted.target.annotations)):
        if path.startswith(prefix):
            key = path[len(prefix):]
            if source.get(key):
                target[key] = source[key]
            else:
                target.pop(key, None)
            return
    if path == "labels":
        updated.labels.clear()
        updated.labels.update(wanted.labels)
    elif path == "target":
        updated.target.CopyFrom(wanted.target)
    elif path == "annotations":
        updated.target.annotations.clear()
        updated.target.annotations.update(wanted.target.annotations)
    else:
        raise InvalidArgument(f'cannot update "{path}" field on image "{wanted.name}": invalid argument')


def validate_image(image: Image) -> None:
    if not image.name:
        raise InvalidArgument("image name must not be empty: invalid argument")
    identifiers.validate_labels(dict(image.labels), "image.Labels")
    try:
        digests.check(image.target.digest)
    except digests.DigestError as e:
        raise InvalidArgument(f'Target.Digest "{image.target.digest}" invalid: {e}: invalid argument') from None
    if image.target.size <= 0:
        raise InvalidArgument("Target.Size must be greater than zero: invalid argument")
    if not image.target.media_type:
        raise InvalidArgument("Target.MediaType must be set: invalid argument")


def adapt_image(image: Image) -> filters.Adaptor:
    def field(path: list[str]) -> str | None:
        head = path[0] if path else ""
        if head == "name":
            return filters.present(image.name)
        if head == "target" and len(path) > 1:
            if path[1] == "digest":
                return filters.present(image.target.digest)
            if path[1] == "mediatype":
                return filters.present(image.target.media_type)
        if head == "labels":
            return filters.check_map(path[1:], image.labels)
        if head == "annotations":
            return filters.check_map(path[1:], image.target.annotations)
        return None
    return field
