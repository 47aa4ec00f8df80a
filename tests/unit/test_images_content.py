"""The on-disk content store: ingests that resume, commits that verify, blobs that never appear half-written."""

from __future__ import annotations

import hashlib

import pytest

from corelib.errdefs import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Unavailable
from corelib.images.content import ContentStore


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path):  # noqa: ANN001, ANN201
    return ContentStore(tmp_path / "content")


def test_write_commit_read(store):
    writer = store.writer("ref1", total=11, expected=digest(b"hello world"))
    writer.write(b"hello ")
    writer.write(b"world")
    assert writer.commit(11, digest(b"hello world")) == digest(b"hello world")
    writer.close()
    assert store.info(digest(b"hello world")).size == 11
    assert b"".join(store.read(digest(b"hello world"), offset=6, size=3)) == b"wor"
    assert list((store.root / "ingest").iterdir()) == []
    assert oct(store.blob_path(digest(b"hello world")).stat().st_mode & 0o777) == "0o444"


def test_an_ingest_resumes_after_the_writer_goes_away(store):
    first = store.writer("resume")
    first.write(b"part one, ")
    first.close()
    assert store.status("resume").offset == 10
    again = store.writer("resume")
    assert again.offset == 10
    again.write(b"part two")
    assert again.commit(18, digest(b"part one, part two")) == digest(b"part one, part two")


def test_corrupt_data_is_refused_and_discarded(store):
    writer = store.writer("bad")
    writer.write(b"tampered")
    with pytest.raises(FailedPrecondition, match="unexpected commit digest"):
        writer.commit(8, digest(b"original"))
    writer.close()
    with pytest.raises(NotFound):
        store.status("bad")
    assert list(store.walk()) == []


def test_size_mismatch_is_refused(store):
    writer = store.writer("short")
    writer.write(b"abc")
    with pytest.raises(FailedPrecondition, match="unexpected commit size 3, expected 4"):
        writer.commit(4)


def test_a_ref_is_written_by_one_writer_at_a_time(store):
    store.writer("busy")
    with pytest.raises(Unavailable, match="ref busy locked"):
        store.writer("busy")


def test_existing_content_is_not_written_twice(store):
    w = store.writer("one")
    w.write(b"same")
    w.commit()
    w.close()
    with pytest.raises(AlreadyExists):
        store.writer("two", expected=digest(b"same"))
    w2 = store.writer("three")
    w2.write(b"same")
    with pytest.raises(AlreadyExists):
        w2.commit()


def test_abort_and_bad_digests(store):
    store.writer("gone").close()
    store.abort("gone")
    with pytest.raises(NotFound):
        store.abort("gone")
    with pytest.raises(InvalidArgument, match="invalid checksum digest"):
        store.info("sha256:nothex")
    with pytest.raises(InvalidArgument, match="unsupported digest algorithm"):
        store.info("md5:" + "0" * 32)
