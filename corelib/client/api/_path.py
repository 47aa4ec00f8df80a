from __future__ import annotations

from urllib.parse import quote


def esc(name: str) -> str:
    """A name or ID as a path segment: Go's URL path escaping keeps `/`, `:` and `@` (image references)."""
    return quote(name, safe="/:@!$&'()*+,;=")
