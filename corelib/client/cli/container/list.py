"""`whale ps`: the container table (or --format, -q), as docker/cli's formatter writes it."""

from __future__ import annotations

import time

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.cli.formatter import render
from corelib.client.cli.formatter.gotime import go_time_string
from corelib.errdefs import WhaleError
from corelib.gounits import human_duration, human_size_with_precision

DEFAULT_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
           "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
           "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
           "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS"}


def ellipsis(s: str, width: int) -> str:
    """formatter.Ellipsis: at most `width` cells, the last one `…` when cut."""
    if width <= 0:
        return ""
    if width == 1:
        return s[:1]
    return s if len(s) <= width else s[:width - 1] + "…"


class ContainerContext:
    """The fields a ps template sees (docker's ContainerContext)."""

    def __init__(self, c: dict, trunc: bool):
        self.c, self.trunc = c, trunc

    def ID(self) -> str:  # noqa: N802 - template field names are Go's
        return self.c["Id"][:12] if self.trunc else self.c["Id"]

    def Names(self) -> str:  # noqa: N802
        names = [n[1:] for n in self.c.get("Names") or []]
        if self.trunc:
            names = next(([n] for n in names if "/" not in n), names)
        return ",".join(names)

    def Image(self) -> str:  # noqa: N802
        image = self.c.get("Image") or ""
        if not image:
            return "<no image>"
        if self.trunc:
            image_id = (self.c.get("ImageID") or "").removeprefix("sha256:")[:12]
            if image_id and image_id == image.removeprefix("sha256:")[:12]:
                return image_id
            from corelib.images.reference import parse_normalized_named

            try:
                ref = parse_normalized_named(image)
            except (ValueError, WhaleError):
                return image
            return ref.familiar_name + (f":{ref.tag}" if ref.tag else "")
        return image

    def Command(self) -> str:  # noqa: N802
        import json

        command = self.c.get("Command") or ""
        if self.trunc:
            command = ellipsis(command, 20)
        return json.dumps(command, ensure_ascii=False)

    def CreatedAt(self) -> str:  # noqa: N802
        return go_time_string(int(self.c.get("Created") or 0))

    def RunningFor(self) -> str:  # noqa: N802
        return human_duration(time.time() - int(self.c.get("Created") or 0)) + " ago"

    def Ports(self) -> str:  # noqa: N802
        return displayable_ports(self.c.get("Ports") or [])

    def State(self) -> str:  # noqa: N802
        return self.c.get("State") or ""

    def Status(self) -> str:  # noqa: N802
        return self.c.get("Status") or ""

    def Size(self) -> str:  # noqa: N802
        rw = human_size_with_precision(self.c.get("SizeRw") or 0, 3)
        root = self.c.get("SizeRootFs") or 0
        return f"{rw} (virtual {human_size_with_precision(root, 3)})" if root > 0 else rw

    def Labels(self) -> str:  # noqa: N802
        return ",".join(sorted(f"{k}={v}" for k, v in (self.c.get("Labels") or {}).items()))

    def Label(self, name: str) -> str:  # noqa: N802
        return (self.c.get("Labels") or {}).get(name, "")

    def Mounts(self) -> str:  # noqa: N802
        names = [m.get("Name") or m.get("Source", "") for m in self.c.get("Mounts") or []]
        return ",".join(ellipsis(n, 15) if self.trunc else n for n in names)

    def LocalVolumes(self) -> str:  # noqa: N802
        return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Driver") == "local"))

    def Networks(self) -> str:  # noqa: N802
        return ",".join(((self.c.get("NetworkSettings") or {}).get("Networks") or {}).keys())

    def Platform(self) -> None:  # noqa: N802 - the image manifest's platform (API 1.46+): none here
        return None

    def to_json(self) -> dict:
        return {name: getattr(self, name)() for name in sorted([*HEADERS, "Platform"])}


def displayable_ports(ports: list[dict]) -> str:
    """DisplayablePorts, for the mappings a container has (none without a bridge network)."""
    out = []
    for p in sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP", ""), p.get("Type", ""))):
        if p.get("IP") and p.get("PublicPort"):
            out.append(f"{p['IP']}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}")
        else:
            out.append(f"{p.get('PrivatePort')}/{p.get('Type')}")
    return ", ".join(out)


def flags(fs: FlagSet) -> None:
    fs.bool("quiet", "q", "Only display container IDs")
    fs.bool("size", "s", "Display total file sizes")
    fs.bool("all", "a", "Show all containers (default shows just running)")
    fs.bool("no-trunc", help="Don't truncate output")
    fs.bool("latest", "l", "Show the latest created container (includes all states)")
    fs.int("last", "n", "Show n last created containers (includes all states)", default=-1)
    fs.string("format", help="Format output using a custom template")
    fs.list("filter", "f", "Filter output based on conditions provided")


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    """opts.FilterOpt: `key=value` pairs, a key may repeat."""
    filters: dict[str, list[str]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError("bad format of filter (expected name=value)")
        filters.setdefault(key.strip().lower(), []).append(value.strip())
    return filters


def run_ps(cli: Cli, opts: Options, args: list[str]) -> None:
    fmt = opts.format or cli.config_file.ps_format
    if opts.format and opts.quiet:
        cli.err.write("WARNING: Ignoring custom format, because both --format and --quiet are set.\n")
    limit = 1 if opts.latest and opts.last == -1 else opts.last
    size = opts.size or (not opts.quiet and "size" not in opts.changed and ".Size" in fmt)
    containers = cli.client.containers(all=opts.all, limit=limit, size=size, filters=parse_filters(opts.filter))
    if opts.quiet:
        fmt = "{{.ID}}"
    elif fmt in ("", "table"):
        fmt = DEFAULT_TABLE + ("\t{{.Size}}" if size else "")
    cli.out.write(render(fmt, [ContainerContext(c, not opts.no_trunc) for c in containers], HEADERS))


COMMAND = CommandSpec(name="ps", use="ps [OPTIONS]", short="List containers", run=run_ps, flags=flags,
                      args=("none",), aliases=("ls", "list"))
