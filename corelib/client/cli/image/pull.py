"""`whale pull` and the pull createContainer makes: POST /images/create?fromImage=&tag=, progress shown."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.cli.streams import OutStream, discard
from corelib.errdefs import WhaleError


def pull_reference(cli: Cli, image: str, out: OutStream, platform: str | None = None) -> None:
    """ImageCreate as docker's client makes it: the familiar name, the tag (or digest), auth."""
    from corelib.client.cli.jsonmessage import display_stream
    from corelib.client.cli.refs import parse_named, tag_name_only

    ref = parse_named(image)
    tag = ref.digest or tag_name_only(ref).tag
    auth = cli.config_file.encoded_auth(ref.domain)
    resp = cli.client.pull(ref.familiar_name, tag, auth, platform or None)
    display_stream(resp.iter_json(), out)


def flags(fs: FlagSet) -> None:
    fs.bool("all-tags", "a", "Download all tagged images in the repository")
    fs.bool("quiet", "q", "Suppress verbose output")
    fs.string("platform", help="Set platform if server is multi-platform capable", min_api="1.32")
    fs.bool("disable-content-trust", help="Skip image verification", default=True, hidden=True)


def run_pull(cli: Cli, opts: Options, args: list[str]) -> None:
    from corelib.client.cli.jsonmessage import display_stream
    from corelib.client.cli.refs import parse_named, tag_name_only

    try:
        ref = parse_named(args[0])
    except (ValueError, WhaleError) as e:
        raise StatusError(1, str(e)) from None
    if opts.all_tags and not ref.is_name_only():
        raise StatusError(1, "tag can't be used with --all-tags/-a")
    if not opts.all_tags and ref.is_name_only():
        ref = tag_name_only(ref)
        if not opts.quiet:
            cli.out.println(f"Using default tag: {ref.tag}")
    tag = None if opts.all_tags else (ref.digest or ref.tag)
    resp = cli.client.pull(ref.familiar_name, tag, cli.config_file.encoded_auth(ref.domain), opts.platform or None)
    out = discard() if opts.quiet else cli.out
    display_stream(resp.iter_json(), out)
    cli.out.println(ref.string())


COMMAND = CommandSpec(name="pull", use="pull [OPTIONS] NAME[:TAG|@DIGEST]",
                      short="Download an image from a registry", run=run_pull, flags=flags, args=("exact", 1))
