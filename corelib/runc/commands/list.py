"""`list`: every container under --root, as a table (tabwriter: min width 12, padding 3) or JSON."""

from corelib.runc.cli import Flag
from corelib.runc.errors import RuncError

USAGE = ""
ARGS = (0, 0)
FLAGS = (
    Flag("format, f", str, "table", "select one of: table or json (default: \"table\")"),
    Flag("quiet, q", bool, False, "display only container IDs"),
)


def owner_name(uid: int) -> str:
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.split(":")
                if len(fields) > 2 and fields[2] == str(uid):
                    return fields[0]
    except OSError:
        pass
    return f"#{uid}"


def states(root: str) -> list[dict]:
    import os
    import sys

    from corelib.runc.container import Container, list_ids

    out = []
    for container_id in list_ids(root):
        try:
            container = Container.load(root, container_id)
            state = container.state_json(owner_name(os.stat(container.dir).st_uid))
        except RuncError as e:
            sys.stderr.write(f"load container {container_id}: {e}\n")
            continue
        out.append(state)
    return out


def table(rows: list[list[str]]) -> str:
    widths = [max(12, *(len(r[i]) + 3 for r in rows)) for i in range(len(rows[0]) - 1)]
    return "".join("".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + r[-1] + "\n" for r in rows)


def run(ctx, opts: dict, args: list[str]) -> int:
    import sys

    from corelib import jsonlite as json

    items = states(ctx.root)
    if opts["quiet"]:
        sys.stdout.write("".join(s["id"] + "\n" for s in items))
    elif opts["format"] == "table":
        rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
        rows += [[s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"]] for s in items]
        sys.stdout.write(table(rows))
    elif opts["format"] == "json":
        sys.stdout.write(json.dumps(items or None, separators=(",", ":")) + "\n")
    else:
        raise RuncError("invalid format option")
    return 0
