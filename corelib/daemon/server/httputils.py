"""Request helpers of the Engine API edge, worded as moby's api/server/httputils and Go's
encoding/json word their errors (clients and tests match on them)."""

from __future__ import annotations

import json
import re

from corelib import errdefs
from corelib.daemon.server.http import Request

MAX_JSON_BODY = 64 << 20
_DECODER = json.JSONDecoder()
_FALSE = {"", "0", "no", "false", "none"}


def bool_value(r: Request, name: str) -> bool:
    """moby's BoolValue: anything but "", 0, no, false, none (any case) is true."""
    return r.form(name).strip().lower() not in _FALSE


def int_value(r: Request, name: str, default: int | None = None) -> int | None:
    raw = r.form(name)
    if raw == "":
        return default
    try:
        return int(raw, 10)
    except ValueError:
        raise errdefs.InvalidArgument(f'strconv.Atoi: parsing "{raw}": invalid syntax') from None


def check_for_json(r: Request) -> None:
    """moby's CheckForJSON: a body must come as application/json (an empty one may come bare)."""
    content_type = r.content_type.split(";")[0].strip().lower()
    if content_type == "application/json":
        return
    if content_type == "" and r.headers.get("content-length", "") in ("", "0") \
            and "chunked" not in r.headers.get("transfer-encoding", ""):
        return
    raise errdefs.InvalidArgument(f"Content-Type specified ({r.content_type}) must be 'application/json'")


async def read_json(r: Request, allow_empty: bool = False) -> object:
    """The request's JSON body. Syntax errors read like Go's decoder's (dockerd answers them 500)."""
    check_for_json(r)
    try:
        body = await r.body(MAX_JSON_BODY)
    except OverflowError as e:
        raise errdefs.InvalidArgument(str(e)) from None
    if allow_empty and not body.strip():
        return None
    return decode_json(body)


def decode_json(body: bytes) -> object:
    text = body.decode("utf-8", errors="replace")
    if not text.strip():
        raise errdefs.WhaleError("EOF")
    try:
        # Like Go's json.Decoder: one value is read, whatever follows it is left unread.
        return _DECODER.raw_decode(text, len(text) - len(text.lstrip()))[0]
    except json.JSONDecodeError as e:
        raise errdefs.WhaleError(go_syntax_error(text, e)) from None
    except RecursionError:
        raise errdefs.WhaleError("exceeded max depth") from None


_EXPECTING = {
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Expecting value": "looking for beginning of value",
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
    "Invalid control character at": "in string literal",
    "Invalid \\escape": "in string escape code",
}


def go_syntax_error(text: str, error: json.JSONDecodeError) -> str:
    """Go's wording for the same syntax error: `invalid character 'b' looking for beginning of object
    key string`, or `unexpected EOF` when the document stops early."""
    pos = error.pos
    if pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
        return "unexpected EOF"
    context = next((v for k, v in _EXPECTING.items() if error.msg.startswith(k)), "looking for beginning of value")
    if context == "after object key:value pair" and _inside_array(text, pos):
        context = "after array element"
    char = text[pos]
    shown = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "'": "\\'"}.get(char, char)
    return f"invalid character '{shown}' {context}"


def _inside_array(text: str, pos: int) -> bool:
    depth = []
    in_string = escaped = False
    for ch in text[:pos]:
        if in_string:
            escaped = not escaped and ch == "\\"
            if ch == '"' and not escaped:
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth.append(ch)
        elif ch in "]}" and depth:
            depth.pop()
    return bool(depth) and depth[-1] == "["


def parse_filters(raw: str) -> dict[str, set[str]]:
    """Docker's filter argument in both JSON forms: {"k": ["v"]} and the legacy {"k": {"v": true}}."""
    if not raw:
        return {}
    parsed = decode_json(raw.encode())
    if not isinstance(parsed, dict):
        raise errdefs.InvalidArgument("invalid filter: filters must be a JSON object")
    filters: dict[str, set[str]] = {}
    for key, values in parsed.items():
        if isinstance(values, list):
            filters[key] = {str(v) for v in values}
        elif isinstance(values, dict):
            filters[key] = {str(v) for v, on in values.items() if on}
        else:
            raise errdefs.InvalidArgument(f"invalid filter '{key}': values must be a list or an object")
    return filters


def validate_filters(filters: dict[str, set[str]], accepted: set[str]) -> None:
    for key in filters:
        if key not in accepted:
            raise errdefs.InvalidArgument(f"Invalid filter '{key}'")


def match_filter(filters: dict[str, set[str]], key: str, value: str) -> bool:
    """moby's Args.Match: no filter for `key`, an exact value, or a value that is a regexp found in it."""
    wanted = filters.get(key)
    if not wanted:
        return True
    for pattern in wanted:
        if pattern == value:
            return True
        try:
            if re.search(pattern, value):
                return True
        except re.error:
            continue
    return False


def match_labels(filters: dict[str, set[str]], labels: dict[str, str] | None, key: str = "label") -> bool:
    """Every `label` filter (`k` or `k=v`) must be satisfied by `labels`."""
    labels = labels or {}
    for wanted in filters.get(key, ()):
        name, eq, value = wanted.partition("=")
        if name not in labels or (eq and labels[name] != value):
            return False
    return True
