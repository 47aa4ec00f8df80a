"""Flag parsing with runc's (urfave/cli v1) rules, small enough to keep start-up fast.

`-flag` and `--flag` are the same; values come as `--flag value` or `--flag=value`; flags may
follow the positional arguments unless the command keeps its arguments verbatim (`exec`, `ps`).
"""

from corelib.runc.errors import UsageError


class Flag:
    """`names` like "bundle, b": the first is the long name and the key in the parsed options.
    `kind` is str, bool, int or list (a flag that may repeat)."""

    __slots__ = ("names", "kind", "default", "help", "key")

    def __init__(self, names: str, kind: type = str, default: object = None, help: str = ""):
        self.names, self.kind, self.default, self.help = names, kind, default, help
        self.key = names.split(",")[0].strip()


def parse(argv: list[str], flags: tuple[Flag, ...], reorder: bool = True) -> tuple[dict, list[str]]:
    by_name = {n.strip(): f for f in flags for n in f.names.split(",")}
    opts: dict = {f.key: ([] if f.kind is list else f.default) for f in flags}
    args: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            args.extend(argv[i:])
            break
        if not arg.startswith("-") or arg == "-" or (args and not reorder):
            args.append(arg)
            if not reorder:
                args.extend(argv[i:])
                break
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        flag = by_name.get(name)
        if flag is None:
            if name in ("h", "help"):
                raise UsageError("help")
            raise UsageError(f"flag provided but not defined: -{name}")
        if flag.kind is bool:
            opts[flag.key] = value.lower() not in ("false", "0", "f") if eq else True
            continue
        if not eq:
            if i >= len(argv):
                raise UsageError(f"flag needs an argument: -{name}")
            value = argv[i]
            i += 1
        opts[flag.key] = _convert(flag, name, value, opts[flag.key])
    return opts, args


def _convert(flag: Flag, name: str, value: str, current: object) -> object:
    if flag.kind is list:
        return [*current, value]  # type: ignore[misc]
    if flag.kind is int:
        try:
            return int(value, 0)
        except ValueError:
            raise UsageError(f'invalid value "{value}" for flag -{name}: parse error') from None
    return value


def help_text(prog: str, name: str, summary: str, usage: str, flags: tuple[Flag, ...], description: str = "") -> str:
    lines = ["NAME:", f"   {prog} {name} - {summary}", "", "USAGE:", f"   {prog} {name} [command options] {usage}"]
    if description:
        lines += ["", "DESCRIPTION:", "   " + description]
    if flags:
        lines += ["", "OPTIONS:"]
        for f in flags:
            names = ", ".join(("--" if len(n.strip()) > 1 else "-") + n.strip() + ("" if f.kind is bool else " value")
                              for n in f.names.split(","))
            lines.append(f"   {names:<28}{f.help}")
    return "\n".join(lines) + "\n"
