"""Output as docker/cli formats it: Go's tabwriter, go-units sizes and durations, Go templates, JSON."""

from __future__ import annotations

from collections.abc import Iterable


class HeaderContext:
    """What a table's header row sees: every field is its column title."""

    def __init__(self, headers: dict[str, str]):
        self._headers = headers

    def __getattr__(self, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: self._headers.get(name, "")


def format_template(fmt: str, error_prefix: str = "template parsing error") -> object:
    """A --format flag's template (`json` is `{{json .}}`); a bad one is docker's status 64 error."""
    from corelib.client.cli.command import StatusError
    from corelib.client.cli.formatter.templates import Template, TemplateError

    try:
        return Template("{{json .}}" if fmt == "json" else fmt)
    except TemplateError as e:
        raise StatusError(64, f"{error_prefix}: {e}") from None


def render(fmt: str, items: Iterable[object], headers: dict[str, str]) -> str:
    """formatter.Context.Write: `table ...` (a header row, then tab-aligned rows), `json`, or a
    template, one line per item."""
    from corelib.client.cli.formatter.tabwriter import tabulate
    from corelib.client.cli.formatter.templates import HEADER_FUNCS, Template

    if fmt == "json":
        fmt = "{{json .}}"
    table = fmt.startswith("table")
    if table:
        fmt = fmt[len("table"):]
    fmt = fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    template = Template(fmt)
    body = "".join(template.execute(item) + "\n" for item in items)
    if not table:
        return body
    header = template.execute(HeaderContext(headers), funcs=HEADER_FUNCS)
    return tabulate(header + "\n" + body)
