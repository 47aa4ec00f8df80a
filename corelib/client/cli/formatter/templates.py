"""A Go text/template subset, as docker/cli's --format flags use it: `{{.Field.Sub}}`, `{{json .}}`,
`{{index .Labels "k"}}`, pipelines, `{{if}}`/`{{else}}`/`{{range}}`/`{{with}}`/`{{end}}`, variables,
`{{- -}}` trimming and docker's extra functions (json, join, split, lower, upper, title, pad,
truncate, println). Data is dicts (the daemon's JSON) or objects whose attributes are the fields."""

from __future__ import annotations

import json
import re
from collections.abc import Callable


class TemplateError(ValueError):
    pass


class _Missing:
    """A map key that is not there: prints as Go does, `<no value>`."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<field>(?:\$[A-Za-z0-9_]*)?(?:\.[A-Za-z0-9_]+)+|\.)
  | (?P<var>\$[A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[()|,])
""", re.VERBOSE)


def go_string(value: object) -> str:
    """fmt.Sprint of a value decoded from JSON (or a context's field)."""
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_string(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def go_json(value: object) -> str:
    """encoding/json.Marshal: compact, `<`, `>`, `&` escaped as Go does."""
    if hasattr(value, "to_json"):
        value = value.to_json()
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def truth(value: object) -> bool:
    return value is not MISSING and bool(value)


def _index(item: object, *keys: object) -> object:
    for key in keys:
        if isinstance(item, dict):
            item = item.get(key, MISSING)
        elif isinstance(item, list | tuple | str):
            item = item[int(key)]
        else:
            raise TemplateError(f"can't index item of type {type(item).__name__}")
    return item


def _pad(s: object, before: int, after: int) -> str:
    text = go_string(s)
    return " " * before + text + " " * after if text else text


def _truncate(s: object, n: int) -> str:
    text = go_string(s)
    return text[:n] if len(text) > n else text


def _title(s: object) -> str:
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), go_string(s))


def _cmp(op: Callable[[object, object], bool]) -> Callable[..., bool]:
    def compare(a: object, *bs: object) -> bool:
        return any(op(a, b) for b in bs) if op is _eq else op(a, bs[0])
    return compare


def _eq(a: object, b: object) -> bool:
    return a == b


FUNCS: dict[str, Callable[..., object]] = {
    "json": go_json,
    "join": lambda items, sep: sep.join(go_string(i) for i in (items or [])),
    "split": lambda s, sep: go_string(s).split(sep),
    "lower": lambda s: go_string(s).lower(),
    "upper": lambda s: go_string(s).upper(),
    "title": _title,
    "pad": _pad,
    "truncate": _truncate,
    "println": lambda *a: " ".join(go_string(x) for x in a) + "\n",
    "print": lambda *a: "".join(go_string(x) for x in a),
    "printf": lambda fmt, *a: _printf(fmt, a),
    "index": _index,
    "len": lambda v: len(v),
    "eq": _cmp(_eq),
    "ne": _cmp(lambda a, b: a != b),
    "lt": _cmp(lambda a, b: a < b),
    "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b),
    "ge": _cmp(lambda a, b: a >= b),
    "not": lambda v: not truth(v),
    "and": lambda *a: next((v for v in a if not truth(v)), a[-1]),
    "or": lambda *a: next((v for v in a if truth(v)), a[-1]),
}

# docker/cli's HeaderFunctions: when a table's header row is rendered, the functions pass it through.
HEADER_FUNCS = {**FUNCS, **{name: (lambda v, *_: v) for name in
                            ("json", "split", "join", "title", "lower", "upper", "truncate", "pad")}}


def _printf(fmt: str, args: tuple) -> str:
    values = iter(args)
    return re.sub(r"%[-+ #0]*\d*(?:\.\d+)?([vsdqtxf%])",
                  lambda m: "%" if m.group(1) == "%" else (
                      json.dumps(go_string(next(values))) if m.group(1) == "q" else go_string(next(values))),
                  fmt)


# -- parsing -----------------------------------------------------------------------------------

class _Node:
    pass


class _Text(_Node):
    def __init__(self, text: str):
        self.text = text


class _Action(_Node):
    def __init__(self, pipe: _Pipe):
        self.pipe = pipe


class _Branch(_Node):
    def __init__(self, kind: str, pipe: _Pipe):
        self.kind, self.pipe = kind, pipe
        self.body: list[_Node] = []
        self.orelse: list[_Node] = []


class _Pipe:
    def __init__(self, decl: list[str], cmds: list[list[tuple[str, str]]], assign: bool = False):
        self.decl, self.cmds, self.assign = decl, cmds, assign


