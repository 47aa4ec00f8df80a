"""URL escaping as Go's net/url does it, without urllib.parse: its import (ipaddress and more) would cost
every command milliseconds of start-up for a few percent signs."""

from __future__ import annotations

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
PATH_SAFE = "/:@!$&'()*+,;="


def quote(text: str, safe: str = "") -> str:
    """`text` as UTF-8, every byte but the unreserved ones and `safe` percent-encoded (urllib's quote)."""
    keep = _UNRESERVED | frozenset(safe.encode())
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode())


def query_escape(text: str) -> str:
    """Go's url.QueryEscape (urllib's quote_plus): a space becomes `+`."""
    return quote(text, " ").replace(" ", "+")


def esc(name: str) -> str:
    """A name or ID as a path segment: Go's URL path escaping keeps `/`, `:` and `@` (image references)."""
    return quote(name, PATH_SAFE)
