"""containerd's metadata store: every namespaced object (namespaces, containers, images, leases,
content and snapshot records) in one SQLite database, changed only inside transactions.

WAL mode: a committed transaction survives a kill -9 of the daemon (it is in the OS's hands).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (name TEXT PRIMARY KEY, labels TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS containers (
    namespace TEXT NOT NULL, id TEXT NOT NULL, record BLOB NOT NULL, PRIMARY KEY (namespace, id));
CREATE TABLE IF NOT EXISTS images (
    namespace TEXT NOT NULL, name TEXT NOT NULL, record BLOB NOT NULL, PRIMARY KEY (namespace, name));
CREATE TABLE IF NOT EXISTS leases (
    namespace TEXT NOT NULL, id TEXT NOT NULL, record BLOB NOT NULL, PRIMARY KEY (namespace, id));
CREATE TABLE IF NOT EXISTS lease_resources (
    namespace TEXT NOT NULL, lease TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (namespace, lease, type, id));
CREATE TABLE IF NOT EXISTS content (
    namespace TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, labels TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (namespace, digest));
CREATE TABLE IF NOT EXISTS ingests (
    namespace TEXT NOT NULL, ref TEXT NOT NULL, backend_ref TEXT NOT NULL, expected TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (namespace, ref));
CREATE TABLE IF NOT EXISTS snapshots (
    namespace TEXT NOT NULL, snapshotter TEXT NOT NULL, key TEXT NOT NULL, backend_key TEXT NOT NULL,
    parent TEXT NOT NULL, labels TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, snapshotter, key));
CREATE TABLE IF NOT EXISTS buckets (namespace TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (namespace, kind));
CREATE TABLE IF NOT EXISTS sequence (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class DB:
    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        self._depth = 0

    @contextlib.contextmanager
    def update(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")
        finally:
            self._depth = 0

    def view(self) -> sqlite3.Connection:
        return self.conn

    def ensure_namespace(self, namespace: str, bucket: str = "") -> None:
        """The namespace exists from its first object on; so does the bucket of that kind of object
        (containerd's bolt buckets outlive their last object, and some messages tell the two apart)."""
        self.conn.execute("INSERT OR IGNORE INTO namespaces (name) VALUES (?)", (namespace,))
        if bucket:
            self.conn.execute("INSERT OR IGNORE INTO buckets (namespace, kind) VALUES (?, ?)", (namespace, bucket))

    def has_bucket(self, namespace: str, bucket: str) -> bool:
        return self.conn.execute("SELECT 1 FROM buckets WHERE namespace = ? AND kind = ?",
                                 (namespace, bucket)).fetchone() is not None

    def next_sequence(self, name: str) -> int:
        with self.update() as tx:
            tx.execute("INSERT OR IGNORE INTO sequence (name, value) VALUES (?, 0)", (name,))
            tx.execute("UPDATE sequence SET value = value + 1 WHERE name = ?", (name,))
            return tx.execute("SELECT value FROM sequence WHERE name = ?", (name,)).fetchone()[0]

    def close(self) -> None:
        self.conn.close()


def now_ns() -> int:
    return time.time_ns()


def timestamp(ns: int) -> Timestamp:
    return Timestamp(seconds=ns // 1_000_000_000, nanos=ns % 1_000_000_000)


def dump_labels(labels: dict[str, str]) -> str:
    return json.dumps(dict(labels), sort_keys=True)


def load_labels(text: str) -> dict[str, str]:
    return json.loads(text) if text else {}


def apply_label_paths(current: dict[str, str], wanted: dict[str, str], fieldpaths: list[str]) -> dict[str, str]:
    """Field-mask semantics for labels: `labels` replaces all, `labels.KEY` sets one; an empty value removes it."""
    result = dict(current)
    for path in fieldpaths:
        if path == "labels":
            result = dict(wanted)
        elif path.startswith("labels."):
            key = path[len("labels."):]
            result[key] = wanted.get(key, "")
    return {k: v for k, v in result.items() if v}
