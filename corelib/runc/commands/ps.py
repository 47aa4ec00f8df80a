"""`ps [--format table|json] ID [ps options]`: the container's processes, from its cgroup."""

from corelib.runc.cli import Flag
from corelib.runc.errors import RuncError

USAGE = "<container-id> [ps options]"
ARGS = (1, None)
REORDER = False
FLAGS = (Flag("format, f", str, "table", "select one of: table or json (default: \"table\")"),)


def run(ctx, opts: dict, args: list[str]) -> int:
    import subprocess
    import sys

    from corelib import jsonlite as json
    from corelib.runc.container import Container

    pids = Container.load(ctx.root, args[0]).cgroups.pids()
    if opts["format"] == "json":
        sys.stdout.write(json.dumps(pids, separators=(",", ":")) + "\n")
        return 0
    if opts["format"] != "table":
        raise RuncError("invalid format option")
    result = subprocess.run(["ps", *(args[1:] or ["-ef"])], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuncError(f"exit status {result.returncode}: {result.stdout}{result.stderr}")
    lines = result.stdout.split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise RuncError("couldn't find PID field in ps output")
    index = titles.index("PID")
    wanted = set(pids)
    out = [lines[0]] + [line for line in lines[1:] if line and int(line.split()[index]) in wanted]
    sys.stdout.write("\n".join(out) + "\n")
    return 0
