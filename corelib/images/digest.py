"""Content digests (`algorithm:hex`), validated the way go-digest does."""

from __future__ import annotations

import hashlib
import re

from corelib.errdefs import InvalidArgument

_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_FORMAT = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class DigestError(ValueError):
    pass


def check(digest: str) -> None:
    """Raise DigestError with go-digest's wording unless `digest` is a well-formed, supported digest."""
    algorithm, sep, encoded = digest.partition(":")
    if not sep or not _FORMAT.match(digest):
        raise DigestError("invalid checksum digest format")
    if algorithm not in _LENGTHS:
        raise DigestError("unsupported digest algorithm")
    if len(encoded) != _LENGTHS[algorithm] or not re.fullmatch(r"[a-f0-9]+", encoded):
        raise DigestError("invalid checksum digest length" if len(encoded) != _LENGTHS[algorithm]
                          else "invalid checksum digest format")


def validate(digest: str) -> str:
    """`digest`, or InvalidArgument in containerd's words."""
    try:
        check(digest)
    except DigestError as e:
        raise InvalidArgument(f"{digest}: {e}: invalid argument") from None
    return digest


def of_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
