"""containerd's identifier rule, used for namespaces, container ids, lease ids and topic components."""

from __future__ import annotations

import re

from corelib.errdefs import InvalidArgument

MAX_LENGTH = 76
_IDENTIFIER = re.compile(r"^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$")


def validate(s: str) -> None:
    if not s:
        raise InvalidArgument("identifier must not be empty: invalid argument")
    if len(s) > MAX_LENGTH:
        raise InvalidArgument(
            f'identifier "{s}" greater than maximum length ({MAX_LENGTH} characters): invalid argument')
    if not _IDENTIFIER.match(s):
        raise InvalidArgument(f'identifier "{s}" must match {_IDENTIFIER.pattern}: invalid argument')


MAX_LABEL_SIZE = 4096


def validate_labels(labels: dict[str, str], field: str) -> None:
    """Each label's key and value together under 4096 bytes; `field` names them in the error
    (`containers.Labels`, `info.Labels`...), as containerd's messages do."""
    for key, value in labels.items():
        if len(key) + len(value) > MAX_LABEL_SIZE:
            raise InvalidArgument(
                f"{field}: label key and value greater than maximum size ({MAX_LABEL_SIZE} bytes), key: {key[:10]}: "
                "invalid argument")
