"""Leases (containerd's metadata/leases.go): a lease holds the resources made under it (content,
ingests, snapshots) until it is deleted, so the garbage collector leaves them alone meanwhile."""

from __future__ import annotations

import base64
import os
import time

from corelib import errdefs
from corelib.api.containerd.services.leases.v1.leases_pb2 import Lease
from corelib.containerd import filters
from corelib.containerd.metadata import DB, now_ns, timestamp
from corelib.errdefs import AlreadyExists, InvalidArgument, NotFound
from corelib.images import digest as digests


class LeaseStore:
    def __init__(self, db: DB):
        self.db = db

    def create(self, ns: str, lease_id: str, labels: dict[str, str]) -> Lease:
        lease_id = lease_id or random_id()
        lease = Lease(id=lease_id, labels={k: v for k, v in labels.items() if v})
        lease.created_at.CopyFrom(timestamp(now_ns()))
        with self.db.update() as tx:
            self.db.ensure_namespace(ns)
            if tx.execute("SELECT 1 FROM leases WHERE namespace = ? AND id = ?", (ns, lease_id)).fetchone():
                raise AlreadyExists(f'lease "{lease_id}": already exists')
            tx.execute("INSERT INTO leases (namespace, id, record) VALUES (?, ?, ?)",
                       (ns, lease_id, lease.SerializeToString()))
        return lease

    def delete(self, ns: str, lease_id: str) -> None:
        with self.db.update() as tx:
            if tx.execute("DELETE FROM leases WHERE namespace = ? AND id = ?", (ns, lease_id)).rowcount == 0:
                raise NotFound(f'lease "{lease_id}": not found')
            tx.execute("DELETE FROM lease_resources WHERE namespace = ? AND lease = ?", (ns, lease_id))

    def list(self, ns: str, filter_strings: list[str] | tuple[str, ...] = ()) -> list[Lease]:
        match = filters.parse_all(list(filter_strings))
        rows = self.db.view().execute("SELECT record FROM leases WHERE namespace = ? ORDER BY id", (ns,))
        return [lease for lease in (Lease.FromString(r[0]) for r in rows) if match.match(adapt_lease(lease))]

    def exists(self, ns: str, lease_id: str) -> bool:
        return self.db.view().execute(
            "SELECT 1 FROM leases WHERE namespace = ? AND id = ?", (ns, lease_id)).fetchone() is not None

    def add_resource(self, ns: str, lease_id: str, rtype: str, rid: str) -> None:
        rid = parse_resource(rtype, rid)
        with self.db.update() as tx:
            if not self.exists(ns, lease_id):
                raise NotFound(f'lease "{lease_id}": not found')
            tx.execute("INSERT OR IGNORE INTO lease_resources (namespace, lease, type, id) VALUES (?, ?, ?, ?)",
                       (ns, lease_id, rtype, rid))

    def delete_resource(self, ns: str, lease_id: str, rtype: str, rid: str) -> None:
        rid = parse_resource(rtype, rid)
        with self.db.update() as tx:
            if not self.exists(ns, lease_id):
                raise NotFound(f'lease "{lease_id}": not found')
            tx.execute("DELETE FROM lease_resources WHERE namespace = ? AND lease = ? AND type = ? AND id = ?",
                       (ns, lease_id, rtype, rid))

    def list_resources(self, ns: str, lease_id: str) -> list[tuple[str, str]]:
        if not self.exists(ns, lease_id):
            raise NotFound(f'lease "{lease_id}": not found')
        return [(r[0], r[1]) for r in self.db.view().execute(
            "SELECT type, id FROM lease_resources WHERE namespace = ? AND lease = ? ORDER BY type, id",
            (ns, lease_id))]

    def hold(self, ns: str, lease_id: str, rtype: str, rid: str) -> None:
        """Attach a resource being created under the request's lease (a missing lease is an error)."""
        if not lease_id:
            return
        with self.db.update() as tx:
            if not self.exists(ns, lease_id):
                raise NotFound("lease does not exist: not found")
            tx.execute("INSERT OR IGNORE INTO lease_resources (namespace, lease, type, id) VALUES (?, ?, ?, ?)",
                       (ns, lease_id, rtype, rid))


def parse_resource(rtype: str, rid: str) -> str:
    keys = rtype.split("/")
    if keys[0] in ("content", "ingests"):
        if len(keys) != 1:
            raise InvalidArgument(f"invalid resource type {rtype}: invalid argument")
        if keys[0] == "content":
            try:
                digests.check(rid)
            except digests.DigestError as e:
                raise InvalidArgument(f"invalid content resource id {rid}: {e}: invalid argument") from None
    elif keys[0] == "snapshots":
        if len(keys) != 2:
            raise InvalidArgument(f"invalid snapshot resource type {rtype}: invalid argument")
    else:
        raise errdefs.NotImplemented(f"resource type {rtype} not supported yet: not implemented")
    return rid


def random_id() -> str:
    return f"{time.time_ns() % 1_000_000_000}-{base64.urlsafe_b64encode(os.urandom(8)).decode()}"


def adapt_lease(lease: Lease) -> filters.Adaptor:
    def field(path: list[str]) -> str | None:
        head = path[0] if path else ""
        if head == "id":
            return filters.present(lease.id)
        if head == "labels":
            return filters.check_map(path[1:], lease.labels)
        return None
    return field
