"""Image references, checked against docker/distribution's behaviour and wording."""

from __future__ import annotations

import pytest

from corelib.errdefs import InvalidArgument
from corelib.images import reference as r

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize("given, normalised, familiar", [
    ("busybox", "docker.io/library/busybox", "busybox"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox", "busybox"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox", "busybox"),
    ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
    ("docker.io/user/deep/app", "docker.io/user/deep/app", "user/deep/app"),
    ("localhost/app", "localhost/app", "localhost/app"),
    ("localhost:5000/busybox:test", "localhost:5000/busybox:test", "localhost:5000/busybox:test"),
    ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b"),
    (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
    (f"busybox:t@{DIGEST}", f"docker.io/library/busybox:t@{DIGEST}", f"busybox:t@{DIGEST}"),
    ("a__b.c-d---e", "docker.io/library/a__b.c-d---e", "a__b.c-d---e"),
])
def test_normalised_and_familiar(given: str, normalised: str, familiar: str) -> None:
    ref = r.parse_normalized_named(given)
    assert ref.string() == normalised
    assert ref.familiar_string() == familiar


@pytest.mark.parametrize("given, message", [
    ("", "invalid reference format"),
    ("Busybox", "invalid reference format: repository name must be lowercase"),
    ("localhost:5000/BusyBox", "invalid reference format: repository name must be lowercase"),
    ("busybox:", "invalid reference format"),
    (":latest", "invalid reference format"),
    ("bu$ybox", "invalid reference format"),
    ("busybox:-tag", "invalid reference format"),
    ("busybox:" + "t" * 129, "invalid reference format"),
    ("a/" * 127 + "ab", "repository name must not be more than 255 characters"),
    ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
    ("busybox@sha256:abc", "invalid reference format"),
    ("busybox@sha256:" + "a" * 63 + "G", "invalid reference format"),
    ("busybox@sha256:" + "a" * 40, "invalid checksum digest length"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
])
def test_bad_references_are_worded_like_docker(given: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        r.parse_normalized_named(given)
    assert str(e.value) == message


def test_plain_parse_of_empty_name() -> None:
    with pytest.raises(InvalidArgument, match="^repository name must have at least one component$"):
        r.parse("")


def test_parse_any_reference_takes_ids_and_digests() -> None:
    assert r.parse_any_reference("b" * 64) == "sha256:" + "b" * 64
    assert r.parse_any_reference(DIGEST) == DIGEST
    assert r.parse_any_reference("982eea").string() == "docker.io/library/982eea"


def test_tags() -> None:
    ref = r.parse_normalized_named("busybox")
    assert r.tag_name_only(ref).string() == "docker.io/library/busybox:latest"
    assert r.with_tag(ref, "v1.0_x-y").tag == "v1.0_x-y"
    with pytest.raises(InvalidArgument, match="^invalid tag format$"):
        r.with_tag(ref, ".bad")
    assert r.parse_docker_ref("busybox").string() == "docker.io/library/busybox:latest"
    assert r.parse_docker_ref(f"busybox:t@{DIGEST}").string() == f"docker.io/library/busybox@{DIGEST}"
    assert r.with_digest(ref, DIGEST).familiar_string() == f"busybox@{DIGEST}"


def test_familiar_string_of_containerd_names() -> None:
    assert r.familiar_string("docker.io/library/busybox:latest") == "busybox:latest"
    assert r.familiar_string("docker.io/user/app:1") == "user/app:1"
    assert r.familiar_string("localhost:5000/busybox:test") == "localhost:5000/busybox:test"
