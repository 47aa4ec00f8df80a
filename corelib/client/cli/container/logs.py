"""`whale logs`: the container's json-file log, demultiplexed unless it has a TTY."""

from __future__ import annotations

from corelib.client.cli.command import Cli, CommandSpec
from corelib.client.cli.flags import FlagSet, Options
from corelib.client.cli.timetypes import get_timestamp
from corelib.client.transport.stdcopy import STDERR, Demuxer


def flags(fs: FlagSet) -> None:
    fs.bool("follow", "f", "Follow log output")
    fs.string("since", help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative '
                            '(e.g. "42m" for 42 minutes)')
    fs.string("until", help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative '
                            '(e.g. "42m" for 42 minutes)', min_api="1.35")
    fs.bool("timestamps", "t", "Show timestamps")
    fs.bool("details", help="Show extra details provided to logs")
    fs.string("tail", "n", "Number of lines to show from the end of the logs", default="all")


def run_logs(cli: Cli, opts: Options, args: list[str]) -> None:
    c = cli.client.inspect_container(args[0])
    resp = cli.client.logs(c["Id"], follow=opts.follow, since=get_timestamp(opts.since),
                           until=get_timestamp(opts.until),
                           timestamps=opts.timestamps, tail=opts.tail, details=opts.details)
    copy_output(cli, resp.iter_content(), bool((c.get("Config") or {}).get("Tty")))


def copy_output(cli: Cli, chunks: object, tty: bool) -> None:
    if tty:
        for chunk in chunks:
            cli.out.write(chunk)
        return
    demux = Demuxer()
    for chunk in chunks:
        for stream, payload in demux.feed(chunk):
            (cli.err if stream == STDERR else cli.out).write(payload)


COMMAND = CommandSpec(name="logs", use="logs [OPTIONS] CONTAINER", short="Fetch the logs of a container",
                      run=run_logs, flags=flags, args=("exact", 1))
