"""JSON through the interpreter's C accelerator (`_json`) alone, for the processes whose start-up
counts: whale-runc's every command, and the shim's spans at its task's exit.

`import json` imports `re`, and with it enum, functools and collections: for a command as short as
`whale-runc state` that is a third of its start-up. The C scanner and encoder are what `json` uses
anyway, so the output is the same as json.dumps; `json` is the fallback where `_json` is missing."""

try:
    import _json
except ImportError:  # an interpreter without the accelerator
    _json = None

_WHITESPACE = " \t\n\r"


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict = {}


_scan = _json.make_scanner(_Context()) if _json else None


def loads(text: str | bytes) -> object:
    if _scan is None:
        import json

        return json.loads(text)
    if isinstance(text, bytes):
        text = text.decode("utf-8").removeprefix("\ufeff")  # (the utf-8-sig codec is one more import)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
        if not text[end:].strip(_WHITESPACE):
            return value
    except (StopIteration, ValueError, SystemError):
        pass  # the scanner needs json.decoder loaded to raise its error: let json word it
    import json

    return json.loads(text)


def _fail(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _encoder(item_separator: str, key_separator: str, ensure_ascii: bool, default=_fail):  # noqa: ANN001
    text = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    return _json.make_encoder({}, default, text, None, key_separator, item_separator, False, False, True)


def dumps(obj: object, indent: int | str | None = None, separators: tuple[str, str] | None = None,
          ensure_ascii: bool = True, default=None) -> str:  # noqa: ANN001
    """json.dumps for dicts, lists, strings, numbers, booleans and null (`default` for anything else)."""
    if _json is None:
        import json

        return json.dumps(obj, indent=indent, separators=separators, ensure_ascii=ensure_ascii, default=default)
    if indent is None:
        item, key = separators or (", ", ": ")
        return "".join(_encoder(item, key, ensure_ascii, default or _fail)(obj, 0))
    pad = indent if isinstance(indent, str) else " " * indent
    return _pretty(obj, pad, 0, _encoder(",", ": ", ensure_ascii, default or _fail))


def _pretty(obj: object, pad: str, level: int, scalar) -> str:
    inner = "\n" + pad * (level + 1)
    if isinstance(obj, dict) and obj:
        items = (inner + "".join(scalar(str(k), 0)) + ": " + _pretty(v, pad, level + 1, scalar) for k, v in obj.items())
        return "{" + ",".join(items) + "\n" + pad * level + "}"
    if isinstance(obj, (list, tuple)) and obj:
        items = (inner + _pretty(v, pad, level + 1, scalar) for v in obj)
        return "[" + ",".join(items) + "\n" + pad * level + "]"
    return "".join(scalar(obj, 0))
