"""`whale tag`."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import Options
from corelib.errdefs import WhaleError


def run_tag(cli: Cli, opts: Options, args: list[str]) -> None:
    from corelib.client.cli.refs import parse_any_reference, parse_named, tag_name_only

    source, target = args
    try:
        parse_any_reference(source)
    except (ValueError, WhaleError) as e:
        raise StatusError(1, f'Error parsing reference: "{source}" is not a valid repository/tag: {e}') from None
    try:
        ref = parse_named(target)
    except (ValueError, WhaleError) as e:
        raise StatusError(1, f'Error parsing reference: "{target}" is not a valid repository/tag: {e}') from None
    if ref.digest:
        raise StatusError(1, "refusing to create a tag with a digest reference")
    ref = tag_name_only(ref)
    cli.client.tag(source, ref.familiar_name, ref.tag)


COMMAND = CommandSpec(name="tag", use="tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
                      short="Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", run=run_tag, args=("exact", 2))
