"""`whale load`: a docker-save (or OCI) archive from a file or stdin, sent as a chunked body."""

from __future__ import annotations

from collections.abc import Iterator

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import FlagSet, Options

CHUNK = 1 << 20


def file_chunks(f: object) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def stdin_chunks(cli: Cli) -> Iterator[bytes]:
    while chunk := cli.in_.read_chunk(CHUNK):
        yield chunk


def flags(fs: FlagSet) -> None:
    fs.string("input", "i", "Read from tar archive file, instead of STDIN")
    fs.bool("quiet", "q", "Suppress the load output")


def run_load(cli: Cli, opts: Options, args: list[str]) -> None:
    from corelib.client.cli.jsonmessage import display_stream

    if not opts.input and cli.in_.is_terminal():
        raise StatusError(1, "requested load from stdin, but stdin is empty")
    quiet = opts.quiet or not cli.out.is_terminal()
    try:
        f = open(opts.input, "rb") if opts.input else None  # noqa: SIM115 - closed below
    except OSError as e:
        raise StatusError(1, f"open {opts.input}: {(e.strerror or str(e)).lower()}") from None
    try:
        resp = cli.client.load_image(file_chunks(f) if f else stdin_chunks(cli), quiet)
        if resp.headers.get("content-type", "").startswith("application/json"):
            display_stream(resp.iter_json(), cli.out)
        else:
            for chunk in resp.iter_content():
                cli.out.write(chunk)
    finally:
        if f is not None:
            f.close()


COMMAND = CommandSpec(name="load", use="load [OPTIONS]", short="Load an image from a tar archive or STDIN",
                      run=run_load, flags=flags, args=("none",))
