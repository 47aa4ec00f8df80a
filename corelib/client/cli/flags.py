"""Command-line flags as spf13/pflag parses them for docker/cli: `--name value`, `--name=value`, `-d`,
combined shorthands (`-it`), `-e=A=B`, `--` and, for run/create/exec, no flags after the first argument.
Errors carry pflag's wording; the caller turns them into docker's usage errors."""

from __future__ import annotations

from collections.abc import Callable


class FlagError(ValueError):
    """A flag pflag would refuse: unknown, missing its value, or a value its type cannot take."""


class Flag:
    """One flag. `kind` is bool | string | int | list | value (converted by `convert`, which also
    validates list items); `min_api` is docker's "version" annotation; `type_name` shows in --help.
    (Plain classes, not dataclasses, here and in the CLI's core: start-up time.)"""

    __slots__ = ("name", "shorthand", "kind", "default", "help", "type_name", "convert", "dest", "min_api",
                 "hidden")

    def __init__(self, name: str, shorthand: str = "", kind: str = "string", default: object = None,
                 help: str = "", type_name: str = "", convert: Callable[[str], object] | None = None,
                 dest: str = "", min_api: str = "", hidden: bool = False):
        self.name, self.shorthand, self.kind, self.default, self.help = name, shorthand, kind, default, help
        self.convert, self.min_api, self.hidden = convert, min_api, hidden
        self.dest = dest or name.replace("-", "_")
        self.type_name = type_name or {"bool": "", "list": "list", "int": "int"}.get(kind, "string")

    @property
    def label(self) -> str:
        return f"-{self.shorthand}, --{self.name}" if self.shorthand else f"--{self.name}"


class Options:
    """Parsed values as attributes (`opts.detach`), and `changed`: the names of flags given."""

    def __init__(self, flags: list[Flag]):
        self.changed: set[str] = set()
        self._flags = flags
        for f in flags:
            setattr(self, f.dest, list(f.default or []) if f.kind == "list" else f.default)

    def __repr__(self) -> str:
        return f"Options({ {k: v for k, v in vars(self).items() if not k.startswith('_')} })"

    def flags(self) -> list[Flag]:
        return self._flags


class FlagSet:
    def __init__(self, interspersed: bool = True):
        self.interspersed = interspersed
        self.flags: list[Flag] = []

    def add(self, flag: Flag) -> Flag:
        self.flags.append(flag)
        return flag

    def bool(self, name: str, shorthand: str = "", help: str = "", default: bool = False, **kw) -> Flag:
        return self.add(Flag(name, shorthand, "bool", default, help, **kw))

    def string(self, name: str, shorthand: str = "", help: str = "", default: str = "", **kw) -> Flag:
        return self.add(Flag(name, shorthand, "string", default, help, **kw))

    def int(self, name: str, shorthand: str = "", help: str = "", default: int = 0, **kw) -> Flag:
        return self.add(Flag(name, shorthand, "int", default, help, **kw))

    def list(self, name: str, shorthand: str = "", help: str = "", **kw) -> Flag:
        return self.add(Flag(name, shorthand, "list", [], help, **kw))

    def value(self, name: str, shorthand: str = "", help: str = "", convert: Callable[[str], object] | None = None,
              default: object = None, type_name: str = "string", **kw) -> Flag:
        return self.add(Flag(name, shorthand, "value", default, help, type_name, convert, **kw))

    def lookup(self, name: str) -> Flag | None:
        return next((f for f in self.flags if f.name == name), None)

    def lookup_short(self, c: str) -> Flag | None:
        return next((f for f in self.flags if f.shorthand == c), None)

    def parse(self, args: list[str]) -> tuple[Options, list[str]]:
        opts = Options(self.flags)
        positional: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                positional.extend(args[i:])
                break
            if not arg.startswith("-") or arg == "-":
                positional.append(arg)
                if not self.interspersed:
                    positional.extend(args[i:])
                    break
                continue
            parse_one = self._parse_long if arg.startswith("--") else self._parse_shorts
            i = parse_one(opts, arg, args, i)
        return opts, positional

    def _parse_long(self, opts: Options, arg: str, args: list[str], i: int) -> int:
        name, has_value, value = arg[2:].partition("=")
        flag = self.lookup(name)
        if flag is None or not name:
            raise FlagError(f"unknown flag: --{name}")
        if not has_value and flag.kind != "bool":
            if i >= len(args):
                raise FlagError(f"flag needs an argument: --{name}")
            value, i = args[i], i + 1
        self._set(opts, flag, value if (has_value or flag.kind != "bool") else "true")
        return i

    def _parse_shorts(self, opts: Options, arg: str, args: list[str], i: int) -> int:
        shorts = arg[1:]
        while shorts:
            c, shorts = shorts[0], shorts[1:]
            flag = self.lookup_short(c)
            if flag is None:
                raise FlagError(f"unknown shorthand flag: '{c}' in -{arg[1:]}")
            if shorts.startswith("="):
                self._set(opts, flag, shorts[1:])
                return i
            if flag.kind == "bool":
                self._set(opts, flag, "true")
                continue
            if shorts:
                self._set(opts, flag, shorts)
                return i
            if i >= len(args):
                raise FlagError(f"flag needs an argument: '{c}' in -{c}")
            self._set(opts, flag, args[i])
            return i + 1
        return i

    def _set(self, opts: Options, flag: Flag, raw: str) -> None:
        try:
            value = convert(flag, raw)
        except ValueError as e:
            raise FlagError(f'invalid argument "{raw}" for "{flag.label}" flag: {e}') from None
        if flag.kind == "list":
            getattr(opts, flag.dest).append(value)
        else:
            setattr(opts, flag.dest, value)
        opts.changed.add(flag.name)

    def usages(self) -> str:
        """The options block of --help, laid out as pflag's FlagUsages."""
        rows = []
        for f in self.flags:
            if f.hidden:
                continue
            left = f"  -{f.shorthand}, --{f.name}" if f.shorthand else f"      --{f.name}"
            if f.type_name:
                left += f" {f.type_name}"
            help_text = f.help
            if f.kind in ("string", "int", "value") and f.default not in (None, "", 0):
                help_text += f' (default "{f.default}")' if f.kind == "string" else f" (default {f.default})"
            rows.append((left, help_text))
        width = max((len(left) for left, _ in rows), default=0)
        return "".join(f"{left.ljust(width)}   {text}\n" for left, text in rows)


def convert(flag: Flag, raw: str) -> object:
    if flag.kind == "bool":
        return parse_bool(raw)
    if flag.kind == "int":
        return parse_int(raw)
    if flag.convert is not None:
        return flag.convert(raw)
    return raw


def parse_bool(raw: str) -> bool:
    """Go's strconv.ParseBool."""
    if raw in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if raw in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{raw}": invalid syntax')


def parse_int(raw: str) -> int:
    """Go's strconv.ParseInt(raw, 0, 64), as pflag's int flags use it."""
    digits = raw.lstrip("+-")
    if digits.isdigit() and digits.isascii():
        return int(raw, 10)
    if digits[:2].lower() in ("0x", "0o", "0b") and len(digits) > 2:
        try:
            return int(raw, 0)
        except ValueError:
            pass
    raise ValueError(f'strconv.ParseInt: parsing "{raw}": invalid syntax')
