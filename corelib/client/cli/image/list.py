"""`whale images`: the image table (or --format, -q), one row per repository and tag."""

from __future__ import annotations

import time

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.container.list import parse_filters
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.cli.formatter import render
from corelib.client.cli.formatter.gotime import go_time_string
from corelib.errdefs import WhaleError
from corelib.gounits import human_duration, human_size_with_precision

DEFAULT_TABLE = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t"
                 "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}")
DEFAULT_TABLE_DIGEST = ("table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t"
                        "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}")
HEADERS = {"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
           "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
           "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}


class ImageContext:
    def __init__(self, image: dict, repo: str, tag: str, digest: str, trunc: bool):
        self.i, self.repo, self.tag, self.digest, self.trunc = image, repo, tag, digest, trunc

    def ID(self) -> str:  # noqa: N802 - template field names are Go's
        image_id = self.i.get("Id", "")
        return image_id.removeprefix("sha256:")[:12] if self.trunc else image_id

    def Repository(self) -> str:  # noqa: N802
        return self.repo

    def Tag(self) -> str:  # noqa: N802
        return self.tag

    def Digest(self) -> str:  # noqa: N802
        return self.digest

    def CreatedSince(self) -> str:  # noqa: N802
        created = int(self.i.get("Created") or 0)
        return human_duration(time.time() - created) + " ago"

    def CreatedAt(self) -> str:  # noqa: N802
        return go_time_string(int(self.i.get("Created") or 0))

    def Size(self) -> str:  # noqa: N802
        return human_size_with_precision(self.i.get("Size") or 0, 3)

    VirtualSize = Size

    def Containers(self) -> str:  # noqa: N802
        count = self.i.get("Containers", -1)
        return "N/A" if count == -1 else str(count)

    def SharedSize(self) -> str:  # noqa: N802
        shared = self.i.get("SharedSize", -1)
        return "N/A" if shared == -1 else human_size_with_precision(shared, 3)

    def UniqueSize(self) -> str:  # noqa: N802
        shared = self.i.get("SharedSize", -1)
        if shared == -1:
            return "N/A"
        return human_size_with_precision((self.i.get("Size") or 0) - shared, 3)

    def to_json(self) -> dict:
        return {"Containers": self.Containers(), "CreatedAt": self.CreatedAt(), "CreatedSince": self.CreatedSince(),
                "Digest": self.Digest(), "ID": self.ID(), "Repository": self.Repository(),
                "SharedSize": self.SharedSize(), "Size": self.Size(), "Tag": self.Tag(),
                "UniqueSize": self.UniqueSize(), "VirtualSize": self.Size()}


def by_repository(references: list[str], part: str) -> dict[str, list[str]]:
    """The tags (or digests) of references, grouped by their familiar repository name."""
    from corelib.images.reference import parse_normalized_named

    grouped: dict[str, list[str]] = {}
    for reference in references:
        try:
            ref = parse_normalized_named(reference)
        except (ValueError, WhaleError):
            continue
        if getattr(ref, part):
            grouped.setdefault(ref.familiar_name, []).append(getattr(ref, part))
    return grouped


def image_rows(image: dict, trunc: bool, digests: bool) -> list[ImageContext]:
    """imageFormat: a dangling image is one `<none>` row; else a row per repository and tag."""
    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    repo_digests = [d for d in image.get("RepoDigests") or [] if d != "<none>@<none>"]
    if not tags and not repo_digests:
        return [ImageContext(image, "<none>", "<none>", "<none>", trunc)]
    by_repo_tags = by_repository(tags, "tag")
    by_repo_digests = by_repository(repo_digests, "digest")
    rows = []
    for repo, repo_tags in by_repo_tags.items():
        repo_digest_list = by_repo_digests.pop(repo, []) if digests else []
        by_repo_digests.pop(repo, None)
        for tag in repo_tags:
            for digest in repo_digest_list or ["<none>"]:
                rows.append(ImageContext(image, repo, tag, digest, trunc))
    for repo, repo_digest_list in by_repo_digests.items():
        for digest in repo_digest_list if digests else [""]:
            rows.append(ImageContext(image, repo, "<none>", digest, trunc))
    return rows


def flags(fs: FlagSet) -> None:
    fs.bool("quiet", "q", "Only show image IDs")
    fs.bool("all", "a", "Show all images (default hides intermediate images)")
    fs.bool("digests", help="Show digests")
    fs.list("filter", "f", "Filter output based on conditions provided")
    fs.string("format", help="Format output using a custom template")
    fs.bool("no-trunc", help="Don't truncate output")


def run_images(cli: Cli, opts: Options, args: list[str]) -> None:
    filters = parse_filters(opts.filter)
    if args:
        filters.setdefault("reference", []).append(args[0])
    images = cli.client.images(all=opts.all, filters=filters)
    fmt = opts.format or (cli.config_file.images_format if not opts.quiet else "") or "table"
    if fmt == "table":
        fmt = "{{.ID}}" if opts.quiet else (DEFAULT_TABLE_DIGEST if opts.digests else DEFAULT_TABLE)
    elif fmt.startswith("table") and opts.digests and "{{.Digest}}" not in fmt:
        fmt += "\t{{.Digest}}"
    rows = [row for image in images for row in image_rows(image, not opts.no_trunc, opts.digests or ".Digest" in fmt)]
    cli.out.write(render(fmt, rows, HEADERS))


COMMAND = CommandSpec(name="images", use="images [OPTIONS] [REPOSITORY[:TAG]]", short="List images",
                      run=run_images, flags=flags, args=("range", 0, 1), aliases=("ls", "list"))
