"""JSON through the interpreter's C accelerator (`_json`) alone, for the shim's spans: `import json`
compiles its regular expressions and loads its encoder and decoder, ~3 ms of a traced shim's CPU, at
its task's exit. Same text as `json.dumps(obj, separators=(",", ":"), default=str)` and the same values
as `json.loads`; `json` itself is the fallback (no accelerator, a line it cannot scan)."""

from __future__ import annotations

try:
    import _json
except ImportError:  # an interpreter without the accelerator
    _json = None


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict = {}


_scan = _json.make_scanner(_Context()) if _json else None
_encode = _json.make_encoder({}, str, _json.encode_basestring_ascii, None, ":", ",", False, False, True) \
    if _json else None


def dumps(obj: object) -> str:
    """`json.dumps(obj, separators=(",", ":"), default=str)`."""
    if _encode is None:
        import json

        return json.dumps(obj, separators=(",", ":"), default=str)
    return "".join(_encode(obj, 0))


def loads(text: str) -> object:
    """`json.loads(text)`: ValueError for what is not one JSON value."""
    if _scan is not None:
        start = len(text) - len(text.lstrip(" \t\n\r"))
        try:
            value, end = _scan(text, start)
            if not text[end:].strip(" \t\n\r"):
                return value
        except (StopIteration, ValueError, SystemError):
            pass  # the scanner needs json.decoder loaded to raise its error: json words it
    import json

    return json.loads(text)
