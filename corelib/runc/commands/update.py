"""`update [--resources FILE|-] [--memory N ...] ID`: change the cgroup limits of a live container.
Zero or absent values leave a limit as it was; device rules are never changed (as in runc)."""

from corelib.runc.cli import Flag
from corelib.runc.errors import RuncError

USAGE = "<container-id>"
ARGS = (1, 1)
FLAGS = (
    Flag("resources, r", str, "", "path to the file containing the resources to update or '-' to read from stdin"),
    Flag("blkio-weight", int, 0, "Specifies per cgroup weight, range is from 10 to 1000"),
    Flag("cpu-period", str, "", "CPU CFS period to be used for hardcapping (in usecs)"),
    Flag("cpu-quota", str, "", "CPU CFS hardcap limit (in usecs)"),
    Flag("cpu-share", str, "", "CPU shares (relative weight vs. other containers)"),
    Flag("cpu-rt-period", str, "", "CPU realtime period to be used for hardcapping (in usecs)"),
    Flag("cpu-rt-runtime", str, "", "CPU realtime hardcap limit (in usecs)"),
    Flag("cpuset-cpus", str, "", "CPU(s) to use"),
    Flag("cpuset-mems", str, "", "Memory node(s) to use"),
    Flag("memory", str, "", "Memory limit (in bytes)"),
    Flag("memory-reservation", str, "", "Memory reservation or soft_limit (in bytes)"),
    Flag("memory-swap", str, "", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"),
    Flag("pids-limit", int, 0, "Maximum number of pids allowed in the container"),
)

UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(value: str) -> int:
    """docker/go-units RAMInBytes: "512m", "1.5g", "100" (bytes)."""
    text = value.strip().lower()
    if text == "-1":
        return -1
    number = text.rstrip("bkmgtpi")
    unit = text[len(number):].rstrip("b").rstrip("i") or "b"
    if unit not in UNITS:
        raise ValueError(f"invalid suffix: '{text[len(number):]}'")
    return int(float(number) * UNITS[unit])


def resources_from_flags(opts: dict) -> dict:
    def integer(flag: str, parse=int) -> int:
        try:
            return parse(opts[flag]) if opts[flag] else 0
        except ValueError as e:
            raise RuncError(f"invalid value for {flag}: {e}") from None

    return {
        "memory": {"limit": integer("memory", ram_in_bytes), "reservation": integer("memory-reservation", ram_in_bytes),
                   "swap": integer("memory-swap", ram_in_bytes)},
        "cpu": {"shares": integer("cpu-share"), "quota": integer("cpu-quota"), "period": integer("cpu-period"),
                "realtimeRuntime": integer("cpu-rt-runtime"), "realtimePeriod": integer("cpu-rt-period"),
                "cpus": opts["cpuset-cpus"], "mems": opts["cpuset-mems"]},
        "blockIO": {"weight": opts["blkio-weight"]},
        "pids": {"limit": opts["pids-limit"]},
    }


def merge(current: dict, update: dict) -> dict:
    """Non-zero, non-empty values of `update` over `current`, one level of sections deep."""
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in current.items()}
    for section, values in update.items():
        if isinstance(values, dict):
            target = merged.setdefault(section, {})
            target.update({k: v for k, v in values.items() if v not in (0, "", None)})
        elif values:
            merged[section] = values
    return merged


def run(ctx, opts: dict, args: list[str]) -> int:
    import sys

    from corelib import jsonlite as json
    from corelib.runc.container import STOPPED, Container
    from corelib.runc.errors import NOT_RUNNING

    container = Container.load(ctx.root, args[0])
    if opts["resources"]:
        try:
            if opts["resources"] == "-":
                update = json.loads(sys.stdin.read())
            else:
                with open(opts["resources"]) as f:
                    update = json.loads(f.read())
        except ValueError as e:
            raise RuncError(f"invalid resources: {e}") from None
    else:
        update = resources_from_flags(opts)
    if container.status() == STOPPED:
        raise RuncError(NOT_RUNNING)
    update.pop("devices", None)
    linux = container.config.setdefault("linux", {})
    resources = merge(linux.get("resources") or {}, update)
    container.cgroups.set({k: v for k, v in resources.items() if k != "devices"}, None)
    linux["resources"] = resources
    container.save()
    return 0
