"""`whale save`: images as a docker-save tar stream, to a file (written whole, then renamed) or stdout."""

from __future__ import annotations

import os
import tempfile

from corelib.client.cli.command import Cli, CommandSpec, StatusError
from corelib.client.cli.flags import FlagSet, Options


def flags(fs: FlagSet) -> None:
    fs.string("output", "o", "Write to a file, instead of STDOUT")


def run_save(cli: Cli, opts: Options, args: list[str]) -> None:
    if not opts.output and cli.out.is_terminal():
        raise StatusError(1, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if opts.output:
        directory = os.path.dirname(os.path.abspath(opts.output))
        if not os.path.isdir(directory):
            raise StatusError(1, f"failed to save image: invalid output path: directory {directory!r} does not exist")
    resp = cli.client.get_images(args)
    if not opts.output:
        for chunk in resp.iter_content():
            cli.out.write(chunk)
        return
    fd, tmp = tempfile.mkstemp(prefix=".docker_temp_", dir=os.path.dirname(os.path.abspath(opts.output)))
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in resp.iter_content():
                f.write(chunk)
        os.chmod(tmp, 0o644)
        os.replace(tmp, opts.output)
    except BaseException:
        resp.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


COMMAND = CommandSpec(name="save", use="save [OPTIONS] IMAGE [IMAGE...]",
                      short="Save one or more images to a tar archive (streamed to STDOUT by default)",
                      run=run_save, flags=flags, args=("min", 1))