def _lex(source: str) -> list[tuple[str, str]]:
    """Split into ("text", s) and ("action", s), applying `{{-` / `-}}` trimming."""
    items: list[tuple[str, str]] = []
    pos = 0
    while True:
        start = source.find("{{", pos)
        if start < 0:
            items.append(("text", source[pos:]))
            return items
        end = source.find("}}", start + 2)
        if end < 0:
            raise TemplateError("template: unclosed action")
        text = source[pos:start]
        inner = source[start + 2:end]
        if inner.startswith("- ") or inner.startswith("-\t") or inner.startswith("-\n"):
            text, inner = text.rstrip(), inner[1:]
        pos = end + 2
        if inner.endswith(" -") or inner.endswith("\t-") or inner.endswith("\n-"):
            inner = inner[:-1]
            rest = source[pos:]
            pos += len(rest) - len(rest.lstrip())
        items.append(("text", text))
        items.append(("action", inner.strip()))


def _tokens(action: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(action):
        m = _TOKEN.match(action, pos)
        if m is None:
            raise TemplateError(f"template: unexpected {action[pos]!r} in command")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def _parse_pipe(tokens: list[tuple[str, str]]) -> _Pipe:
    decl: list[str] = []
    assign = False
    for i, (kind, _) in enumerate(tokens):
        if kind in ("decl", "assign"):
            decl = [v for k, v in tokens[:i] if k == "var"]
            assign = kind == "assign"
            tokens = tokens[i + 1:]
            break
    cmds: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for tok in tokens:
        if tok == ("punct", "|") and depth == 0:
            cmds.append([])
            continue
        if tok[1] == "(":
            depth += 1
        elif tok[1] == ")":
            depth -= 1
        cmds[-1].append(tok)
    if not all(cmds):
        raise TemplateError("template: missing value for command")
    return _Pipe(decl, cmds, assign)


def parse(source: str) -> list[_Node]:
    root: list[_Node] = []
    stack: list[_Branch] = []
    target = root
    for kind, value in _lex(source):
        if kind == "text":
            if value:
                target.append(_Text(value))
            continue
        if value.startswith("/*"):
            continue
        toks = _tokens(value)
        if not toks:
            raise TemplateError("template: missing value for command")
        head = toks[0]
        if head == ("ident", "end"):
            if not stack:
                raise TemplateError("template: unexpected {{end}}")
            stack.pop()
            target = _current(root, stack)
        elif head == ("ident", "else"):
            if not stack:
                raise TemplateError("template: unexpected {{else}}")
            opened = stack[-1]
            if toks[1:2] == [("ident", "if")]:
                inner = _Branch("if", _parse_pipe(toks[2:]))
                opened.orelse_target().append(inner)
                stack[-1] = _ChainEnd(opened.branch, inner)
                target = inner.body
            else:
                target = stack[-1].orelse_target()
        elif head[1] in ("if", "range", "with") and head[0] == "ident":
            branch = _Branch(head[1], _parse_pipe(toks[1:]))
            target.append(branch)
            stack.append(_Open(branch))
            target = branch.body
        else:
            target.append(_Action(_parse_pipe(toks)))
    if stack:
        raise TemplateError("template: unexpected EOF")
    return root


class _Open:
    """An open {{if}}/{{range}}/{{with}} while parsing: where its text goes now."""

    def __init__(self, branch: _Branch):
        self.branch = branch
        self.in_else = False

    def orelse_target(self) -> list[_Node]:
        self.in_else = True
        return self.branch.orelse

    def target(self) -> list[_Node]:
        return self.branch.orelse if self.in_else else self.branch.body


class _ChainEnd(_Open):
    """`{{else if}}`: the chained branch takes the text; one {{end}} closes the whole chain."""

    def __init__(self, outer: _Branch, inner: _Branch):
        super().__init__(outer)
        self.inner = inner

    def orelse_target(self) -> list[_Node]:
        self.in_else = True
        return self.inner.orelse

    def target(self) -> list[_Node]:
        return self.inner.orelse if self.in_else else self.inner.body


def _current(root: list[_Node], stack: list) -> list[_Node]:
    return stack[-1].target() if stack else root


# -- execution ---------------------------------------------------------------------------------

class Template:
    def __init__(self, source: str, funcs: dict[str, Callable[..., object]] | None = None):
        self.source = source
        self.funcs = funcs or FUNCS
        self.nodes = parse(source)

    def execute(self, data: object, funcs: dict[str, Callable[..., object]] | None = None) -> str:
        out: list[str] = []
        _Exec(funcs or self.funcs, {"$": data}).run(self.nodes, data, out)
        return "".join(out)


class _Exec:
    def __init__(self, funcs: dict[str, Callable[..., object]], variables: dict[str, object]):
        self.funcs, self.vars = funcs, variables

    def run(self, nodes: list[_Node], dot: object, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                out.append(node.text)
            elif isinstance(node, _Action):
                value = self.pipe(node.pipe, dot)
                if not node.pipe.decl:
                    out.append(go_string(value))
            elif isinstance(node, _Branch):
                self.branch(node, dot, out)

    def branch(self, node: _Branch, dot: object, out: list[str]) -> None:
        value = self.pipe(node.pipe, dot) if node.kind != "range" or not node.pipe.decl else None
        if node.kind == "range":
            self.range(node, dot, out)
        elif node.kind == "if":
            self.run(node.body if truth(value) else node.orelse, dot, out)
        elif truth(value):
            self.run(node.body, value, out)
        else:
            self.run(node.orelse, dot, out)

    def range(self, node: _Branch, dot: object, out: list[str]) -> None:
        decl = node.pipe.decl
        value = self.pipe(_Pipe([], node.pipe.cmds), dot)
        items = sorted(value.items()) if isinstance(value, dict) else list(enumerate(value or []))
        if not items:
            self.run(node.orelse, dot, out)
        for key, item in items:
            if len(decl) == 2:
                self.vars[decl[0]], self.vars[decl[1]] = key, item
            elif len(decl) == 1:
                self.vars[decl[0]] = item
            self.run(node.body, item, out)

    def pipe(self, pipe: _Pipe, dot: object) -> object:
        value: object = MISSING
        for n, cmd in enumerate(pipe.cmds):
            value = self.command(cmd, dot, None if n == 0 else (value,))
        for name in pipe.decl:
            self.vars[name] = value
        return value

    def command(self, toks: list[tuple[str, str]], dot: object, piped: tuple | None) -> object:
        kind, text = toks[0]
        if kind == "ident" and text not in ("true", "false", "nil"):
            fn = self.funcs.get(text)
            if fn is None:
                raise TemplateError(f'template: function "{text}" not defined')
            args = self.operands(toks[1:], dot) + list(piped or ())
            try:
                return fn(*args)
            except TemplateError:
                raise
            except Exception as e:  # a Go template function's error stops the execution
                raise TemplateError(f"template: error calling {text}: {e}") from None
        if kind == "field" and len(toks) > 1:  # a method with arguments: {{.Label "k"}}
            owner, _, method = text.rpartition(".")
            target = dot if not owner else self.operand("field" if "." in owner else "var", owner, dot)
            return call_method(target, method, self.operands(toks[1:], dot) + list(piped or ()))
        values = self.operands(toks, dot)
        if len(values) != 1 or piped:
            raise TemplateError(f"template: can't give argument to non-function {text}")
        return values[0]

    def operands(self, toks: list[tuple[str, str]], dot: object) -> list[object]:
        values: list[object] = []
        i = 0
        while i < len(toks):
            kind, text = toks[i]
            if text == "(":
                depth, j = 1, i + 1
                while depth:
                    depth += {"(": 1, ")": -1}.get(toks[j][1], 0) if toks[j][0] == "punct" else 0
                    j += 1
                values.append(self.pipe(_parse_pipe(toks[i + 1:j - 1]), dot))
                i = j
                continue
            values.append(self.operand(kind, text, dot))
            i += 1
        return values

    def operand(self, kind: str, text: str, dot: object) -> object:
        if kind == "field":
            base, _, path = text.partition(".") if text.startswith("$") else ("", "", text[1:])
            value = dot if not base else self.variable(base)
            for name in path.split(".") if path else ():
                value = field(value, name)
            return value
        if kind == "var":
            return self.variable(text)
        if kind == "string":
            return json.loads(text)
        if kind == "raw":
            return text[1:-1]
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "ident":
            return {"true": True, "false": False, "nil": None}[text]
        raise TemplateError(f"template: unexpected {text}")

    def variable(self, name: str) -> object:
        if name not in self.vars:
            raise TemplateError(f"template: undefined variable: {name}")
        return self.vars[name]


def call_method(target: object, name: str, args: list[object]) -> object:
    method = getattr(target, name, None)
    if not callable(method) or isinstance(target, dict):
        raise TemplateError(f"template: can't give argument to non-function .{name}")
    return method(*args)


def field(value: object, name: str) -> object:
    if isinstance(value, dict):
        return value.get(name, MISSING)
    if value is None or value is MISSING:
        raise TemplateError(f"template: nil pointer evaluating interface {{}}.{name}")
    attr = getattr(value, name, MISSING)
    if attr is MISSING:
        raise TemplateError(f"template: can't evaluate field {name} in type {type(value).__name__}")
    return attr() if callable(attr) else attr
