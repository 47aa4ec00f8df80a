"""containerd's filter syntax: `<fieldpath>[<op><value>]` selectors joined by `,` (all must match);
several filter strings match if any one does. Operators `==`, `!=`, `~=` (regular expression); no
operator tests presence. Field path parts and values may be quoted with `"`; regular expressions
also with `/.../` or `|...|`, e.g. `namespace==moby,topic~=|^/tasks/|`.

An adaptor is a callable taking the field path (a list of strings) and returning the value or None.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from corelib.errdefs import InvalidArgument

Adaptor = Callable[[list[str]], "str | None"]

_QUOTES = '"/|'
_OPERATORS = "=!~"
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


class FilterSyntaxError(ValueError):
    pass


@dataclass
class Selector:
    fieldpath: list[str]
    operator: str = "?"
    value: str = ""
    regex: re.Pattern[str] | None = None

    def match(self, adaptor: Adaptor) -> bool:
        value = adaptor(self.fieldpath)
        if self.operator == "?":
            return value is not None
        if self.operator == "==":
            return value is not None and value == self.value
        if self.operator == "!=":
            return (value or "") != self.value
        return self.regex is not None and self.regex.search(value or "") is not None


class Filter:
    """Any of several alternatives, each a list of selectors that must all match."""

    def __init__(self, alternatives: list[list[Selector]]):
        self.alternatives = alternatives

    def match(self, adaptor: Adaptor) -> bool:
        if not self.alternatives:
            return True
        return any(all(s.match(adaptor) for s in selectors) for selectors in self.alternatives)


def parse_all(filters: list[str] | tuple[str, ...]) -> Filter:
    """Parse the filter strings of a List/Subscribe request (InvalidArgument on a syntax error)."""
    alternatives = []
    for text in filters:
        if text == "":
            return Filter([])  # an empty filter matches everything
        try:
            alternatives.append(_Parser(text).selectors())
        except FilterSyntaxError as e:
            raise InvalidArgument(f"filters: parse error: [{text}]: {e}: invalid argument") from None
    return Filter(alternatives)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.after_operator = False

    def selectors(self) -> list[Selector]:
        found = [self.selector()]
        while True:
            kind, token = self.scan()
            if kind == "eof":
                return found
            if token != ",":
                raise FilterSyntaxError(f"unexpected input: {token}")
            found.append(self.selector())

    def selector(self) -> Selector:
        fieldpath = self.fieldpath()
        kind, token = self.peek()
        if kind == "eof" or token == ",":
            return Selector(fieldpath)
        kind, op = self.scan()
        if kind != "operator":
            raise FilterSyntaxError('expected an operator ("=="|"!="|"~=")')
        if op not in ("==", "!=", "~="):
            raise FilterSyntaxError(f'unsupported operator "{op}"')
        kind, token = self.scan()
        if kind == "quoted":
            if op != "~=" and token[0] != '"':
                raise FilterSyntaxError("invalid quote encountered")
            value = _unquote(token)
        elif kind in ("value", "field"):
            value = token
        else:
            raise FilterSyntaxError("expected value or quoted")
        selector = Selector(fieldpath, op, value)
        if op == "~=":
            try:
                selector.regex = re.compile(value)
            except re.error as e:
                raise FilterSyntaxError(f"invalid regular expression {value!r}: {e}") from None
        return selector

    def fieldpath(self) -> list[str]:
        path = [self.field()]
        while self.peek()[1] == ".":
            self.scan()
            path.append(self.field())
        return path

    def field(self) -> str:
        kind, token = self.scan()
        if kind == "field":
            return token
        if kind == "quoted" and token[0] == '"':
            return _unquote(token)
        raise FilterSyntaxError("expected field or quoted")

    def peek(self) -> tuple[str, str]:
        saved = (self.pos, self.after_operator)
        try:
            return self.scan()
        finally:
            self.pos, self.after_operator = saved

    def scan(self) -> tuple[str, str]:
        text = self.text
        while self.pos < len(text) and text[self.pos].isspace():
            self.pos += 1
        if self.pos >= len(text):
            return "eof", ""
        start, ch = self.pos, text[self.pos]
        if ch == "\0":
            raise FilterSyntaxError("unexpected null")
        if ch in _QUOTES:
            return "quoted", self._scan_quoted(ch)
        self.pos += 1
        if ch in ",.":
            self.after_operator = False
            return "separator", ch
        if ch in _OPERATORS:
            while self.pos < len(text) and text[self.pos] in _OPERATORS:
                self.pos += 1
            self.after_operator = True
            return "operator", text[start:self.pos]
        if self.after_operator:
            while self.pos < len(text) and text[self.pos] != "," and not text[self.pos].isspace():
                self.pos += 1
            self.after_operator = False
            return "value", text[start:self.pos]
        if _is_field_char(ch):
            while self.pos < len(text) and _is_field_char(text[self.pos]):
                self.pos += 1
            return "field", text[start:self.pos]
        return "illegal", ch

    def _scan_quoted(self, quote: str) -> str:
        start = self.pos
        self.pos += 1
        while True:
            if self.pos >= len(self.text) or self.text[self.pos] == "\n":
                raise FilterSyntaxError("quoted literal not terminated")
            ch = self.text[self.pos]
            self.pos += 2 if ch == "\\" else 1
            if ch == quote:
                return self.text[start:self.pos]


def _is_field_char(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _unquote(token: str) -> str:
    quote, body = token[0], token[1:-1]
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = body[i + 1] if i + 1 < len(body) else ""
        if esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        elif esc == quote:
            out.append(quote)
            i += 2
        elif esc in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i + 2:i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise FilterSyntaxError("unquoting failed: illegal escape sequence")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif esc in "01234567" and esc:
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
                raise FilterSyntaxError("unquoting failed: illegal escape sequence")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise FilterSyntaxError("illegal escape sequence")
    return "".join(out)


def check_map(fieldpath: list[str], mapping: Mapping[str, str]) -> str | None:
    """The value of `labels.<key>` style paths: the rest of the path, joined with dots, is the key."""
    return mapping.get(".".join(fieldpath)) if mapping else None


def present(value: str) -> str | None:
    """A string field as an adaptor answers it: absent when empty."""
    return value or None
