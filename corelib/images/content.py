"""The content store on disk (containerd's content/local): blobs addressed by digest under
`blobs/<algorithm>/<hex>`, written through an ingest (`ingest/<sha256(ref)>/`) that survives a restart
and can be resumed, then verified (size and digest) and renamed into place atomically.

It knows nothing of namespaces or labels: the metadata store keeps those.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corelib.errdefs import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from corelib.images import digest as digests

READ_CHUNK = 1 << 20


@dataclass
class Info:
    digest: str
    size: int
    created_at: int  # ns since the epoch
    updated_at: int


@dataclass
class Status:
    ref: str
    offset: int
    total: int
    expected: str
    started_at: int
    updated_at: int


class ContentStore:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        (self.root / "ingest").mkdir(parents=True, exist_ok=True)
        self._locked: dict[str, float] = {}

    def blob_path(self, digest: str) -> Path:
        try:
            digests.check(digest)
        except digests.DigestError as e:
            raise InvalidArgument(
                f"cannot calculate blob path from invalid digest: {e}: invalid argument") from None
        algorithm, _, encoded = digest.partition(":")
        return self.root / "blobs" / algorithm / encoded

    def info(self, digest: str) -> Info:
        try:
            st = self.blob_path(digest).stat()
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None
        return Info(digest, st.st_size, st.st_ctime_ns, st.st_mtime_ns)

    def exists(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def read(self, digest: str, offset: int = 0, size: int = -1) -> Iterator[bytes]:
        """The blob's bytes from `offset`, `size` of them (all when negative), in chunks."""
        try:
            f = open(self.blob_path(digest), "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None
        with f:
            f.seek(offset)
            remaining = size
            while remaining != 0:
                chunk = f.read(READ_CHUNK if remaining < 0 else min(READ_CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk) if remaining > 0 else 0
                yield chunk

    def read_all(self, digest: str) -> bytes:
        return b"".join(self.read(digest))

    def delete(self, digest: str) -> None:
        try:
            self.blob_path(digest).unlink()
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def walk(self) -> Iterator[str]:
        for algorithm_dir in (self.root / "blobs").iterdir():
            for blob in algorithm_dir.iterdir():
                yield f"{algorithm_dir.name}:{blob.name}"

    # Ingests

    def _ingest_dir(self, ref: str) -> Path:
        return self.root / "ingest" / hashlib.sha256(ref.encode()).hexdigest()

    def writer(self, ref: str, total: int = 0, expected: str = "") -> Writer:
        if not ref:
            raise InvalidArgument("ref must not be empty: invalid argument")
        if ref in self._locked:
            raise Unavailable(f"ref {ref} locked for {time.time() - self._locked[ref]:.3f}s: unavailable")
        if expected and self.exists(expected):
            raise AlreadyExists(f"content {expected}: already exists")
        self._locked[ref] = time.time()
        try:
            return Writer(self, ref, total, expected)
        except BaseException:
            self._locked.pop(ref, None)
            raise

    def _unlock(self, ref: str) -> None:
        self._locked.pop(ref, None)

    def status(self, ref: str) -> Status:
        path = self._ingest_dir(ref)
        try:
            stored_ref = (path / "ref").read_text()
            data = (path / "data").stat()
        except FileNotFoundError:
            raise NotFound(f"ingest ref {ref}: not found") from None
        total = int(_read_or(path / "total", "0"))
        started = int(_read_or(path / "startedat", str(data.st_ctime_ns)))
        return Status(stored_ref, data.st_size, total, _read_or(path / "expected", ""), started, data.st_mtime_ns)

    def list_statuses(self) -> list[Status]:
        found = []
        for path in (self.root / "ingest").iterdir():
            with contextlib.suppress(NotFound, OSError):
                found.append(self.status((path / "ref").read_text()))
        return found

    def abort(self, ref: str) -> None:
        path = self._ingest_dir(ref)
        if not path.exists():
            raise NotFound(f'ingest ref "{ref}": not found')
        shutil.rmtree(path, ignore_errors=True)


class Writer:
    """One ingest being written: appends, digests as it goes, and commits to a verified blob."""

    def __init__(self, store: ContentStore, ref: str, total: int, expected: str):
        self.store = store
        self.ref = ref
        self.path = store._ingest_dir(ref)
        self.hash = hashlib.sha256()
        self.expected = expected
        fresh = not self.path.exists()
        if fresh:
            self.path.mkdir()
            _write_atomic(self.path / "ref", ref)
            _write_atomic(self.path / "startedat", str(time.time_ns()))
        stored_total = int(_read_or(self.path / "total", "0"))
        if total and stored_total and total != stored_total:
            raise FailedPrecondition(f"provided total differs from status: {total} != {stored_total}")
        self.total = total or stored_total
        if self.total:
            _write_atomic(self.path / "total", str(self.total))
        if expected:
            _write_atomic(self.path / "expected", expected)
        self.fp = open(self.path / "data", "ab+")  # noqa: SIM115 - owned by the writer
        self.fp.seek(0)
        while chunk := self.fp.read(READ_CHUNK):  # resume: digest what is already there
            self.hash.update(chunk)
        self.offset = self.fp.tell()

    def status(self) -> Status:
        started = int(_read_or(self.path / "startedat", "0"))
        return Status(self.ref, self.offset, self.total, self.expected, started, time.time_ns())

    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()

    def write(self, data: bytes) -> int:
        self.fp.write(data)
        self.hash.update(data)
        self.offset += len(data)
        return len(data)

    def truncate(self, size: int) -> None:
        if size != 0:
            raise InvalidArgument("truncate is only supported to zero: invalid argument")
        self.fp.truncate(0)
        self.fp.seek(0)
        self.hash = hashlib.sha256()
        self.offset = 0

    def commit(self, size: int = 0, expected: str = "") -> str:
        """Verify and move the data into the store; return its digest."""
        if self.fp is None:
            raise FailedPrecondition("cannot commit on closed writer: failed precondition")
        self.fp.flush()
        os.fsync(self.fp.fileno())
        self.fp.close()
        self.fp = None
        dgst = self.digest()
        if size > 0 and size != self.offset:
            shutil.rmtree(self.path, ignore_errors=True)  # the data is known bad: keep none of it
            raise FailedPrecondition(f"unexpected commit size {self.offset}, expected {size}: failed precondition")
        if expected and expected != dgst:
            shutil.rmtree(self.path, ignore_errors=True)
            raise FailedPrecondition(f"unexpected commit digest {dgst}, expected {expected}: failed precondition")
        target = self.store.blob_path(dgst)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(self.path, ignore_errors=True)
            raise AlreadyExists(f"content {dgst}: already exists")
        os.chmod(self.path / "data", 0o444)
        os.rename(self.path / "data", target)
        _fsync_dir(target.parent)
        shutil.rmtree(self.path, ignore_errors=True)
        return dgst

    def close(self) -> None:
        if self.fp is not None:
            self.fp.close()
            self.fp = None
        self.store._unlock(self.ref)


def _read_or(path: Path, default: str) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return default


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.rename(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
