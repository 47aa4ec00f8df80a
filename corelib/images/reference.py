"""Image references as docker/distribution's reference package parses them: normalised names
(`busybox` is `docker.io/library/busybox`), tags, digests, and Docker's error wording.

    >>> ref = parse_normalized_named("busybox")
    >>> ref.string(), ref.familiar_string(), tag_name_only(ref).familiar_string()
    ('docker.io/library/busybox', 'busybox', 'busybox:latest')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from corelib.errdefs import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_NAME = "library"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]*)"
_NAME_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*"

REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$", re.ASCII)
NAME_RE = re.compile(rf"^(?:({_DOMAIN})/)?({_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*)$", re.ASCII)
TAG_RE = re.compile(rf"^{_TAG}$", re.ASCII)
IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")
_DIGEST_ANCHORED = re.compile(rf"^{_DIGEST}$", re.ASCII)

ERR_REFERENCE_INVALID_FORMAT = "invalid reference format"
ERR_TAG_INVALID_FORMAT = "invalid tag format"
ERR_NAME_CONTAINS_UPPERCASE = "repository name must be lowercase"
ERR_NAME_EMPTY = "repository name must have at least one component"
ERR_NAME_TOO_LONG = f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"


@dataclass(frozen=True)
class Reference:
    """A parsed reference: `domain` may be empty only for references not normalised."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def familiar_name(self) -> str:
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        parts = self.path.split("/")
        return parts[1] if len(parts) == 2 and parts[0] == OFFICIAL_REPO_NAME else self.path

    def string(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def familiar_string(self) -> str:
        return replace(self, domain="", path=self.familiar_name).string()

    def is_name_only(self) -> bool:
        return not self.tag and not self.digest

    def __str__(self) -> str:
        return self.string()


def validate_digest(digest: str) -> str:
    """go-digest's Parse: `sha256:` + 64 lowercase hex, with its error wording."""
    algorithm, sep, encoded = digest.partition(":")
    if not algorithm or not sep or not encoded:
        raise InvalidArgument("invalid checksum digest format")
    if algorithm not in ("sha256", "sha384", "sha512"):
        if not _DIGEST_ANCHORED.match(digest):
            raise InvalidArgument("invalid checksum digest format")
        raise InvalidArgument("unsupported digest algorithm")
    size = {"sha256": 64, "sha384": 96, "sha512": 128}[algorithm]
    if len(encoded) != size:
        raise InvalidArgument("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise InvalidArgument("invalid checksum digest format")
    return digest


def is_digest(s: str) -> bool:
    try:
        validate_digest(s)
    except InvalidArgument:
        return False
    return True


def parse(s: str) -> Reference:
    """distribution's reference.Parse: no normalisation."""
    m = REFERENCE_RE.match(s)
    if m is None:
        if s == "":
            raise InvalidArgument(ERR_NAME_EMPTY)
        if REFERENCE_RE.match(s.lower()):
            raise InvalidArgument(ERR_NAME_CONTAINS_UPPERCASE)
        raise InvalidArgument(ERR_REFERENCE_INVALID_FORMAT)
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(ERR_NAME_TOO_LONG)
    if digest:
        validate_digest(digest)
    nm = NAME_RE.match(name)
    assert nm is not None  # REFERENCE_RE matched the same grammar
    return Reference(domain=nm.group(1) or "", path=nm.group(2), tag=tag, digest=digest)


def split_docker_domain(name: str) -> tuple[str, str]:
    i = name.find("/")
    if i == -1 or (not any(c in name[:i] for c in ".:") and name[:i] != "localhost"):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = name[:i], name[i + 1:]
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = f"{OFFICIAL_REPO_NAME}/{remainder}"
    return domain, remainder


def parse_normalized_named(s: str) -> Reference:
    """ParseNormalizedNamed: `busybox` -> docker.io/library/busybox (tag and digest kept)."""
    if IDENTIFIER_RE.match(s):
        raise InvalidArgument(f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = split_docker_domain(s)
    remote_name = remainder.split(":", 1)[0]
    if remote_name.lower() != remote_name:
        raise InvalidArgument(f"{ERR_REFERENCE_INVALID_FORMAT}: {ERR_NAME_CONTAINS_UPPERCASE}")
    return parse(f"{domain}/{remainder}")


def parse_any_reference(s: str) -> Reference | str:
    """ParseAnyReference: a digest string (`sha256:...`, or 64 hex standing for one) or a name."""
    if IDENTIFIER_RE.match(s):
        return "sha256:" + s
    if is_digest(s):
        return s
    return parse_normalized_named(s)


def with_tag(ref: Reference, tag: str) -> Reference:
    if not TAG_RE.match(tag):
        raise InvalidArgument(ERR_TAG_INVALID_FORMAT)
    return replace(ref, tag=tag, digest="")


def with_digest(ref: Reference, digest: str) -> Reference:
    if not _DIGEST_ANCHORED.match(digest):
        raise InvalidArgument("invalid digest format")
    return replace(ref, tag="", digest=digest)


def tag_name_only(ref: Reference) -> Reference:
    return replace(ref, tag=DEFAULT_TAG) if ref.is_name_only() else ref


def parse_docker_ref(s: str) -> Reference:
    """ParseDockerRef: normalised, `latest` when neither tag nor digest; name@digest drops the tag."""
    ref = parse_normalized_named(s)
    if ref.tag and ref.digest:
        return replace(ref, tag="")
    return tag_name_only(ref)


def familiar_string(name: str) -> str:
    """The short form of a normalised name (`docker.io/library/busybox:latest` -> `busybox:latest`)."""
    return parse(name).familiar_string()
