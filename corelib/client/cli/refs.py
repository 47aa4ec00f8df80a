"""Image references as docker/cli parses them (corelib.images.reference does the parsing), with
docker 28's wording for a repository name that is not lower case."""

from __future__ import annotations

from corelib.images.reference import (
    Reference,
    parse_any_reference,
    parse_normalized_named,
    split_docker_domain,
    tag_name_only,
)

__all__ = ["parse_any_reference", "parse_named", "named_reference", "tag_name_only", "check_lowercase"]


def check_lowercase(image: str) -> None:
    remote = split_docker_domain(image)[1].split(":", 1)[0]
    if remote.lower() != remote:
        raise ValueError(f"invalid reference format: repository name ({remote}) must be lowercase")


def parse_named(image: str) -> Reference:
    """reference.ParseNormalizedNamed: `busybox` is docker.io/library/busybox."""
    check_lowercase(image)
    return parse_normalized_named(image)


def named_reference(image: str) -> Reference | None:
    """ParseAnyReference + TagNameOnly, as createContainer does: the name to pull, None for an ID."""
    check_lowercase(image)
    ref = parse_any_reference(image)
    return tag_name_only(ref) if not isinstance(ref, str) else None
