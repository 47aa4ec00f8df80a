"""whale's command line: pflag's parsing and errors, docker's usage errors, the parsed Invocation."""

from __future__ import annotations

import pytest

from corelib.client.cli import parse
from corelib.client.cli.command import StatusError
from corelib.client.cli.flags import FlagError, FlagSet


def flagset() -> FlagSet:
    fs = FlagSet(interspersed=False)
    fs.bool("detach", "d")
    fs.bool("interactive", "i", dest="stdin")
    fs.bool("tty", "t")
    fs.list("env", "e")
    fs.string("name")
    fs.int("count", "n")
    return fs


@pytest.mark.parametrize("argv, expected", [
    (["-it", "img"], {"stdin": True, "tty": True}),
    (["-d", "--name", "x", "img"], {"detach": True, "name": "x"}),
    (["--name=x", "img"], {"name": "x"}),
    (["-eA=1", "-e", "B=2", "-e=C=3", "--env", "D", "img"], {"env": ["A=1", "B=2", "C=3", "D"]}),
    (["-n", "0x10", "img"], {"count": 16}),
    (["--detach=false", "img"], {"detach": False}),
    (["-ie", "K=V", "img"], {"stdin": True, "env": ["K=V"]}),
])
def test_flags_as_pflag_reads_them(argv, expected):
    opts, args = flagset().parse(argv)
    assert args == ["img"]
    for key, value in expected.items():
        assert getattr(opts, key) == value


def test_no_flags_after_the_first_argument_when_not_interspersed():
    opts, args = flagset().parse(["-d", "img", "sh", "-c", "--name", "x"])
    assert (opts.detach, opts.name, args) == (True, "", ["img", "sh", "-c", "--name", "x"])
    fs = flagset()
    fs.interspersed = True
    opts, args = fs.parse(["a", "-d", "b", "--", "-i"])
    assert (opts.detach, opts.stdin, args) == (True, False, ["a", "b", "-i"])


@pytest.mark.parametrize("argv, message", [
    (["--foo"], "unknown flag: --foo"),
    (["-z"], "unknown shorthand flag: 'z' in -z"),
    (["-dz"], "unknown shorthand flag: 'z' in -dz"),
    (["--name"], "flag needs an argument: --name"),
    (["-e"], "flag needs an argument: 'e' in -e"),
    (["-n", "x"], 'invalid argument "x" for "-n, --count" flag: strconv.ParseInt: parsing "x": invalid syntax'),
    (["--detach=maybe"], 'invalid argument "maybe" for "-d, --detach" flag: '
                         'strconv.ParseBool: parsing "maybe": invalid syntax'),
])
def test_flag_errors_in_pflag_words(argv, message):
    with pytest.raises(FlagError) as e:
        flagset().parse(argv)
    assert str(e.value) == message


def test_parse_is_pure_and_gives_the_command():
    inv = parse(["-H", "unix:///x.sock", "run", "--rm", "-e", "A=1", "busybox", "echo", "hi"])
    assert (inv.path, inv.host, inv.args) == ("whale run", "unix:///x.sock", ["busybox", "echo", "hi"])
    assert inv.options.rm and inv.options.env == ["A=1"] and "rm" in inv.options.changed
    sub = parse(["container", "ls", "-a"])
    assert (sub.path, sub.spec.name, sub.options.all) == ("whale container ls", "ps", True)


@pytest.mark.parametrize("argv, status, text", [
    (["run", "--foo", "busybox"], 125, "unknown flag: --foo\n\nUsage:  whale run [OPTIONS] IMAGE [COMMAND] [ARG...]"
                                       "\n\nRun 'whale run --help' for more information"),
    (["run"], 1, "whale: 'whale run' requires at least 1 argument\n\nUsage:  whale run [OPTIONS] IMAGE [COMMAND] "
                 "[ARG...]\n\nSee 'whale run --help' for more information"),
    (["logs"], 1, "whale: 'whale logs' requires 1 argument\n\nUsage:  whale logs [OPTIONS] CONTAINER\n\n"
                  "Run 'whale logs --help' for more information"),
    (["ps", "x"], 1, "whale: 'whale ps' accepts no arguments\n\nUsage:  whale ps [OPTIONS]\n\n"
                     "Run 'whale ps --help' for more information"),
    (["bogus"], 1, "whale: unknown command: whale bogus\n\nRun 'whale --help' for more information"),
    (["container", "run", "-m", "1q", "x"], 125, 'invalid argument "1q" for "-m, --memory" flag: invalid size: '
                                                "'1q'\n\nUsage:  whale container run [OPTIONS] IMAGE [COMMAND] [ARG...]"
                                                "\n\nRun 'whale container run --help' for more information"),
])
def test_usage_errors_in_docker_words(argv, status, text):
    with pytest.raises(StatusError) as e:
        parse(argv)
    assert (e.value.status_code, e.value.status) == (status, text)


def test_help_is_text_not_an_exit():
    inv = parse(["run", "--help"])
    assert inv.help_text.startswith("\nUsage:  whale run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run")
    assert "  -d, --detach" in inv.help_text and "      --rm" in inv.help_text
    assert "  -h, --hostname string" in inv.help_text  # -h is the hostname in run, as in docker
    assert parse([]).help_text.startswith("\nUsage:  whale [OPTIONS] COMMAND")
