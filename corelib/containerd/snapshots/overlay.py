"""The overlayfs snapshotter (containerd's snapshots/overlay): each snapshot is a directory
`snapshots/<id>/{fs,work}`; an active snapshot over committed parents mounts as overlay with the
parents' `fs` as lowerdirs (nearest first), a snapshot without parents as a bind mount of its `fs`.

Its own small SQLite database records keys, kinds and parent links; it knows nothing of namespaces.
A directory is renamed into place inside the transaction that records it, and directories the
database does not know (left by a crash) are removed at start.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from corelib.containerd.snapshots import ACTIVE, COMMITTED, VIEW, Info, Mount
from corelib.errdefs import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

NAME = "overlayfs"

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, parent INTEGER,
    kind INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
"""


def _supports_index() -> bool:
    """Whether the kernel's overlay knows the `index` option (containerd sets index=off when it does)."""
    return os.path.exists("/sys/module/overlay/parameters/index")


class OverlaySnapshotter:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        (self.root / "snapshots").mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.root / "metadata.db"), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._remover = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-remover")
        self.cleanup()

    def fs_path(self, sid: int) -> Path:
        return self.root / "snapshots" / str(sid) / "fs"

    def _row(self, key: str) -> tuple[int, int | None, int, int, int]:
        row = self.db.execute(
            "SELECT id, parent, kind, created_at, updated_at FROM snapshots WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise NotFound(f"snapshot {key}: not found")
        return row

    def _key_of(self, sid: int | None) -> str:
        if sid is None:
            return ""
        return self.db.execute("SELECT key FROM snapshots WHERE id = ?", (sid,)).fetchone()[0]

    def _parent_ids(self, parent: int | None) -> list[int]:
        chain = []
        while parent is not None:
            chain.append(parent)
            parent = self.db.execute("SELECT parent FROM snapshots WHERE id = ?", (parent,)).fetchone()[0]
        return chain

    def stat(self, key: str) -> Info:
        sid, parent, kind, created, updated = self._row(key)
        return Info(key, self._key_of(parent), kind, created, updated)

    def mounts(self, key: str) -> list[Mount]:
        sid, parent, kind, _, _ = self._row(key)
        if kind == COMMITTED:
            raise FailedPrecondition(f"requested snapshot {key} not active or view: failed precondition")
        return self._mounts(sid, kind, self._parent_ids(parent))

    def _mounts(self, sid: int, kind: int, parents: list[int]) -> list[Mount]:
        if not parents:
            return [Mount("bind", str(self.fs_path(sid)), ["ro" if kind == VIEW else "rw", "rbind"])]
        options = ["index=off"] if _supports_index() else []
        if kind == ACTIVE:
            options += [f"workdir={self.fs_path(sid).parent / 'work'}", f"upperdir={self.fs_path(sid)}"]
        elif len(parents) == 1:
            return [Mount("bind", str(self.fs_path(parents[0])), ["ro", "rbind"])]
        options.append("lowerdir=" + ":".join(str(self.fs_path(p)) for p in parents))
        return [Mount("overlay", "overlay", options)]

    def prepare(self, key: str, parent: str = "", now: int = 0) -> list[Mount]:
        return self._create(ACTIVE, key, parent, now)

    def view(self, key: str, parent: str = "", now: int = 0) -> list[Mount]:
        return self._create(VIEW, key, parent, now)

    def _create(self, kind: int, key: str, parent: str, now: int) -> list[Mount]:
        tmp = Path(tempfile.mkdtemp(prefix="new-", dir=self.root / "snapshots"))
        try:
            (tmp / "fs").mkdir(mode=0o755)
            if kind == ACTIVE:
                (tmp / "work").mkdir(mode=0o711)
            self.db.execute("BEGIN IMMEDIATE")
            try:
                parent_id = None
                if parent:
                    row = self.db.execute("SELECT id, kind FROM snapshots WHERE key = ?", (parent,)).fetchone()
                    if row is None:
                        raise NotFound(f'failed to create snapshot: missing parent "{parent}" bucket: not found')
                    if row[1] != COMMITTED:
                        raise InvalidArgument(
                            f'failed to create snapshot: parent "{parent}" is not committed snapshot: invalid argument')
                    parent_id = row[0]
                    st = self.fs_path(parent_id).stat()
                    os.lchown(tmp / "fs", st.st_uid, st.st_gid)
                if self.db.execute("SELECT 1 FROM snapshots WHERE key = ?", (key,)).fetchone():
                    raise AlreadyExists(f"failed to create snapshot: snapshot {key}: already exists")
                sid = self.db.execute(
                    "INSERT INTO snapshots (key, parent, kind, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (key, parent_id, kind, now, now)).lastrowid
                os.rename(tmp, self.root / "snapshots" / str(sid))
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self._mounts(sid, kind, self._parent_ids(parent_id))

    def commit(self, name: str, key: str, now: int = 0) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT id, kind FROM snapshots WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise NotFound(f'failed to get active snapshot "{key}": not found')
            if row[1] != ACTIVE:
                raise FailedPrecondition(f'snapshot "{key}" is not active: failed precondition')
            if self.db.execute("SELECT 1 FROM snapshots WHERE key = ?", (name,)).fetchone():
                raise AlreadyExists(f"committed snapshot {name}: already exists")
            self.db.execute("UPDATE snapshots SET key = ?, kind = ?, updated_at = ? WHERE id = ?",
                            (name, COMMITTED, now, row[0]))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        shutil.rmtree(self.root / "snapshots" / str(row[0]) / "work", ignore_errors=True)

    def remove(self, key: str) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            sid = self._row(key)[0]
            if self.db.execute("SELECT 1 FROM snapshots WHERE parent = ? LIMIT 1", (sid,)).fetchone():
                raise FailedPrecondition("cannot remove snapshot with child: failed precondition")
            self.db.execute("DELETE FROM snapshots WHERE id = ?", (sid,))
            doomed = self.root / "snapshots" / f"rm-{sid}"
            os.rename(self.root / "snapshots" / str(sid), doomed)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        self.discard(doomed)

    def discard(self, path: Path) -> None:
        """Remove a directory already out of sight (renamed away), in the background: nobody waits
        for it, and `cleanup` finishes it after a crash."""
        self._remover.submit(shutil.rmtree, path, True)

    def keys(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT key FROM snapshots ORDER BY id")]

    def usage(self, key: str) -> tuple[int, int]:
        """(bytes, inodes) used by the snapshot's own layer."""
        sid = self._row(key)[0]
        size = inodes = 0
        for dirpath, dirnames, filenames in os.walk(self.fs_path(sid)):
            for name in dirnames + filenames:
                inodes += 1
                st = os.lstat(os.path.join(dirpath, name))
                size += st.st_blocks * 512
        return size, inodes

    def cleanup(self) -> None:
        """Remove snapshot directories the database does not know (a crash in the middle of a change)."""
        known = {str(r[0]) for r in self.db.execute("SELECT id FROM snapshots")}
        for entry in (self.root / "snapshots").iterdir():
            if entry.name not in known:
                shutil.rmtree(entry, ignore_errors=True)

    def close(self) -> None:
        self._remover.shutdown(wait=True)
        self.db.close()
