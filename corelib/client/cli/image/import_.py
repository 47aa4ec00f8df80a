"""`whale import`: a root filesystem tarball (file, URL or `-` for stdin) made into an image."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.cli.image.load import file_chunks, stdin_chunks
from corelib.errdefs import WhaleError


def flags(fs: FlagSet) -> None:
    fs.list("change", "c", "Apply Dockerfile instruction to the created image")
    fs.string("message", "m", "Set commit message for imported image")
    fs.string("platform", help="Set platform if server is multi-platform capable", min_api="1.32")


def run_import(cli: Cli, opts: Options, args: list[str]) -> None:
    from corelib.client.cli.jsonmessage import display_stream
    from corelib.client.cli.refs import parse_named

    source = args[0]
    repository = args[1] if len(args) > 1 else ""
    if repository:
        try:
            parse_named(repository)
        except (ValueError, WhaleError) as e:
            raise StatusError(1, str(e)) from None
    f = None
    if source == "-":
        body, from_src = stdin_chunks(cli), "-"
    elif source.startswith(("http://", "https://")):
        body, from_src = None, source
    else:
        try:
            f = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as e:
            raise StatusError(1, f"open {source}: {(e.strerror or str(e)).lower()}") from None
        body, from_src = file_chunks(f), "-"
    try:
        resp = cli.client.import_image(body, from_src, repository, "", opts.message or None, opts.change or None,
                                       opts.platform or None)
        display_stream(resp.iter_json(), cli.out)
    finally:
        if f is not None:
            f.close()


COMMAND = CommandSpec(name="import", use="import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                      short="Import the contents from a tarball to create a filesystem image",
                      run=run_import, flags=flags, args=("range", 1, 2))
